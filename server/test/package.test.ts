import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/redis/embedded-redis';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

/**
 * The published command as a user gets it: `npm pack`, `npm install <tarball>` into an empty folder (from the npm
 * registry, as a user would), then `node_modules/.bin/lockscope` serving the dashboard against a real Redis, and
 * against the redis-server it starts itself; and the package as a library (`import { createLockscope } from
 * 'lockscope'`), run and type-checked.
 */
describe('the lockscope command, packed and installed into an empty folder', () => {
  let dir: string;
  let bin: string;
  let redis: TestRedis;
  const running: ChildProcess[] = [];

  beforeAll(async () => {
    // The tarball holds the built client and server: build what `npm pack`'s prepack would (the client only when
    // missing, so that a build running under other tests is not replaced).
    if (!existsSync(join(root, 'client', 'dist', 'index.html'))) await run('npm', ['run', '-s', 'build'], { cwd: root });
    else await run(process.execPath, [join(root, 'scripts', 'build-server.mjs')], { cwd: root });
    dir = mkdtempSync(join(tmpdir(), 'lockscope-pack-'));
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    const app = join(dir, 'app');
    mkdirSync(app);
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tarball)], { cwd: app, timeout: 240_000 });
    bin = join(app, 'node_modules', '.bin', 'lockscope');
    redis = await startTestRedis();
  }, 300_000);
  afterAll(async () => {
    for (const child of running) await stop(child);
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the installed command; resolves with its dashboard URL once it prints it. */
  async function start(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string }> {
    const child = spawn(bin, args, { cwd: dir, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.push(child);
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const url = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`lockscope exited (${child.exitCode}):\n${output}`);
      return /dashboard: (http:\/\/\S+)/.exec(output)?.[1];
    }, 'the dashboard URL', 20_000);
    return { child, url, output: () => output };
  }

  it('answers --version and --help', async () => {
    expect((await run(bin, ['--version'])).stdout.trim()).toBe(version);
    const help = (await run(bin, ['--help'])).stdout;
    expect(help).toContain('Usage: lockscope [flags]');
    expect(help).toContain('--redis-url');
  });

  it('serves the dashboard (compressed assets), /healthz and the API against --redis-url, and stops on SIGTERM', async () => {
    const { child, url } = await start(['--port', String(await freePort()), '--redis-url', redis.url]);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<div id="root"></div>');
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${url}/${script}`, { headers: { 'accept-encoding': 'br' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-encoding')).toBe('br');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, redis: 'ready', version });
    expect(((await (await fetch(`${url}/api/openapi.json`)).json()) as { info: object }).info).toMatchObject({ version });
    expect(await stop(child)).toBe(0);
  });

  it('is importable as a library: examples/express runs against the installed package, and its types check', async () => {
    // The example as a user copies it: `lockscope` is now the installed package (index.js, index.d.ts).
    const example = join(dir, 'app', 'server.mjs');
    await build({ entryPoints: [join(root, 'examples', 'express', 'server.ts')], outfile: example, format: 'esm', platform: 'node', logLevel: 'warning' });
    const child = spawn(process.execPath, [example], {
      cwd: join(dir, 'app'),
      env: { ...process.env, PORT: String(await freePort()), REDIS_URL: redis.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(child);
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const url = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`the example exited (${child.exitCode}):\n${output}`);
      return /example app on (http:\/\/[\d.]+:\d+)/.exec(output)?.[1];
    }, 'the example to listen', 20_000);
    expect(await (await fetch(`${url}/api/orders`)).json()).toMatchObject({ orders: [{ id: 42 }] });
    expect(await (await fetch(`${url}/locks/`)).text()).toContain('<div id="root"></div>');
    expect(await (await fetch(`${url}/locks/healthz`)).json()).toMatchObject({ ok: true, version });
    expect(await stop(child)).toBe(0);

    // A TypeScript consumer resolving `lockscope` as Node does (exports, types condition), against the installed
    // dependencies' own types, with the declarations themselves checked (no skipLibCheck).
    writeFileSync(
      join(dir, 'app', 'consumer.mts'),
      [
        "import { createServer } from 'node:http';",
        "import { createLockscope, LockscopeOptionsError, type Lockscope, type LockscopeOptions, type TargetConfig } from 'lockscope';",
        "const targets: TargetConfig[] = [{ kind: 'url', name: 'prod', url: 'redis://127.0.0.1:6379' }];",
        "const options: LockscopeOptions = { redis: targets, basePath: '/locks', auth: { token: 'x'.repeat(16) }, trustProxy: ['loopback'] };",
        'const ls: Lockscope = await createLockscope(options);',
        'const server = createServer((req, res) => ls.router(req, res, () => res.end()));',
        'ls.attach(server);',
        "const health: string | undefined = ls.status().targets[0]?.health;",
        'export { health, LockscopeOptionsError };',
        'await ls.close();',
      ].join('\n'),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(root, 'node_modules', '@types'), 'consumer.mts'];
    // Fails with the compiler's messages when the types do not resolve or do not check.
    await run(process.execPath, [tsc, ...args], { cwd: join(dir, 'app') }).catch((err: { stdout?: string }) => {
      throw new Error(`tsc: ${err.stdout ?? String(err)}`);
    });
  }, 60_000);

  it('without --redis-url starts its own redis-server, and stops it on exit', async () => {
    const { child, url, output } = await start(['--port', String(await freePort())]);
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ ok: true, redis: 'ready' });
    const port = Number(/Redis: embedded \(redis:\/\/127\.0\.0\.1:(\d+)\)/.exec(output())?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(await listening(port)).toBe(true);
    expect(await stop(child)).toBe(0);
    await waitFor(async () => !(await listening(port)), 'the embedded redis-server to stop');
  });
});

function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
