import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LockError, LockLostError, LockNotAcquiredError, NotOwnerError, RedisUnavailableError } from './errors';
import { detectReleaseMode, lockCommands, type ReleaseMode } from './scripts';

/**
 * lockscope's own Redis lock: `SET key <token> NX PX ttl` to take it, owner-checked scripts (or DELEX /
 * DELIFEQ) to release and extend it, an optional fencing token, and `withLock` with a watchdog.
 * Depends on ioredis only; no Express, no Socket.IO.
 *
 * Tokens are `ls1:<32 lowercase hex>` (16 random bytes) so lockscope's inspector recognises its own locks.
 * The fencing counter of a lock key `K` is the Redis key `fence:{K}` (configurable): an INCR counter without
 * TTL by default, incremented in the same Lua call that takes the lock, so tokens are strictly increasing per
 * key for as long as that counter exists.
 */

/** Timer functions the library uses for waits, the watchdog and the validity deadline (default: Node's). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface LockClientOptions {
  /** Longest a single Redis call may take before it fails with RedisUnavailableError (ms, default 2000). */
  commandTimeoutMs?: number;
  /** Draw a fencing token on every acquire unless the acquire says otherwise (default false). */
  fencing?: boolean;
  /** Name of the fencing counter of a lock key (default `fence:{<key>}`). */
  fenceKey?: (key: string) => string;
  /**
   * TTL given to the fencing counter on every acquire (ms), or 0 for none (default). With a TTL the counter
   * restarts after that long without acquisitions, so tokens only increase within such a window.
   */
  fenceTtlMs?: number;
  /**
   * Fraction of the TTL assumed lost to clock drift between this process and Redis (default 0.01; plus 2 ms).
   * The lock is trusted until `sent + ttl − drift`, measured from when the acquire/extend was *sent*.
   */
  clockDriftFactor?: number;
  /** Force a release mode instead of detecting it (tests, proxies that hide COMMAND). */
  releaseMode?: ReleaseMode;
  timers?: Timers;
}

export interface AcquireOptions {
  /** Lock lifetime in Redis (ms, default 30 000). */
  ttlMs?: number;
  /** How long to keep trying while someone else holds it (ms, default 0 = one attempt). */
  waitMs?: number;
  /** Pause between attempts (ms, default 100). */
  retryDelayMs?: number;
  /** Randomises each pause to retryDelayMs × (1 ± jitter); a fraction 0–1 (default 0.2). */
  jitter?: number;
  /** Aborting stops waiting; acquire() then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Draw a fencing token (default: the client's `fencing`). */
  fencing?: boolean;
}

export interface WithLockOptions extends AcquireOptions {
  /** Watchdog cadence (ms, default a third of the TTL). Each tick extends the lock to the full TTL. */
  renewEveryMs?: number;
}

export const TOKEN_PREFIX = 'ls1:';
const DEFAULTS = { ttlMs: 30_000, waitMs: 0, retryDelayMs: 100, jitter: 0.2, commandTimeoutMs: 2000, clockDriftFactor: 0.01 };
const nodeTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** A fresh owner token: `ls1:` + 16 random bytes as 32 lowercase hex characters. */
const TOKEN_BYTES = 16;
const POOL_TOKENS = 256;
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** A fresh owner token: `ls1:` + 16 random bytes as 32 lowercase hex characters (CSPRNG, drawn in batches). */
export function newToken(): string {
  if (poolOffset >= pool.length) {
    pool = randomBytes(TOKEN_BYTES * POOL_TOKENS);
    poolOffset = 0;
  }
  const token = TOKEN_PREFIX + pool.toString('hex', poolOffset, poolOffset + TOKEN_BYTES);
  poolOffset += TOKEN_BYTES;
  return token;
}

export function defaultFenceKey(key: string): string {
  return `fence:{${key}}`;
}

/** A held lock. Valid (by our clock) until `validUntil`; check `isValid()` before acting on the resource. */
export class Lock {
  /** When acquire() got the lock (epoch ms). */
  readonly acquiredAt: number;
  /**
   * Until when (epoch ms, local clock) the lock is certainly ours: when the last successful acquire/extend was
   * sent, plus the TTL, minus drift. Redis drops the key no earlier than this.
   */
  validUntil: number;

