import { Redis } from 'ioredis';
import { startEmbeddedRedis, type EmbeddedRedis, type EmbeddedRedisOptions } from '../../src/redis/embedded-redis';

/** A private redis-server for one suite (free loopback port, never 6379) plus a client to seed it. */
export interface TestRedis extends EmbeddedRedis {
  client: Redis;
  /** Another client of this server (a library's own connection), disconnected when the server stops. */
  connection(): Redis;
}

export async function startTestRedis(options: EmbeddedRedisOptions = {}): Promise<TestRedis> {
  const server = await startEmbeddedRedis(options);
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  const others: Redis[] = [];
  return {
    ...server,
    client,
    connection() {
      const c = new Redis(server.url);
      others.push(c);
      return c;
    },
    async stop() {
      client.disconnect();
      for (const c of others) c.disconnect();
      await server.stop();
    },
  };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
