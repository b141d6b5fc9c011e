import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

export interface EmbeddedRedis {
  url: string;
  port: number;
  /** Stops the server and waits for the process to exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Resolves when the server has exited, stopped or not (its exit code; null when killed by a signal). */
  exited: Promise<number | null>;
}

export interface EmbeddedRedisOptions {
  /** Extra `redis-server` arguments, e.g. `['--notify-keyspace-events', '']`. */
  args?: string[];
  /** Fixed port (tests use it to restart a server on the same port); default: a free loopback port. */
  port?: number;
}

export function findRedisServer(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    const candidate = join(dir, 'redis-server');
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/*
 * A child runs under a tiny shell supervisor that kills it when our stdin pipe closes. The pipe closes when we
 * call stop() *and* when this process dies in any way (even SIGKILL), so no private Redis (or any other
 * supervised helper) is ever left behind as an orphan. Background jobs of a non-interactive sh read /dev/null,
 * hence the pipe on fd 3.
 */
const SUPERVISOR = 'exec 3<&0; "$@" & p=$!; (cat <&3 >/dev/null; kill $p 2>/dev/null) & exec 3<&-; wait $p';

/** A process started by `spawnSupervised`. */
export interface SupervisedProcess {
  /** The supervising shell (not the program itself: its pid is the shell's). */
  child: ChildProcess;
  /** Resolves when the program has exited (the shell's exit code; null when the shell was killed by a signal). */
  exited: Promise<number | null>;
  /** The last 4,000 characters the program printed (stdout and stderr), for error messages. */
  output(): string;
  /** SIGTERM to the program (by closing the supervisor's stdin), SIGKILL to the shell after 5 s; resolves on exit. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts `command args` under the supervisor above: it dies with this process, however this process ends. */
export function spawnSupervised(command: string, args: string[]): SupervisedProcess {
  const child = spawn('/bin/sh', ['-c', SUPERVISOR, 'supervisor', command, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  // Once the program is gone (killed from outside, crashed), close the pipe too, so the watcher half of the
  // supervisor ends now rather than at our exit, when its `kill` could hit a recycled pid.
  child.once('exit', () => child.stdin?.end());
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stopping: Promise<void> | undefined;
  return { child, exited, output: () => output, stop: () => (stopping ??= stopChild(child, exited)) };
}

/**
 * Starts a private redis-server on loopback: no persistence, keyspace notifications on, never port 6379.
 * Retries on another port if the chosen one was taken in the meantime.
 */
export async function startEmbeddedRedis(options: EmbeddedRedisOptions = {}): Promise<EmbeddedRedis> {
  const binary = findRedisServer();
  if (!binary) {
    throw new Error('redis-server is not installed: install it (Debian: apt-get install redis-server), or point lockscope at your Redis with --redis-url (REDIS_URL).');
  }
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = options.port ?? (await freePort());
    if (port === 6379) continue;
    try {
      return await launch(binary, port, options.args ?? []);
    } catch (err) {
      lastError = err as Error;
      if (options.port) break;
    }
  }
  throw lastError ?? new Error('could not start redis-server');
}

async function launch(binary: string, port: number, extraArgs: string[]): Promise<EmbeddedRedis> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--notify-keyspace-events', 'Kg$xhze',
    '--protected-mode', 'yes',
    '--loglevel', 'warning',
    '--logfile', '',
    ...extraArgs,
  ];
  const server = spawnSupervised(binary, args);
  try {
    await waitForRedis({ host: '127.0.0.1', port }, server);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop: server.stop, exited: server.exited };
}

/**
 * Resolves once a server started as `server` answers PING over `options` (host, port, and any password or TLS
 * settings it needs); throws, with the last line it printed, when it exits first or is not up within `timeoutMs`.
 */
export async function waitForRedis(
  options: RedisOptions,
  server: Pick<SupervisedProcess, 'exited' | 'output'>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const lastLine = () => server.output().trim().split('\n').pop() ?? '';
  let dead = false;
  void server.exited.then(() => (dead = true));
  while (Date.now() < deadline) {
    if (dead) throw new Error(`redis-server exited during start-up: ${lastLine()}`);
    const probe = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      probe.disconnect();
    }
  }
  throw new Error(`redis-server did not become ready within ${timeoutMs / 1000} s: ${lastLine()}`);
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