  /** @internal use LockClient.acquire() or LockClient.handle() */
  constructor(
    private readonly client: LockClient,
    readonly key: string,
    /** The owner token stored in the key (`ls1:<hex>`). */
    readonly token: string,
    /** Fencing token: strictly increasing per key; pass it to the protected resource. Null without fencing. */
    readonly fence: number | null,
    /** TTL used by acquire and by extend() without an argument (ms). */
    public ttlMs: number,
    validUntil: number,
  ) {
    this.acquiredAt = client.now();
    this.validUntil = validUntil;
  }

  /** True while `now` is before `validUntil`. */
  isValid(now: number = this.client.now()): boolean {
    return now < this.validUntil;
  }

  /** Resets the TTL to `ttlMs` if the key still holds our token; NotOwnerError otherwise. */
  async extend(ttlMs: number = this.ttlMs): Promise<void> {
    positive('ttlMs', ttlMs);
    const sentAt = this.client.now();
    const done = await this.client.call('extend', this.key, (r) => lockCommands(r).lockscopeExtend(this.key, this.token, ttlMs));
    if (done !== 1) throw new NotOwnerError(this.key, 'extend');
    this.ttlMs = ttlMs;
    this.validUntil = Math.max(this.validUntil, sentAt + ttlMs - this.client.drift(ttlMs));
  }

  /** Deletes the key if it still holds our token; NotOwnerError otherwise (nothing is deleted). */
  async release(): Promise<void> {
    const done = await this.client.releaseToken(this.key, this.token);
    this.validUntil = Math.min(this.validUntil, this.client.now());
    if (!done) throw new NotOwnerError(this.key, 'release');
  }
}

export class LockClient {
  private releaseMode: Promise<ReleaseMode> | null;
  /** The settled release mode, once known (saves an await per release). */
  private knownReleaseMode: ReleaseMode | null = null;
  private readonly timers: Timers;
  private readonly commandTimeoutMs: number;
  /** Calls in flight and their deadlines; one timer sweeps them (no timer per call). */
  private readonly inFlight = new Set<{ deadline: number; fail: () => void }>();
  private sweepTimer: unknown = null;

  constructor(
    /** Commands go over this connection; the caller owns it (the client never closes it). */
    readonly redis: Redis,
    private readonly options: LockClientOptions = {},
  ) {
    this.timers = options.timers ?? nodeTimers;
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs;
    positive('commandTimeoutMs', this.commandTimeoutMs);
    this.releaseMode = options.releaseMode ? Promise.resolve(options.releaseMode) : null;
    this.knownReleaseMode = options.releaseMode ?? null;
  }

  /** @internal */
  now(): number {
    return Date.now();
  }

  /** @internal */
  drift(ttlMs: number): number {
    return Math.floor(ttlMs * (this.options.clockDriftFactor ?? DEFAULTS.clockDriftFactor)) + 2;
  }

  /** Which owner-checked delete release() uses on this server. */
  capabilities(): Promise<{ release: ReleaseMode }> {
    return this.detectReleaseMode().then((release) => ({ release }));
  }

  /** The fencing counter's key for a lock key. */
  fenceKey(key: string): string {
    return (this.options.fenceKey ?? defaultFenceKey)(key);
  }

  /** A handle for a lock taken elsewhere (e.g. by another process that passed on its token), to extend or release it. */
  handle(key: string, token: string, ttlMs: number = DEFAULTS.ttlMs): Lock {
    return new Lock(this, key, token, null, ttlMs, 0);
  }

