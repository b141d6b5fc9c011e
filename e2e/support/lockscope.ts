import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, startEmbeddedRedis, type EmbeddedRedis } from '../../server/src/redis/embedded-redis';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface RunningLockscope {
  /** Dashboard URL. */
  url: string;
  redisUrl: string;
  /** A client for seeding and checking Redis from a spec. */
  redis: Redis;
  /** Stops the lockscope process (graceful SIGTERM), leaving Redis up. */
  stopServer(): Promise<void>;
  /** Stops the private Redis (the server keeps running and reconnecting). */
  stopRedis(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The real thing, as a user runs it: the server entry point as its own process (built client included)
 * against a private redis-server on a free port.
 */
export async function startLockscope(env: Record<string, string> = {}): Promise<RunningLockscope> {
  const embedded: EmbeddedRedis = await startEmbeddedRedis();
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', REDIS_URL: embedded.url, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitForHealthy(url, child, () => output);
  const redis = new Redis(embedded.url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const stopServer = () => stopProcess(child);
  return {
    url,
    redisUrl: embedded.url,
    redis,
    stopServer,
    stopRedis: () => embedded.stop(),
    async stop() {
      redis.disconnect();
      await stopServer();
      await embedded.stop();
    },
  };
}

async function waitForHealthy(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`lockscope exited during start-up:\n${output()}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`lockscope did not become healthy within 20 s:\n${output()}`);
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
