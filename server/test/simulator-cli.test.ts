import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimSummary } from '../../shared/simulator';
import { freePort } from '../src/redis/embedded-redis';
import { FLAGS, parseCli } from '../src/simulator/cli-args';
import { startTestRedis, type TestRedis } from './support/redis';

const root = join(import.meta.dirname, '..', '..');

/** Runs `npm run simulate -- <args>` the way a CI job would (through scripts/simulate.mjs). */
function simulate(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'scripts/simulate.mjs'), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run simulate (headless CLI)', () => {
  let redis: TestRedis;
  const { REDIS_URL: _ignored, ...baseEnv } = process.env;

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('--help documents every flag', async () => {
    const { code, stdout } = await simulate(['--help'], baseEnv);
    expect(code).toBe(0);
    for (const flag of Object.keys(FLAGS)) expect(stdout).toContain(`--${flag}`);
    expect(stdout).toContain('500ms, 20s, 2m');
  });

  it('runs against REDIS_URL and prints one JSON summary with the violation counters', async () => {
    await redis.client.set('lock:someone-else', 'untouched');
    const { code, stdout, stderr } = await simulate(
      ['--strategy', 'safe', '--workers', '20', '--resources', '3', '--duration', '1500ms', '--ttl', '300ms', '--pause', '500ms', '--pause-prob', '0.05', '--json', '--stats-interval', '500ms'],
      { ...baseEnv, REDIS_URL: redis.url },
    );
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as SimSummary;
    expect(summary.config).toMatchObject({ strategy: 'safe', workers: 20, resources: 3, durationMs: 1500, ttlMs: 300 });
    expect(summary.endReason).toBe('completed');
    expect(summary.acquisitions).toBeGreaterThan(0);
    expect(summary.violations).toBe(0);
    expect(Object.keys(summary.counters)).toEqual(
      expect.arrayContaining(['overlaps', 'foreignReleases', 'foreignRenewals', 'staleWritesAccepted', 'staleWritesRejected', 'stuckLocksCreated']),
    );
    // Progress goes to stderr, so stdout stays one JSON document.
    expect(stderr).toMatch(/acq\/s/);
    expect(await redis.client.get('lock:someone-else')).toBe('untouched');
  });

  it('without REDIS_URL uses an embedded Redis, and --fail-on-violation fails a run of an unsafe strategy', async () => {
    const { code, stdout } = await simulate(
      ['--strategy', 'setnx-expire', '--workers', '20', '--resources', '2', '--duration', '1500ms', '--ttl', '200ms', '--pause', '400ms', '--pause-prob', '0.2', '--hold', '10ms', '--json', '--quiet', '--fail-on-violation'],
      baseEnv,
    );
    const summary = JSON.parse(stdout) as SimSummary;
    expect(summary.violations).toBeGreaterThan(0);
    expect(code).toBe(1);
  });

  it('refuses bad flags with every problem named, exit code 2', async () => {
    const { code, stderr } = await simulate(['--duration', '20', '--workers', '9999', '--strategy', 'nope'], { ...baseEnv, REDIS_URL: redis.url });
    expect(code).toBe(2);
    expect(stderr).toContain('--duration 20: not a duration');
    expect(stderr).toContain('--workers');
    expect(stderr).toContain('--strategy');
  });

  it('refuses a --prefix outside lockscope:sim: (exit 2, before touching Redis); a run under a name of its own leaves other keys alone', async () => {
    for (const prefix of ['lock:', 'bull:', 'lockscope:', 'lockscope:sim:a:b:', '*']) {
      const parsed = parseCli(['--prefix', prefix], {});
      expect(parsed.kind, prefix).toBe('error');
      expect(parsed.kind === 'error' && parsed.problems).toEqual([expect.stringContaining(`--prefix ${prefix}: refused. The simulator's keys always live under lockscope:sim:`)]);
    }
    expect(parseCli(['--prefix', 'ci-7'], {})).toMatchObject({ kind: 'run', input: { keyPrefix: 'lockscope:sim:ci-7:' } });
    expect(parseCli(['--prefix', 'lockscope:sim:ci-7:'], {})).toMatchObject({ kind: 'run', input: { keyPrefix: 'lockscope:sim:ci-7:' } });

    await redis.client.set('lock:important', 'keep');
    await redis.client.set('bull:jobs:1', 'keep');
    const refused = await simulate(['--prefix', 'lock:', '--duration', '500ms', '--json'], { ...baseEnv, REDIS_URL: redis.url });
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain("--prefix lock:: refused. The simulator's keys always live under lockscope:sim:");
    const { code, stdout } = await simulate(
      ['--prefix', 'ci-7', '--workers', '5', '--resources', '2', '--duration', '800ms', '--json', '--quiet'],
      { ...baseEnv, REDIS_URL: redis.url },
    );
    expect(code).toBe(0);
    const summary = JSON.parse(stdout) as SimSummary;
    expect(summary.config.keyPrefix).toBe('lockscope:sim:ci-7:');
    expect(summary.acquisitions).toBeGreaterThan(0);
    expect(await redis.client.get('lock:important')).toBe('keep');
    expect(await redis.client.get('bull:jobs:1')).toBe('keep');
    await redis.client.del('lock:important', 'bull:jobs:1');
  }, 60_000);

  it('refuses --stats-interval over 1s (live stats at ≥ 1 Hz)', async () => {
    const { code, stderr } = await simulate(['--stats-interval', '5s'], { ...baseEnv, REDIS_URL: redis.url });
    expect(code).toBe(2);
    expect(stderr).toContain('--stats-interval: must be at most 1000 ms');
  });

  it('exits 3 with a clear message, soon, when Redis is down', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const { code, stdout, stderr } = await simulate(['--duration', '2s', '--json'], { ...baseEnv, REDIS_URL: url });
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toContain('simulate: simulator could not start: Redis is unreachable (connect ECONNREFUSED');
    expect(stderr).toContain(`check REDIS_URL / --redis-url (${url})`);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);
});
