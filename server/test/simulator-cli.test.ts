import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimSummary } from '../../shared/simulator';
import { FLAGS } from '../src/simulator/cli-args';
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
});
