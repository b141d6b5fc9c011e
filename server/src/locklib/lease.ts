import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { LockLostError, RedisUnavailableError } from './errors';
import { newToken, type LockClient, type Timers } from './lock';
import { isReplyError, isWrongType } from './scripts';

/**
 * A leader lease (what Kubernetes calls a Lease): several processes campaign for one key, one holds it at a time,
 * renews it with a watchdog and gives it up — or loses it — with a **term** that only goes up, so that whatever the
 * holder writes can be fenced (a write carrying an older term is refused by whoever checks it).
 *
 * Built from the lock library's parts (random `ls1:` owner token, owner-checked renew and release, a validity
 * deadline measured from when a call was sent, minus clock drift, calls that time out instead of hanging) with two
 * Redis hashes, both under the same hash tag when on a cluster:
 *
 * - the lease key (with a TTL): `token`, `holder`, `term`, `epoch`, `acquired_at`, `renewed_at` (Redis's clock,
 *   epoch ms), `ttl_ms` — readable by anyone (`HGETALL`), like `kubectl get lease`;
 * - the term key (no TTL): `term` (the fencing counter), `epoch` (random, drawn when the key is created: a term
 *   key lost with a Redis restart starts a new epoch, so terms are compared only within one), `holder` (the last
 *   one) and `transitions` (how often the lease changed hands).
 *
 * The holder stops trusting the lease at `validUntil` (sent + TTL − drift), before Redis can hand it to anyone
 * else: a holder cut off from Redis steps down before its lease ends.
 */

/** One term of holding the lease. */
export interface LeaseTerm {
  term: number;
  /** The term key's epoch: terms are comparable only within one. */
  epoch: string;
  /** The owner token in the lease key. */
  token: string;
  /** When Redis granted it (Redis's clock, epoch ms). */
  acquiredAt: number;
  /** Times the lease had passed from one holder to another, this election included. */
  transitions: number;
  /** Until when (local clock) the lease is certainly ours; renewals move it. */
  validUntil: number;
  /** Aborted the moment the lease can no longer be trusted (lost, expired, or given up). */
  signal: AbortSignal;
}

/** The lease as anyone can read it. */
export interface LeaseRecord {
  holder: string;
  term: number;
  epoch: string;
  /** Redis's clock, epoch ms. */
  acquiredAt: number;
  renewedAt: number;
  ttlMs: number;
  /** What is left of it (PTTL). */
  remainingMs: number;
  /** Times the lease passed from one holder to another. */
  transitions: number;
}

export interface LeaseOptions {
  /** Who campaigns, as shown to others (e.g. `host:port#pid`). */
  holder: string;
  /** Lease duration (ms). */
  ttlMs: number;
  /** Renewal cadence (ms, default a third of the TTL). */
  renewEveryMs?: number;
  /** How often a candidate tries to take a free lease (ms, default a quarter of the TTL, at most 1 s). */
  retryEveryMs?: number;
  /** The term key (default `<key>:term`; on a cluster it must hash to the lease key's slot). */
  termKey?: string;
  /** Asked before each try: whether to try now (e.g. not while the holder is known to be alive). Default: always. */
  shouldTry?: () => boolean;
  timers?: Timers;
}

export interface LeaseEvents {
  /** This process now holds the lease. */
  elected: [term: LeaseTerm];
  /** A renewal went through (`renewedAt` on Redis's clock). */
  renewed: [term: LeaseTerm, renewedAt: number];
  /**
   * The term ended: given up (`null`), expired before a renewal got through, taken (a renewal found another
   * owner), or gone (a renewal found nobody: Redis lost the key; the lease is free to take again at once).
   */
  deposed: [term: LeaseTerm, reason: LockLostError | null];
  /**
   * Redis refused a lease command outright (ACL `NOPERM`, a read-only replica, scripts disabled): campaigning
   * cannot work here. The candidate keeps trying at `refusedRetryMs`.
   */
  refused: [error: Error];
}

/**
 * Replies that say "not now" rather than "never": a server loading its data, a cluster slot without a master or on
 * the move, a replica that lost its master, a busy script. Campaigning goes on.
 */
const TRANSIENT = /^(LOADING|BUSY|CLUSTERDOWN|TRYAGAIN|MOVED|ASK|MASTERDOWN)\b/;

/** Between tries after a refusal: permissions granted later are picked up without a restart. */
const REFUSED_RETRY_MS = 30_000;

/**
 * Take the lease if nobody holds it. KEYS[1] lease, KEYS[2] term key; ARGV[1] token, ARGV[2] holder, ARGV[3] TTL
 * ms, ARGV[4] a fresh epoch (used only if the term key is new). Returns {term, epoch, now, transitions}, or nil.
 */
