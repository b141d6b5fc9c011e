/**
 * A force-release as data: which owner must still hold the lock, and the steps that free it and wake its
 * waiters the library's own way. Admin runs a plan as ONE script call (`admin/release-script.ts`): the check and
 * every step happen atomically, so a lock that changed hands between the operator looking and clicking is never
 * touched, and nothing else runs between the delete and the wake-up.
 *
 * Adapters build plans from a small set of generic steps rather than Lua of their own: what a library does on
 * unlock is visible in its module, and the one interpreter is the only code that writes to Redis.
 */
import type { WakeMethod } from '../../../shared/admin';

/** How the owner is proven, in the script, before anything is changed. */
export type OwnerCheck =
  /** The string value is exactly these bytes. */
  | { kind: 'string'; value: Buffer }
  /**
   * A holder field of this name exists (Redisson: `<client uuid>:<thread id>`). With scope `lock` it must hold the
   * lock alone: no field but it, the bookkeeping and `sameHolder` (other fields of the same holder: a Redisson
   * thread's writer and reader entries) may be there.
   */
  | { kind: 'hash'; field: Buffer; sameHolder?: Buffer[] }
  /** The named hash field holds exactly this value (a declared format whose owner is a field's value). */
  | { kind: 'hash-value'; field: Buffer; value: Buffer }
  /** Every one of these ZSET members is there (a semaphore holder; a MultiSemaphore holder has several). */
  | { kind: 'zset'; members: Buffer[] };

/** Redisson on a cluster with sharded pub/sub wakes waiters with SPUBLISH; everything else with PUBLISH. */
export type PublishCommand = 'PUBLISH' | 'SPUBLISH';

/**
 * When a step runs, judged after the removal steps before it: `always`; `emptied` when no holder is left (only
 * the library's bookkeeping, or nothing); `remaining` when holders are left.
 */
export type StepWhen = 'always' | 'emptied' | 'remaining';

export type PlanStep = { when?: StepWhen } & (
  | { op: 'del' }
  /** HDEL these fields from the lock (one Redisson reader). */
  | { op: 'hdel'; fields: Buffer[] }
  /** ZREM these members from the lock (one semaphore holder). */
  | { op: 'zrem'; members: Buffer[] }
  /** Remove every ZSET member (counted, for `incr-publish`) and the key. */
  | { op: 'zrem-all' }
  /** DEL helper keys (a Redisson reader's timeout keys). */
  | { op: 'del-keys'; keys: Buffer[] }
  /** python-redis-lock's signal list: DEL it, LPUSH 1, PEXPIRE — its waiters BLPOP it. */
  | { op: 'signal-list'; key: Buffer; expireMs: number; wake: WakeMethod }
  | { op: 'publish'; command: PublishCommand; channel: Buffer; message: Buffer; wake: WakeMethod }
  /**
   * Redisson fair lock: if `queue` (LIST) exists, drop the waiters at its head whose wait has ended (their
   * deadlines are in `timeouts`, a ZSET) and wake the first in line on `<channelPrefix>:<its id>` with message 0;
   * otherwise publish `fallbackMessage` on `fallbackChannel` (and report `fallbackWake`).
   */
  | {
      op: 'fair-wake';
      queue: Buffer;
      timeouts: Buffer;
      command: PublishCommand;
      channelPrefix: Buffer;
      fallbackChannel: Buffer;
      fallbackMessage: Buffer;
      wake: WakeMethod;
      fallbackWake: WakeMethod;
    }
  /**
   * Give permits back to a counter (`INCRBY counter by`; by = the members the last removal step removed) and
   * publish its new value on `channel` (Redisson semaphores).
   */
  | { op: 'incr-publish'; counter: Buffer; by: number | 'removed'; command: PublishCommand; channel: Buffer; wake: WakeMethod }
  /** Symfony: the key expires with its latest holder (`PEXPIREAT` to the highest score). */
  | { op: 'expire-at-max' }
);

export interface ReleasePlan {
  check: OwnerCheck;
  /** Members or fields that are the library's bookkeeping, never holders (Redisson's `mode`, Symfony's `__write__`). */
  bookkeeping: Buffer[];
  steps: PlanStep[];
  /**
   * What the release frees: `lock` (the owner must hold it alone, else `shared`), `holder` (only the named holder's
   * members/fields), `all` (every holder, provided the named one is still there).
   */
  scope: 'lock' | 'holder' | 'all';
}

/** The default: delete the key if the owner still holds it (no waiters to wake). */
export function deleteIfOwner(check: OwnerCheck): ReleasePlan {
  return { check, bookkeeping: [], steps: [{ op: 'del' }], scope: 'lock' };
}

/** A plan that is only an owner-checked delete of a string: Redis's `DELEX key IFEQ owner` can do it alone. */
export function isPlainStringDelete(plan: ReleasePlan): plan is ReleasePlan & { check: { kind: 'string'; value: Buffer } } {
  return plan.check.kind === 'string' && plan.steps.length === 1 && plan.steps[0]!.op === 'del' && plan.scope === 'lock';
}
