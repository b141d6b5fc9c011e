import type { Redis } from 'ioredis';
import type { SimConfig } from '../../../shared/simulator';
import { createLockClient, LockLostError, LockNotAcquiredError } from '../locklib';
import type { Checker } from './checker';
import { fenceKey, lockKey } from './config';
import type { Freezer } from './freezer';

/** What a worker knows about the lock it holds while in its critical section. */
export interface Holding {
  /** The unique value this acquisition wrote into the key (a lockscope token for the safe strategies). */
  tag: string;
  /** Fencing token for the resource, or null. */
  fence: number | null;
  /** Until when the worker trusts the lock (epoch ms): the library's validity for safe strategies, forever otherwise. */
  trustedUntil(): number;
  /** Asked right before writing: does the worker still believe it holds the lock? */
  mayWrite(): boolean;
}

export type Section = (holding: Holding) => Promise<void>;
export type Outcome = 'done' | 'timeout' | 'stopped';

export interface StrategyEnv {
  redis: Redis;
  timers: Freezer;
  config: SimConfig;
  checker: Checker;
  /** Aborts when the run stops. */
  stop: AbortSignal;
  /** Crashes the worker on the spot (drops its connection without releasing); never returns. */
  crash(): never;
  /** A unique tag for the next acquisition. */
  nextTag(): string;
}

/** Acquire (waiting up to acquireTimeoutMs), run `section` while holding, release — each exactly as its design does it. */
export interface Strategy {
  run(resource: number, section: Section): Promise<Outcome>;
}

/**
 * Instrumented versions of the unsafe designs' DEL and PEXPIRE. Same effect as the plain commands (they delete
 * or extend whatever is in the key, unchecked), but they also return the value they acted on, so the checker
 * knows exactly whose lock was deleted or extended.
 */
export const DEL_REPORTING = `local v = redis.call('GET', KEYS[1]) redis.call('DEL', KEYS[1]) return v`;
export const PEXPIRE_REPORTING = `local v = redis.call('GET', KEYS[1]) if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 1 then return v end return false`;

interface ReportingCommands {
  simDelReporting(key: string): Promise<string | null>;
  simPexpireReporting(key: string, ttlMs: number): Promise<string | null>;
}

function reporting(redis: Redis): ReportingCommands {
  if (!('simDelReporting' in redis)) {
    redis.defineCommand('simDelReporting', { numberOfKeys: 1, lua: DEL_REPORTING });
    redis.defineCommand('simPexpireReporting', { numberOfKeys: 1, lua: PEXPIRE_REPORTING });
  }
  return redis as unknown as ReportingCommands;
}

const believesForever = () => Infinity;
const alwaysWrites = () => true;

/**
 * First design note: `SETNX`, then a separate expiry; poll until the acquire timeout, and when the key is found
 * without a TTL, put one on it (its guard against holders that died between the two commands); release with a
 * plain `DEL`. The expiry uses PEXPIRE (ms) instead of EXPIRE (s) so runs can use sub-second TTLs; the
 * behaviour is otherwise the note's. The value is a tag instead of `1`, which the algorithm never reads.
 */
function setnxExpire(env: StrategyEnv): Strategy {
  const { redis, timers, config, checker, stop } = env;
  const cmd = reporting(redis);
  return {
    async run(resource, section) {
      const key = lockKey(config.keyPrefix, resource);
      const tag = env.nextTag();
      const deadline = Date.now() + config.acquireTimeoutMs;
      for (;;) {
        if (stop.aborted) return 'stopped';
        if ((await redis.setnx(key, tag)) === 1) {
          checker.acquiredInRedis(resource, tag);
          if (Math.random() < config.faults.crashBetweenProb) {
            checker.count('stuckLocksCreated');
            env.crash();
          }
          checker.renewed(resource, tag, await cmd.simPexpireReporting(key, config.ttlMs));
          break;
        }
        if ((await redis.pttl(key)) === -1) {
          if ((await cmd.simPexpireReporting(key, config.ttlMs)) !== null) checker.count('expiryReapplied');
        }
        if (Date.now() >= deadline) return 'timeout';
        await timers.sleep(config.retryDelayMs, stop);
      }
      await section({ tag, fence: null, trustedUntil: believesForever, mayWrite: alwaysWrites });
      checker.deleted(resource, tag, await cmd.simDelReporting(key));
      return 'done';
    },
  };
}

