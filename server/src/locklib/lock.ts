import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LockError, LockLostError, LockNotAcquiredError, NotOwnerError, RedisUnavailableError } from './errors';
import { detectReleaseMode, isCommandRefused, isReplyError, isWrongType, lockCommands, type ReleaseMode } from './scripts';

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
  /**
   * Called with every NotOwnerError a release() or extend() runs into — including the ones withLock handles
   * itself (a watchdog renewal or the final release refused) — e.g. to count them. Must not throw.
   */
  onNotOwner?: (error: NotOwnerError) => void;
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
  /**
   * Watchdog cadence (ms, default a third of the TTL). Each tick extends the lock to the full TTL. Must be
   * shorter than the TTL minus the clock-drift allowance, or the lock would lapse between two renewals.
   */
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

  /**
   * Sets the key's TTL to `ttlMs` from now if it still holds our token (shorter or longer than before: the
   * validity follows it either way); NotOwnerError otherwise, after which the lock is no longer valid.
   */
  async extend(ttlMs: number = this.ttlMs): Promise<void> {
    this.client.checkTtl(ttlMs);
    const sentAt = this.client.now();
    const validUntil = sentAt + ttlMs - this.client.drift(ttlMs);
    let done: number;
    try {
      done = await this.client.call('extend', this.key, (r) => lockCommands(r).lockscopeExtend(this.key, this.token, ttlMs));
    } catch (err) {
      if (!isWrongType(err)) {
        // No answer: the PEXPIRE may still have run (or run later), so the key may live only `ttlMs` from now.
        this.validUntil = Math.min(this.validUntil, validUntil);
        throw err;
      }
      done = -1;
    }
    if (done !== 1) {
      this.validUntil = Math.min(this.validUntil, this.client.now());
      throw this.client.notOwner(this.key, 'extend', done === -1);
    }
    this.ttlMs = ttlMs;
    // PEXPIRE replaced the TTL, so the validity is the new one even when it is shorter than the old.
    this.validUntil = validUntil;
  }

  /** Deletes the key if it still holds our token; NotOwnerError otherwise (nothing is deleted). */
  async release(): Promise<void> {
    const outcome = await this.client.releaseToken(this.key, this.token);
    this.validUntil = Math.min(this.validUntil, this.client.now());
    if (outcome !== 'released') throw this.client.notOwner(this.key, 'release', outcome === 'wrong-type');
  }
}

export class LockClient {
  /**
   * The release mode detected on this connection, and the socket it was detected on: after a reconnect (perhaps
   * to another server, after a failover) it is detected again.
   */
  private detected: { mode: ReleaseMode; stream: unknown } | null = null;
  private detecting: Promise<ReleaseMode> | null = null;
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
  async capabilities(): Promise<{ release: ReleaseMode }> {
    return { release: await this.releaseMode() };
  }

  /** @internal Throws RangeError unless `ttlMs` is a whole number of ms longer than the clock-drift allowance. */
  checkTtl(ttlMs: number): void {
    if (!(Number.isSafeInteger(ttlMs) && ttlMs > 0)) throw new RangeError(`ttlMs must be a positive whole number of ms, got ${ttlMs}`);
    if (ttlMs <= this.drift(ttlMs)) throw new RangeError(`ttlMs ${ttlMs} is too short to be valid after clock drift`);
  }

  /** @internal A NotOwnerError for `operation`, reported to `onNotOwner` first. */
  notOwner(key: string, operation: 'release' | 'extend', wrongType = false): NotOwnerError {
    const error = new NotOwnerError(key, operation, wrongType);
    try {
      this.options.onNotOwner?.(error);
    } catch {
      // An observer's failure is not the caller's.
    }
    return error;
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
    return this.acquireWith(key, this.resolve(options), options.signal);
  }

