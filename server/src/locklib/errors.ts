/**
 * Typed failures of the lock library. Every error is a `LockError` with a stable `code`, so callers can
 * branch with `instanceof` or on `code` (e.g. to map to a `Result` error code on the wire).
 */
export abstract class LockError extends Error {
  abstract readonly code: 'not_acquired' | 'lock_lost' | 'not_owner' | 'redis_unavailable';
  /** The lock key the failure is about. */
  readonly key: string;

  protected constructor(key: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.key = key;
    this.name = new.target.name;
  }
}

/** Someone else held the lock for the whole `waitMs`. */
export class LockNotAcquiredError extends LockError {
  readonly code = 'not_acquired';
  constructor(
    key: string,
    /** How long acquire() waited in total (ms). */
    readonly waitedMs: number,
    /** How many times it tried `SET NX`. */
    readonly attempts: number,
  ) {
    super(key, `lock "${key}" is held by another owner; not acquired within ${waitedMs} ms (${attempts} attempts)`);
  }
}

/**
 * The lock stopped being ours while we relied on it: its TTL ran out before a renewal succeeded (Redis slow
 * or unreachable, or the process was paused), or a renewal found another owner (or none) in the key.
 */
export class LockLostError extends LockError {
  readonly code = 'lock_lost';
  constructor(
    key: string,
    /** Epoch ms (local clock) from which the lock can no longer be trusted. */
    readonly lostAt: number,
    /** `gone`: a renewal found the key missing (it expired, or Redis lost its data), held by nobody. */
    readonly reason: 'expired' | 'taken' | 'gone',
    options?: { cause?: unknown },
  ) {
    super(
      key,
      reason === 'expired'
        ? `lock "${key}" expired before it could be renewed`
        : reason === 'gone'
          ? `lock "${key}" was lost: the key is gone`
          : `lock "${key}" was lost: the key no longer holds this owner's token`,
      options,
    );
  }
}

/**
 * release()/extend() found the key gone, holding another owner's token, or holding another kind of data (a hash,
 * a list…: Redis answered WRONGTYPE): nothing was changed.
 */
export class NotOwnerError extends LockError {
  readonly code = 'not_owner';
  constructor(
    key: string,
    readonly operation: 'release' | 'extend',
    /** True when the key holds a value that is not a string (so it cannot be a lock token at all). */
    readonly wrongType = false,
  ) {
    super(
      key,
      wrongType
        ? `cannot ${operation} lock "${key}": the key holds another kind of data, not this owner's token (nothing changed)`
        : `cannot ${operation} lock "${key}": it is no longer held by this owner (it expired or another owner took it)`,
    );
  }
}

/** Redis did not answer within the command timeout, or the connection is closed. Never hangs. */
export class RedisUnavailableError extends LockError {
  readonly code = 'redis_unavailable';
  constructor(key: string, operation: string, detail: string, options?: { cause?: unknown }) {
    super(key, `Redis unavailable during ${operation} of lock "${key}": ${detail}`, options);
  }
}