/**
 * Second design note: `SET NX` with a TTL, a background loop of blind PEXPIRE renewals while the body runs,
 * then stop the loop and `DEL` (a context manager). The loop runs on the worker's timers, so a pause freezes
 * it too, and it resumes — renewing whatever lock is in the key by then — when the pause ends. Once the loop is
 * stopped no renewal follows the DEL: one already in flight was sent before it on the same connection, so Redis
 * runs it first, and it does not reschedule.
 */
function setNxExRenew(env: StrategyEnv): Strategy {
  const { redis, timers, config, checker, stop } = env;
  const cmd = reporting(redis);
  const every = config.renewIntervalMs ?? Math.max(1, Math.floor(config.ttlMs / 3));
  return {
    async run(resource, section) {
      const key = lockKey(config.keyPrefix, resource);
      const tag = env.nextTag();
      const deadline = Date.now() + config.acquireTimeoutMs;
      for (;;) {
        if (stop.aborted) return 'stopped';
        if ((await redis.set(key, tag, 'PX', config.ttlMs, 'NX')) === 'OK') break;
        if (Date.now() >= deadline) return 'timeout';
        await timers.sleep(config.retryDelayMs, stop);
      }
      checker.acquiredInRedis(resource, tag);
      let running = true;
      let timer: unknown = null;
      const schedule = () => {
        timer = timers.setTimeout(async () => {
          try {
            checker.renewed(resource, tag, await cmd.simPexpireReporting(key, config.ttlMs));
          } catch {
            checker.count('redisErrors');
          }
          if (running) schedule();
        }, every);
      };
      schedule();
      try {
        await section({ tag, fence: null, trustedUntil: believesForever, mayWrite: alwaysWrites });
      } finally {
        running = false;
        timers.clearTimeout(timer);
      }
      checker.deleted(resource, tag, await cmd.simDelReporting(key));
      return 'done';
    },
  };
}

/**
 * lockscope's library: `withLock` (SET NX PX with a random token, watchdog every renewIntervalMs, owner-checked
 * release), and the worker writes only while the library still vouches for the lock. `fenced` adds a fencing
 * token drawn atomically with the lock, which the resource checks.
 */
function safe(env: StrategyEnv, fenced: boolean): Strategy {
  const { redis, timers, config, checker, stop } = env;
  const lockPrefix = lockKey(config.keyPrefix, 0).slice(0, -'r0'.length);
  const locks = createLockClient(redis, {
    timers,
    commandTimeoutMs: Math.max(200, Math.min(2000, config.ttlMs)),
    fencing: fenced,
    // Every refusal counts, also a release refused after the library had already seen the lock expire locally.
    onNotOwner: () => checker.count('refusedByOwnerCheck'),
    fenceKey: (key) => fenceKey(config.keyPrefix, Number(key.slice(lockPrefix.length + 1))),
    // The counters live as long as the run could (and are deleted with the prefix at the end).
    fenceTtlMs: config.durationMs + 60_000,
  });
  return {
    async run(resource, section) {
      const key = lockKey(config.keyPrefix, resource);
      let token: string | null = null;
      try {
        await locks.withLock(
          key,
          {
            ttlMs: config.ttlMs,
            waitMs: config.acquireTimeoutMs,
            retryDelayMs: config.retryDelayMs,
            jitter: 0.2,
            signal: stop,
            renewEveryMs: config.renewIntervalMs ?? undefined,
          },
          async (signal, lock) => {
            token = lock.token;
            checker.acquiredInRedis(resource, lock.token);
            await section({
              tag: lock.token,
              fence: lock.fence,
              trustedUntil: () => lock.validUntil,
              mayWrite: () => !signal.aborted && lock.isValid(),
            });
          },
        );
        if (token) checker.deleted(resource, token, token);
        return 'done';
      } catch (err) {
        if (err instanceof LockNotAcquiredError) return 'timeout';
        if (err instanceof LockLostError) return 'done';
        if (stop.aborted && !token) return 'stopped';
        throw err;
      }
    },
  };
}

export function createStrategy(env: StrategyEnv): Strategy {
  switch (env.config.strategy) {
    case 'setnx-expire':
      return setnxExpire(env);
    case 'set-nx-ex-renew':
      return setNxExRenew(env);
    case 'safe':
      return safe(env, false);
    case 'safe-fenced':
      return safe(env, true);
  }
}
