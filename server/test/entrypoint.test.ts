import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/redis/embedded-redis';
import { waitFor } from './support/redis';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the real entry point as a user would (`npm start` minus set-up), collecting its output. */
function launch(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, REDIS_URL: '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

async function until(fn: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

describe('entry point', () => {
  it('starts its own Redis, prints both URLs, serves /healthz, and on SIGTERM stops cleanly leaving no Redis behind', async () => {
    const port = await freePort();
    const run = launch(['--port', String(port)]);
    await until(() => /Redis: embedded \(redis:\/\/127\.0\.0\.1:\d+\)/.test(run.output()), 'the start-up lines');
    expect(run.output()).toContain(`dashboard: http://127.0.0.1:${port}`);
    const redisPort = Number(/redis:\/\/127\.0\.0\.1:(\d+)/.exec(run.output())![1]);
    expect(redisPort).not.toBe(6379);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, redis: 'ready', feed: 'notifications' });

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(await accepts(redisPort)).toBe(false);
    expect(await accepts(port)).toBe(false);
  });

  it('starts a new embedded Redis when its redis-server dies, and the locks held in it show as lost', async () => {
    const port = await freePort();
    const run = launch(['--port', String(port)]);
    try {
      await until(() => run.output().includes('dashboard:'), 'the start-up lines');
      const redisPort = Number(/redis:\/\/127\.0\.0\.1:(\d+)/.exec(run.output())![1]);
      const redis = new Redis(redisPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
      redis.on('error', () => {});
      try {
        await redis.set('lock:held-when-redis-died', 'worker-1', 'PX', 60_000);
        const metrics = () => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
        await waitFor(async () => /lockscope_locks\{target="default",library="generic",state="held"\} 1/.test(await metrics()), 'the lock to be tracked');
        const pid = Number(/process_id:(\d+)/.exec(await redis.info('server'))![1]);
        process.kill(pid, 'SIGKILL');
        await until(() => run.output().includes('embedded redis-server running again'), 'the new redis-server');
        expect(run.output()).toContain('the embedded redis-server exited');
        await waitFor(async () => /lockscope_locks_lost_total\{target="default",library="generic"\} 1/.test(await metrics()), 'the lock to show as lost', 10_000);
        const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { redis: string };
        expect(health.redis).toBe('ready');
        expect(await redis.ping()).toBe('PONG'); // on the same port
      } finally {
        redis.disconnect();
      }
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      expect(await accepts(redisPort)).toBe(false);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('refuses a bad setting with a message naming it, and exit code 2', async () => {
    const run = launch([], { POLL_MS: 'often' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/POLL_MS \(--poll-ms\) = "often": must be a number/);
  });

  it('never prints the password of an external Redis, even when it cannot connect', async () => {
    const deadPort = await freePort();
    const port = await freePort();
    const run = launch(['--port', String(port)], { REDIS_URL: `redis://admin:TopSecret99@127.0.0.1:${deadPort}/0` });
    await until(() => run.output().includes('dashboard:'), 'start-up despite Redis being down');
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(503);
    await new Promise((r) => setTimeout(r, 500));
    run.child.kill('SIGTERM');
    await run.exited;
    expect(run.output()).toContain('redis://admin:***@127.0.0.1');
    expect(run.output()).not.toContain('TopSecret99');
  });
});
