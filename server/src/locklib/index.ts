/**
 * lockscope's Redis lock library. Standalone: depends on ioredis only.
 *
 * ```ts
 * const locks = createLockClient(redis, { fencing: true });
 * await locks.withLock('lock:orders:42', { ttlMs: 10_000, waitMs: 5_000 }, async (signal, lock) => {
 *   await store.write(order, { fence: lock.fence, signal });
 * });
 *
 * // A leader lease (several processes, one holder at a time, a fencing term that only goes up):
 * const lease = new Lease(locks, 'lockscope:state:{app}:lease', { holder: 'web-1', ttlMs: 5_000 });
 * lease.on('elected', (term) => lead(term.term, term.signal)).start();
 * ```
 */
export { createLockClient, defaultFenceKey, Lock, LockClient, newToken, TOKEN_PREFIX } from './lock';
export type { AcquireOptions, LockClientOptions, Timers, WithLockOptions } from './lock';
export { Lease } from './lease';
export type { LeaseEvents, LeaseOptions, LeaseRecord, LeaseTerm } from './lease';
export { LockError, LockLostError, LockNotAcquiredError, NotOwnerError, RedisUnavailableError } from './errors';
export type { ReleaseMode } from './scripts';