  /** Every acquire option checked (RangeError) and defaulted, before anything is sent. */
  private resolve(options: AcquireOptions) {
    const ttlMs = options.ttlMs ?? DEFAULTS.ttlMs;
    const waitMs = options.waitMs ?? DEFAULTS.waitMs;
    const retryDelayMs = options.retryDelayMs ?? DEFAULTS.retryDelayMs;
    const jitter = options.jitter ?? DEFAULTS.jitter;
    const fencing = options.fencing ?? this.options.fencing ?? false;
    this.checkTtl(ttlMs);
    positive('retryDelayMs', retryDelayMs);
    if (!(waitMs >= 0)) throw new RangeError(`waitMs must be ≥ 0, got ${waitMs}`);
    if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`jitter must be a fraction from 0 to 1, got ${jitter}`);
    return { ttlMs, waitMs, retryDelayMs, jitter, fencing };
  }

  private async acquireWith(key: string, resolved: ReturnType<LockClient['resolve']>, signal: AbortSignal | undefined): Promise<Lock> {
    const { ttlMs, waitMs, retryDelayMs, jitter, fencing } = resolved;
    const started = this.now();
    const deadline = started + waitMs;
    let attempts = 0;
    for (;;) {
      signal?.throwIfAborted();
      attempts++;
      const token = newToken();
      const sentAt = this.now();
      const stream = this.redis.stream;
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
        this.undoAcquire(key, token);
      } else if (this.redis.stream !== stream) {
        // The connection dropped and came back while the SET was out. ioredis re-sends unanswered commands after
        // a reconnect, so this "held" may be our own first SET answering its echo: give that one back.
        this.undoAcquire(key, token);
      }
      const now = this.now();
      if (now >= deadline) throw new LockNotAcquiredError(key, now - started, attempts);
      const pause = retryDelayMs * (1 + jitter * (2 * Math.random() - 1));
      await this.sleep(Math.max(1, Math.min(pause, deadline - now)), signal);
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
    // Every option is checked before the lock is taken: a bad one must not leave a lock behind for a whole TTL.
    const resolved = this.resolve(options);
    const renewEvery = options.renewEveryMs ?? Math.max(1, Math.floor(resolved.ttlMs / 3));
    positive('renewEveryMs', renewEvery);
    const lapse = resolved.ttlMs - this.drift(resolved.ttlMs);
    if (renewEvery >= lapse) {
      throw new RangeError(`renewEveryMs must be shorter than ttlMs minus the clock-drift allowance (${lapse} ms), got ${renewEvery}`);
    }
    const lock = await this.acquireWith(key, resolved, options.signal);
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

  /**
   * @internal Owner-checked delete: `released` when it deleted our lock, `not-owner` when the key is gone or
   * someone else's, `wrong-type` when it holds another kind of data (nothing deleted in either case).
   */
  async releaseToken(key: string, token: string): Promise<'released' | 'not-owner' | 'wrong-type'> {
    const known = this.releaseModeNow();
    const mode = typeof known === 'string' ? known : await known;
    const run = (m: ReleaseMode) =>
      this.call('release', key, (r) => {
        if (m === 'delex') return r.call('DELEX', key, 'IFEQ', token) as Promise<number>;
        if (m === 'delifeq') return r.call('DELIFEQ', key, token) as Promise<number>;
        return lockCommands(r).lockscopeRelease(key, token);
      });
    try {
      return (await run(mode)) === 1 ? 'released' : 'not-owner';
    } catch (err) {
      if (isWrongType(err)) return 'wrong-type';
      // A server that advertised the command but refuses it (a proxy, an ACL): Lua on this connection from now on.
      // Any other reply (and every connection failure) is passed on and changes nothing.
      if (mode === 'lua' || !isCommandRefused(err)) throw err;
      this.detected = { mode: 'lua', stream: this.redis.stream };
      try {
        return (await run('lua')) === 1 ? 'released' : 'not-owner';
      } catch (retryErr) {
        if (isWrongType(retryErr)) return 'wrong-type';
        throw retryErr;
      }
    }
  }

  /**
   * @internal Gives back a lock an acquire may have taken without being able to use it (its reply came too late,
   * never came, or the call failed half-way). Owner-checked, so harmless if the SET never ran; best effort (the
   * key's TTL ends it anyway if this fails too).
   */
  undoAcquire(key: string, token: string): void {
    void this.releaseToken(key, token).catch(() => {});
  }

  /**
   * @internal Runs one Redis call with a deadline. Connection problems and timeouts become
   * RedisUnavailableError; Redis's own error replies pass through unchanged. When an acquire fails in any way —
   * timed out (its SET may still run later), connection dropped (it may have run with the reply lost), or an
   * error reply (a script may have set the key before failing) — a release of its token is queued behind it.
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
      if (tokenToUndo) this.undoAcquire(key, tokenToUndo);
      if (err instanceof LockError || isReplyError(err)) throw err;
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

  /** The release mode for this connection: known (no await on the hot path), or being detected. */
  private releaseModeNow(): ReleaseMode | Promise<ReleaseMode> {
    const detected = this.detected;
    // A fallback to Lua after a refusal wins over a forced mode too, on this connection.
    if (detected && detected.stream === this.redis.stream) return detected.mode;
    if (this.options.releaseMode) return this.options.releaseMode;
    return this.releaseMode();
  }

  private releaseMode(): Promise<ReleaseMode> {
    const known = this.detected;
    if (known && known.stream === this.redis.stream) return Promise.resolve(known.mode);
    if (this.options.releaseMode) return Promise.resolve(this.options.releaseMode);
    if (this.detecting) return this.detecting;
    let timer: unknown = null;
    const detecting = Promise.race([
      detectReleaseMode(this.redis),
      new Promise<null>((resolve) => (timer = this.timers.setTimeout(() => resolve(null), this.commandTimeoutMs))),
    ]).then((mode) => {
      this.timers.clearTimeout(timer);
      this.detecting = null;
      // Undecided (no reply: Redis down, slow, reconnecting): use Lua this time, which works everywhere, and
      // ask again next time rather than settle on it for good.
      // The reply came on the connection's current socket (it is read from it): remember which one that was.
      if (mode !== null) this.detected = { mode, stream: this.redis.stream };
      return mode ?? 'lua';
    });
    this.detecting = detecting;
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
