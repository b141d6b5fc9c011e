import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, startEmbeddedRedis, type EmbeddedRedis } from '../../server/src/redis/embedded-redis';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface RunningLockscope {
  /** The server's root URL (the dashboard's, unless `BASE_PATH` puts it under a path). */
  url: string;
  redisUrl: string;
  /** A client for seeding and checking Redis from a spec. */
  redis: Redis;
  /** Stops the lockscope process (graceful SIGTERM), leaving Redis up. */
  stopServer(): Promise<void>;
  /** Kills the lockscope process with SIGKILL (no shutdown at all, as a scheduler or the OOM killer would). */
  killServer(): Promise<void>;
  /** What the process printed so far. */
  output(): string;
  /** Stops the private Redis (the server keeps running and reconnecting). */
  stopRedis(): Promise<void>;
  /** Starts the private Redis again on its port after `stopRedis()`: a new, empty server process. */
  startRedisAgain(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * Inspect this Redis instead of starting a private one (e.g. a benchmark's). It is left running by `stop()`;
   * `stopRedis()` does nothing. Keyspace notifications are switched on (`--configure-notifications`).
   */
  redisUrl?: string;
  /** How long to wait for /healthz (the server answers once its first scan is done). Default 20 s. */
  healthTimeoutMs?: number;
  /**
   * What start-up waits for: `healthy` (/healthz says ok: every target can be listed), or `listening` (/healthz
   * answers at all: for a server meant to show a target down or blind). Default `healthy`.
   */
  waitFor?: 'healthy' | 'listening';
}

/**
 * The real thing, as a user runs it: the server entry point as its own process (built client included)
 * against a private redis-server on a free port, or against `options.redisUrl`.
 */
export async function startLockscope(env: Record<string, string> = {}, options: StartOptions = {}): Promise<RunningLockscope> {
  let embedded: EmbeddedRedis | null = options.redisUrl ? null : await startEmbeddedRedis();
  const redisUrl = options.redisUrl ?? embedded!.url;
  const external = options.redisUrl ? { CONFIGURE_NOTIFICATIONS: 'true' } : {};
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redisUrl, LOG_LEVEL: 'warn', ...external, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  // Under BASE_PATH everything is, /healthz included.
  await waitForHealthy(`${url}${(env.BASE_PATH ?? '').replace(/\/$/, '')}`, child, () => output, options.healthTimeoutMs ?? 20_000, options.waitFor ?? 'healthy');
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const stopServer = () => stopProcess(child);
  return {
    url,
    redisUrl,
    redis,
    stopServer,
    killServer: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    output: () => output,
    stopRedis: async () => embedded?.stop(),
    async startRedisAgain() {
      if (embedded) embedded = await startEmbeddedRedis({ port: embedded.port });
    },
    async stop() {
      redis.disconnect();
      await stopServer();
      await embedded?.stop();
    },
  };
}

async function waitForHealthy(url: string, child: ChildProcess, output: () => string, timeoutMs: number, until: 'healthy' | 'listening'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`lockscope exited during start-up:\n${output()}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok || until === 'listening') return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`lockscope did not become healthy within ${timeoutMs / 1000} s:\n${output()}`);
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