const ACQUIRE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSETNX', KEYS[2], 'epoch', ARGV[4])
local term = redis.call('HINCRBY', KEYS[2], 'term', 1)
local previous = redis.call('HGET', KEYS[2], 'holder')
if previous and previous ~= ARGV[2] then redis.call('HINCRBY', KEYS[2], 'transitions', 1) end
redis.call('HSET', KEYS[2], 'holder', ARGV[2])
local epoch = redis.call('HGET', KEYS[2], 'epoch')
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'holder', ARGV[2], 'term', term, 'epoch', epoch, 'acquired_at', now, 'renewed_at', now, 'ttl_ms', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {term, epoch, now, tonumber(redis.call('HGET', KEYS[2], 'transitions') or '0')}
`;

/**
 * Owner-checked renewal: KEYS[1] lease; ARGV[1] token, ARGV[2] TTL ms. Returns Redis's time; -1 when the lease is
 * gone (nobody holds it: it expired, or Redis lost its data); nil when someone else holds it.
 */
const RENEW_LUA = `
local token = redis.call('HGET', KEYS[1], 'token')
if not token then return -1 end
if token ~= ARGV[1] then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'renewed_at', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return now
`;

/** Owner-checked give-up: KEYS[1] lease; ARGV[1] token. 1 when it deleted our lease. */
const RESIGN_LUA = `
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface LeaseCommands {
  lockscopeLeaseAcquire(key: string, termKey: string, token: string, holder: string, ttlMs: number, epoch: string): Promise<[number, string, number, number] | null>;
  lockscopeLeaseRenew(key: string, token: string, ttlMs: number): Promise<number | null>;
  lockscopeLeaseResign(key: string, token: string): Promise<number>;
}