  /**
   * Takes the lock, trying until `waitMs` has passed. Rejects with LockNotAcquiredError when it stays held,
   * RedisUnavailableError when Redis does not answer in time (no retry: the caller decides), or the signal's
   * reason when aborted.
   */
  async acquire(key: string, options: AcquireOptions = {}): Promise<Lock> {
    const ttlMs = options.ttlMs ?? DEFAULTS.ttlMs;
    const waitMs = options.waitMs ?? DEFAULTS.waitMs;
    const retryDelayMs = options.retryDelayMs ?? DEFAULTS.retryDelayMs;
    const jitter = Math.min(1, Math.max(0, options.jitter ?? DEFAULTS.jitter));
    const fencing = options.fencing ?? this.options.fencing ?? false;
    positive('ttlMs', ttlMs);
    positive('retryDelayMs', retryDelayMs);
    if (!(waitMs >= 0)) throw new RangeError(`waitMs must be ≥ 0, got ${waitMs}`);
    if (ttlMs <= this.drift(ttlMs)) throw new RangeError(`ttlMs ${ttlMs} is too short to be valid after clock drift`);

    const started = this.now();
    const deadline = started + waitMs;
    let attempts = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      attempts++;
      const token = newToken();
      const sentAt = this.now();
      let fence: number | null = null;
      let got: boolean;
      if (fencing) {
        const fenceKey = this.fenceKey(key);
        const fenceTtl = this.options.fenceTtlMs ?? 0;
        const reply = await this.call('acquire', key, (r) => lockCommands(r).lockscopeAcquireFenced(key, fenceKey, token, ttlMs, fenceTtl), token);
        got = reply !== null;
        fence = reply;
      } else {
        got = (await this.call('acquire', key, (r) => r.set(key, token, 'PX', ttlMs, 'NX'), token)) === 'OK';
      }
      if (got) {
        const validUntil = sentAt + ttlMs - this.drift(ttlMs);
        if (this.now() < validUntil) return new Lock(this, key, token, fence, ttlMs, validUntil);
        // The reply came back too late to use the lock safely: give it back and treat it as not acquired.
        void this.releaseToken(key, token).catch(() => {});
      }
      const now = this.now();
      if (now >= deadline) throw new LockNotAcquiredError(key, now - started, attempts);
      const pause = retryDelayMs * (1 + jitter * (2 * Math.random() - 1));
      await this.sleep(Math.max(1, Math.min(pause, deadline - now)), options.signal);
    }
  }

  /**
   * Runs `fn` while holding the lock. A watchdog extends it every `renewEveryMs` (default TTL/3). `fn`'s
   * signal aborts (with a LockLostError) the moment the lock can no longer be trusted: a renewal found
   * another owner, or the validity deadline passed without a successful renewal. The lock is always released.
   *
   * Resolves with fn's result; rejects with fn's error if it threw, else with LockLostError if the lock was lost
   * while fn ran (fn's result is then not trustworthy), else with the release failure if there was one.
   */
  async withLock<T>(
    key: string,
    options: WithLockOptions,
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
  ): Promise<T> {
    const lock = await this.acquire(key, options);
    const renewEvery = options.renewEveryMs ?? Math.max(1, Math.floor(lock.ttlMs / 3));
    positive('renewEveryMs', renewEvery);
    const controller = new AbortController();
    let lost: LockLostError | null = null;
    let finished = false;
    let expiryTimer: unknown = null;
    let renewTimer: unknown = null;
    const clear = () => {
      if (expiryTimer !== null) this.timers.clearTimeout(expiryTimer);
      if (renewTimer !== null) this.timers.clearTimeout(renewTimer);
      expiryTimer = renewTimer = null;
    };
    const markLost = (error: LockLostError) => {
      if (lost || finished) return;
      lost = error;
      clear();
      controller.abort(error);
    };
    const armExpiry = () => {
      if (expiryTimer !== null) this.timers.clearTimeout(expiryTimer);
      expiryTimer = this.timers.setTimeout(
        () => markLost(new LockLostError(key, lock.validUntil, 'expired')),
        Math.max(0, lock.validUntil - this.now()),
      );
    };
    const renew = async () => {
      renewTimer = null;
      if (finished || lost) return;
      try {
        await lock.extend();
        if (!finished && !lost) armExpiry();
      } catch (err) {
        if (err instanceof NotOwnerError) markLost(new LockLostError(key, Math.min(this.now(), lock.validUntil), 'taken'));
        // Redis slow or unreachable: try again next tick; the expiry timer fires if it never comes back in time.
      }
      if (!finished && !lost) renewTimer = this.timers.setTimeout(() => void renew(), renewEvery);
    };
    const onCallerAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onCallerAbort, { once: true });
    armExpiry();
    renewTimer = this.timers.setTimeout(() => void renew(), renewEvery);

    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await fn(controller.signal, lock) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    finished = true;
    clear();
    options.signal?.removeEventListener('abort', onCallerAbort);
    let releaseError: unknown = null;
    try {
      await lock.release();
    } catch (err) {
      if (err instanceof NotOwnerError) lost ??= new LockLostError(key, Math.min(this.now(), lock.validUntil), 'taken');
      else releaseError = err;
    }
    if (!outcome.ok) throw outcome.error;
    if (lost) throw lost;
    if (releaseError) throw releaseError;
    return outcome.value;
  }

  /** @internal Owner-checked delete; true when our lock was deleted. */
  async releaseToken(key: string, token: string): Promise<boolean> {
    let mode = this.knownReleaseMode ?? (await this.detectReleaseMode());
    const run = (m: ReleaseMode) =>
      this.call('release', key, (r) => {
        if (m === 'delex') return r.call('DELEX', key, 'IFEQ', token) as Promise<number>;
        if (m === 'delifeq') return r.call('DELIFEQ', key, token) as Promise<number>;
        return lockCommands(r).lockscopeRelease(key, token);
      });
    try {
      return (await run(mode)) === 1;
    } catch (err) {
      // A server that advertised the command but refuses it (e.g. a proxy): fall back to Lua for good.
      if (mode === 'lua' || !(err instanceof Error) || err.name !== 'ReplyError') throw err;
      mode = 'lua';
      this.releaseMode = Promise.resolve(mode);
      this.knownReleaseMode = mode;
      return (await run(mode)) === 1;
    }
  }

  /**
   * @internal Runs one Redis call with a deadline. Connection problems and timeouts become
   * RedisUnavailableError; Redis's own error replies pass through unchanged. When an acquire times out its SET
   * may still run later, so a release of its token is queued behind it.
   */
  async call<T>(operation: string, key: string, run: (redis: Redis) => Promise<T>, tokenToUndo?: string): Promise<T> {
    const entry = { deadline: this.now() + this.commandTimeoutMs, fail: () => {} };
    try {
      return await new Promise<T>((resolve, reject) => {
        entry.fail = () => reject(new RedisUnavailableError(key, operation, `no reply within ${this.commandTimeoutMs} ms`));
        this.inFlight.add(entry);
        this.armSweep();
        run(this.redis).then(resolve, reject);
      });
    } catch (err) {
      if (err instanceof LockError) {
        if (tokenToUndo) void this.releaseToken(key, tokenToUndo).catch(() => {});
        throw err;
      }
      if (err instanceof Error && err.name === 'ReplyError') throw err;
      throw new RedisUnavailableError(key, operation, err instanceof Error ? err.message : String(err), { cause: err });
    } finally {
      this.inFlight.delete(entry);
    }
  }

  /** Fails overdue calls. Armed while calls are in flight; at most one timer per client. */
  private armSweep(): void {
    if (this.sweepTimer !== null) return;
    let next = Infinity;
    for (const e of this.inFlight) next = Math.min(next, e.deadline);
    if (next === Infinity) return;
    this.sweepTimer = this.timers.setTimeout(() => {
      this.sweepTimer = null;
      const now = this.now();
      for (const e of [...this.inFlight]) {
        if (e.deadline <= now) {
          this.inFlight.delete(e);
          e.fail();
        }
      }
      this.armSweep();
    }, Math.max(1, next - this.now()));
    // Never the reason a process stays up: the calls it watches keep their own connection (and process) busy.
    (this.sweepTimer as { unref?: () => void }).unref?.();
  }

  private detectReleaseMode(): Promise<ReleaseMode> {
    if (this.releaseMode) return this.releaseMode;
    let timer: unknown = null;
    const detecting = Promise.race([
      detectReleaseMode(this.redis),
      new Promise<null>((resolve) => (timer = this.timers.setTimeout(() => resolve(null), this.commandTimeoutMs))),
    ]).then((mode) => {
      this.timers.clearTimeout(timer);
      // Undecided (Redis not answering): use Lua this time and ask again next time.
      if (mode === null) this.releaseMode = null;
      else this.knownReleaseMode = mode;
      return mode ?? 'lua';
    });
    this.releaseMode = detecting;
    return detecting;
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        this.timers.clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = this.timers.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Shorthand for `new LockClient(redis, options)`. */
export function createLockClient(redis: Redis, options?: LockClientOptions): LockClient {
  return new LockClient(redis, options);
}

function positive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a positive number of ms, got ${value}`);
}
