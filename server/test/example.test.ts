import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/redis/embedded-redis';
import { LiveClient } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/**
 * examples/express/server.ts as a user runs it (its own process, through tsx, `lockscope` resolved to the source by
 * examples/tsconfig.json): an Express app with its own route and lockscope mounted at /locks.
 */
describe('examples/express: an Express app of its own with lockscope mounted at /locks', () => {
  let redis: TestRedis;
  let child: ChildProcess | null = null;
  let output = '';

  beforeAll(async () => {
    // The dashboard it serves is the built one (npm test builds it first; build it when run alone).
    if (!existsSync(join(root, 'client', 'dist', 'index.html'))) {
      await run(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'client/vite.config.ts', '--logLevel', 'warn'], { cwd: root });
    }
    redis = await startTestRedis();
  }, 120_000);
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await redis?.stop();
  });

  it('starts; its own route, the dashboard, API, /healthz, /metrics and Socket.IO under /locks answer; SIGTERM closes everything', async () => {
    await redis.client.set('lock:example:invoice-7', 'worker-3', 'PX', 60_000);
    const port = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', join('examples', 'express', 'server.ts')], {
      cwd: root,
      env: { ...process.env, PORT: String(port), REDIS_URL: redis.url, TSX_TSCONFIG_PATH: join('examples', 'tsconfig.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const url = await waitFor(() => {
      if (child!.exitCode !== null) throw new Error(`the example exited (${child!.exitCode}):\n${output}`);
      return /example app on (http:\/\/[\d.]+:\d+)/.exec(output)?.[1];
    }, 'the example to listen', 20_000);

    expect(await (await fetch(`${url}/api/orders`)).json()).toEqual({ orders: [{ id: 42, status: 'paid' }] });
    expect((await fetch(`${url}/locks`, { redirect: 'manual' })).headers.get('location')).toBe('/locks/');
    const page = await fetch(`${url}/locks/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script, html).toBeDefined();
    expect((await fetch(`${url}/locks/${script}`)).status).toBe(200);
    expect(await (await fetch(`${url}/locks/api/session`)).json()).toMatchObject({ ok: true, data: { admin: 'read-only', mode: 'read-only' } });
    expect((await fetch(`${url}/locks/healthz`)).status).toBe(200);
    expect(await (await fetch(`${url}/locks/metrics`)).text()).toContain('lockscope_locks{');
    const live = await LiveClient.connect(url, { path: '/locks/socket.io' });
    expect(live.byKey('lock:example:invoice-7')?.owner?.text).toBe('worker-3');
    live.socket.disconnect();

    // The example has no process.exit(): it ends only when lockscope and its server leave nothing open.
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      child!.once('exit', (c) => resolve(c));
      child!.kill('SIGTERM');
    });
    expect(code, output).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 60_000);
});