function leaseCommands(redis: Redis): LeaseCommands {
  if (!('lockscopeLeaseAcquire' in redis)) {
    redis.defineCommand('lockscopeLeaseAcquire', { numberOfKeys: 2, lua: ACQUIRE_LUA });
    redis.defineCommand('lockscopeLeaseRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    redis.defineCommand('lockscopeLeaseResign', { numberOfKeys: 1, lua: RESIGN_LUA });
  }
  return redis as unknown as LeaseCommands;
}

const nodeTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * Campaigns for one lease key while `start()`ed: tries every `retryEveryMs` (when `shouldTry` agrees), holds and
 * renews it once elected, and campaigns again after losing it. `stop()` gives it up.
 */
export class Lease extends EventEmitter<LeaseEvents> {
  readonly termKey: string;
  private readonly ttlMs: number;
  /** Renewal cadence (ms). */
  readonly renewEveryMs: number;
  private readonly retryEveryMs: number;
  private readonly timers: Timers;
  private held: { term: LeaseTerm; controller: AbortController } | null = null;
  private running = false;
  private tryTimer: unknown = null;
  private renewTimer: unknown = null;
  private expiryTimer: unknown = null;
  private attempt: Promise<void> | null = null;

  constructor(
    private readonly client: LockClient,
    readonly key: string,
    private readonly options: LeaseOptions,
  ) {
    super();
    this.ttlMs = options.ttlMs;
    client.checkTtl(this.ttlMs);
    this.renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(this.ttlMs / 3));
    this.retryEveryMs = options.retryEveryMs ?? Math.min(1000, Math.max(1, Math.floor(this.ttlMs / 4)));
    const lapse = this.ttlMs - client.drift(this.ttlMs);
    if (!(this.renewEveryMs > 0 && this.renewEveryMs < lapse)) {
      throw new RangeError(`renewEveryMs must be shorter than ttlMs minus the clock-drift allowance (${lapse} ms), got ${this.renewEveryMs}`);
    }
    if (!(this.retryEveryMs > 0)) throw new RangeError(`retryEveryMs must be a positive number of ms, got ${this.retryEveryMs}`);
    this.termKey = options.termKey ?? `${key}:term`;
    this.timers = options.timers ?? nodeTimers;
  }

  /** The term held now, or null. */
  get current(): LeaseTerm | null {
    return this.held?.term ?? null;
  }

  /** Starts campaigning (the first try is at once). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Tries now rather than at the next tick (a holder said it is leaving). */
  tryNow(): void {
    if (this.running && !this.held) this.schedule(0);
  }

  /** Stops campaigning and gives the lease up if held (owner-checked: a lease already lost is left alone). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.tryTimer !== null) this.timers.clearTimeout(this.tryTimer);
    this.tryTimer = null;
    await this.attempt;
    const held = this.held;
    if (!held) return;
    this.end(null);
    await this.client
      .call('lease-resign', this.key, (r) => leaseCommands(r).lockscopeLeaseResign(this.key, held.term.token))
      .catch(() => {});
  }

  /**
   * Ends the term held now without a call to Redis: the caller learnt that it is over (a write fenced by a newer
   * term, or the term key gone with Redis's data). `gone` campaigns again at once.
   */
  abandon(reason: 'taken' | 'gone'): void {
    if (this.held) this.lose(new LockLostError(this.key, this.client.now(), reason));
  }

  /** The lease as stored now, or null when nobody holds it. */
  async read(): Promise<LeaseRecord | null> {
    const [lease, pttl, termKey] = await this.client.call('lease-read', this.key, (r) =>
      r
        .pipeline()
        .hgetall(this.key)
        .pttl(this.key)
        .hgetall(this.termKey)
        .exec()
        .then((replies) => {
          for (const [err] of replies ?? []) if (err) throw err;
          return (replies ?? []).map(([, v]) => v) as [Record<string, string>, number, Record<string, string>];
        }),
    );
    if (!lease.token || pttl < 0) return null;
    return {
      holder: lease.holder ?? '',
      term: Number(lease.term),
      epoch: lease.epoch ?? '',
      acquiredAt: Number(lease.acquired_at),
      renewedAt: Number(lease.renewed_at),
      ttlMs: Number(lease.ttl_ms),
      remainingMs: pttl,
      transitions: Number(termKey.transitions ?? 0),
    };
  }

  private schedule(ms: number): void {
    if (this.tryTimer !== null) this.timers.clearTimeout(this.tryTimer);
    this.tryTimer = this.timers.setTimeout(() => {
      this.tryTimer = null;
      if (!this.running || this.held) return;
      this.attempt = this.campaign().finally(() => (this.attempt = null));
    }, ms);
  }

  private async campaign(): Promise<void> {
    let next = this.retryEveryMs;
    if (this.options.shouldTry?.() ?? true) {
      try {
        await this.tryAcquire();
      } catch (err) {
        if (isReplyError(err) && !isWrongType(err) && !TRANSIENT.test(err.message)) {
          next = REFUSED_RETRY_MS;
          this.emit('refused', err);
        }
        // No reply: Redis slow or away, try again next tick.
      }
    }
    if (this.running && !this.held) this.schedule(next);
  }

  private async tryAcquire(): Promise<void> {
    const token = newToken();
    const sentAt = this.client.now();
    const epoch = randomBytes(8).toString('hex');
    let reply: [number, string, number, number] | null;
    try {
      reply = await this.client.call('lease-acquire', this.key, (r) =>
        leaseCommands(r).lockscopeLeaseAcquire(this.key, this.termKey, token, this.options.holder, this.ttlMs, epoch),
      );
    } catch (err) {
      // The script may have run with its reply lost: give back what we may hold (owner-checked, harmless otherwise).
      if (!isReplyError(err)) this.giveBack(token);
      throw err;
    }
    if (!reply) return;
    const validUntil = sentAt + this.ttlMs - this.client.drift(this.ttlMs);
    if (!this.running || this.client.now() >= validUntil) {
      this.giveBack(token);
      return;
    }
    const controller = new AbortController();
    const term: LeaseTerm = {
      term: Number(reply[0]),
      epoch: String(reply[1]),
      token,
      acquiredAt: Number(reply[2]),
      transitions: Number(reply[3]),
      validUntil,
      signal: controller.signal,
    };
    this.held = { term, controller };
    this.armExpiry();
    this.renewTimer = this.timers.setTimeout(() => void this.renew(), this.renewEveryMs);
    this.emit('elected', term);
  }

  private giveBack(token: string): void {
    void this.client.call('lease-resign', this.key, (r) => leaseCommands(r).lockscopeLeaseResign(this.key, token)).catch(() => {});
  }

  private armExpiry(): void {
    const held = this.held!;
    if (this.expiryTimer !== null) this.timers.clearTimeout(this.expiryTimer);
    this.expiryTimer = this.timers.setTimeout(
      () => this.lose(new LockLostError(this.key, held.term.validUntil, 'expired')),
      Math.max(0, held.term.validUntil - this.client.now()),
    );
  }

  private async renew(): Promise<void> {
    this.renewTimer = null;
    const held = this.held;
    if (!held) return;
    const sentAt = this.client.now();
    try {
      const renewedAt = await this.client.call('lease-renew', this.key, (r) => leaseCommands(r).lockscopeLeaseRenew(this.key, held.term.token, this.ttlMs));
      if (this.held !== held) return;
      if (renewedAt === null || renewedAt === -1) {
        this.lose(new LockLostError(this.key, Math.min(this.client.now(), held.term.validUntil), renewedAt === null ? 'taken' : 'gone'));
        return;
      }
      held.term.validUntil = sentAt + this.ttlMs - this.client.drift(this.ttlMs);
      this.armExpiry();
      this.emit('renewed', held.term, Number(renewedAt));
    } catch (err) {
      if (this.held !== held) return;
      if (isWrongType(err)) {
        this.lose(new LockLostError(this.key, this.client.now(), 'taken'));
        return;
      }
      // Redis slow or unreachable: the expiry timer ends the term if no renewal gets through in time.
      if (!(err instanceof RedisUnavailableError) && !isReplyError(err)) throw err;
    }
    if (this.held === held) this.renewTimer = this.timers.setTimeout(() => void this.renew(), this.renewEveryMs);
  }

  private lose(reason: LockLostError): void {
    if (!this.held) return;
    this.end(reason);
    if (this.running) this.schedule(reason.reason === 'gone' ? 0 : this.retryEveryMs);
  }

  private end(reason: LockLostError | null): void {
    const held = this.held!;
    this.held = null;
    if (this.renewTimer !== null) this.timers.clearTimeout(this.renewTimer);
    if (this.expiryTimer !== null) this.timers.clearTimeout(this.expiryTimer);
    this.renewTimer = this.expiryTimer = null;
    held.controller.abort(reason ?? new Error('lease given up'));
    this.emit('deposed', held.term, reason);
  }
}
