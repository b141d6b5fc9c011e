import { Redis, type RedisOptions } from 'ioredis';
import type { TargetTls } from '../config/targets';

/**
 * A connection (to a `redis://`/`rediss://` URL, or from ioredis options: a Sentinel group) that never queues
 * commands while disconnected (a node watcher would rather skip a probe than run a stale one later) and keeps
 * reconnecting with capped backoff for as long as lockscope runs.
 */
export function connectRedis(where: string | RedisOptions, name: string, extra: RedisOptions = {}): Redis {
  const options: RedisOptions = { connectionName: `lockscope:${name}`, ...CONNECTION_OPTIONS, ...extra };
  return quiet(typeof where === 'string' ? new Redis(where, options) : new Redis({ ...options, ...where, ...extra }));
}

/** How every connection lockscope opens behaves (see connectRedis). */
export const CONNECTION_OPTIONS = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 3000,
  retryStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2000),
  lazyConnect: true,
} satisfies RedisOptions;

/** Errors surface through ConnectionState and the failing command; an unhandled 'error' would crash. */
export function quiet(redis: Redis): Redis {
  redis.on('error', () => {});
  return redis;
}

/** Database number from a redis:// URL path (`/2` → 2). */
export function dbFromUrl(url: string): number {
  const path = new URL(url).pathname.replace(/^\//, '');
  return path ? Number.parseInt(path, 10) || 0 : 0;
}

/** A target's TLS material (PEM text) as ioredis options; none when there is none (a `rediss://` URL alone: the system's CAs). */
export function tlsOptions(tls?: TargetTls): RedisOptions {
  return tls && Object.keys(tls).length ? { tls: { ...tls } } : {};
}
