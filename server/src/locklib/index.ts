/**
 * lockscope's Redis lock library. Standalone: depends on ioredis only.
 *
 * ```ts
 * const locks = createLockClient(redis, { fencing: true });
 * await locks.withLock('lock:orders:42', { ttlMs: 10_000, waitMs: 5_000 }, async (signal, lock) => {
 *   await store.write(order, { fence: lock.fence, signal });
 * });
 * ```
 */
export { createLockClient, defaultFenceKey, Lock, LockClient, newToken, TOKEN_PREFIX } from './lock';
export type { AcquireOptions, LockClientOptions, Timers, WithLockOptions } from './lock';
export { LockError, LockLostError, LockNotAcquiredError, NotOwnerError, RedisUnavailableError } from './errors';
export type { ReleaseMode } from './scripts';
