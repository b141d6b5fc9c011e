/**
 * Redisson `RLock`, fair lock and read-write lock (`RedissonLock.java`, `RedissonBaseLock.java`,
 * `RedissonFairLock.java`, `RedissonReadLock.java`, `RedissonWriteLock.java`): a HASH whose fields are holders,
 * `<client uuid>:<thread id>` → re-entry count (`:write` appended for a read-write lock's writer, plus a `mode`
 * field read/write). Waiters listen on `redisson_lock__channel:{name}` (`redisson_rwlock:{name}` for a
 * read-write lock); a fair lock queues them in `redisson_lock_queue:{name}` with deadlines in
 * `redisson_lock_timeout:{name}`.
 */
import type { GroupRecognition, HolderRecognition, LockLibrary, RecogniseContext, ReleaseTarget, RenewalRule, SideKey } from './adapter';
import { PlanRefusal } from './adapter';
import { lockOf, standIn, UUID } from './common';
import { CUT_NAME, CUT_VALUE, type HashField } from '../model/probe-result';
import type { PlanStep, PublishCommand, ReleasePlan } from './release-plan';

/** Redisson hash field: `<client UUID>:<threadId>`, `:write` appended for the write side of a read-write lock. */
const FIELD = new RegExp(`^(${UUID}):(\\d+)(:write)?$`);
const RWLOCK_TIMEOUT = new RegExp(`^(\\{.*\\}|.*):${UUID}:\\d+:rwlock_timeout:\\d+$`);
const UNLOCK_LATCH = /^redisson_unlock_latch:(\{.*\}|.*):[^:]+$/;
/** Readers listed by name in a shared read lock's `readers` field (the count is in `holders`). */
const READERS_LISTED = 8;

/** Watchdog every leaseTime/3 (10 s of the default 30 s lease); an explicit leaseTime disables it. */
export const REDISSON_RENEWAL: RenewalRule = {
  cadence: (maxTtl) => Math.round(maxTtl / 3),
  always: (maxTtl) => maxTtl > 25_000 && maxTtl <= 30_000,
};

/**
 * Redisson's `prefixName(prefix, name)`: `prefix:{name}`, or `prefix:name` when the name already contains `{`
 * (the caller chose its own hash tag).
 */
export function redissonPrefixed(prefix: string, name: Buffer): Buffer {
  return name.includes(0x7b)
    ? Buffer.concat([Buffer.from(`${prefix}:`), name])
    : Buffer.concat([Buffer.from(`${prefix}:{`), name, Buffer.from('}')]);
}

/** Redisson's `suffixName(name, suffix)`: `{name}:suffix`, or `name:suffix` when the name already contains `{`. */
export function redissonSuffixed(name: Buffer, suffix: string): Buffer {
  return name.includes(0x7b)
    ? Buffer.concat([name, Buffer.from(`:${suffix}`)])
    : Buffer.concat([Buffer.from('{'), name, Buffer.from(`}:${suffix}`)]);
}

/** The name inside a side key's `prefix:{name}` (or `prefix:name` when the name has a hash tag of its own). */
export function redissonNameIn(rest: string): string {
  return rest.startsWith('{') && rest.endsWith('}') && rest.indexOf('}') === rest.length - 1 ? rest.slice(1, -1) : rest;
}

const latin1 = (s: string) => Buffer.from(s, 'latin1');

export const redisson: LockLibrary = {
  id: 'redisson',
  renewal: REDISSON_RENEWAL,
  alsoAs: ['redisson-rw'],
  claims: 'value',
  // Names are the caller's: found by the generic glob when they contain "lock", else through LOCK_PATTERNS.
  patterns: [],
  sideKey({ text: k }): SideKey | null {
    let m: RegExpExecArray | null;
    if (k.startsWith('redisson_lock_queue:')) return { library: 'redisson', parent: latin1(redissonNameIn(k.slice(20))), kind: 'waiters' };
    if (k.startsWith('redisson_lock_timeout:')) return { library: 'redisson', parent: latin1(redissonNameIn(k.slice(22))), kind: 'timeout' };
    if (k.startsWith('redisson_unlock_latch:') && (m = UNLOCK_LATCH.exec(k))) {
      return { library: 'redisson', parent: latin1(redissonNameIn(m[1]!)), kind: 'signal' };
    }
    // Read-write lock reader timeouts: `{name}:<uuid>:<threadId>:rwlock_timeout:<n>`.
    if (k.includes(':rwlock_timeout:') && (m = RWLOCK_TIMEOUT.exec(k))) {
      return { library: 'redisson-rw', parent: latin1(redissonNameIn(m[1]!)), kind: 'timeout' };
    }
    return null;
  },
  recognise(_key, probe, ctx) {
    if (probe.type !== 'hash' || !probe.fields) return null;
    return recogniseHash(probe.fields, probe.size, ctx);
  },
  releasePlan: releasePlan,
};

interface Holder {
  token: Buffer;
  text: string;
  m: RegExpExecArray;
  count: Buffer;
  cut: number;
}

function recogniseHash(fields: HashField[], size: number, ctx: RecogniseContext) {
  const holders: Holder[] = [];
  let mode: string | null = null;
  for (const [f, v, cut = 0] of fields) {
    const text = f.toString('latin1');
    const m = cut & CUT_NAME ? null : FIELD.exec(text);
    if (m) holders.push({ token: f, text, m, count: v, cut });
    else if (text === 'mode' && !(cut & CUT_VALUE)) mode = v.toString('latin1');
  }
  if (holders.length === 0) return null;
  // The writer holds a read-write lock in write mode (it may hold read entries too). In read mode every holder is
  // a reader and the lock is theirs together: it is shown by the reader it was shown by before while that one
  // stays, else the first in a stable order, so readers coming and going change no owner.
  const writer = holders.find((h) => h.m[3] !== undefined);
  const shared = mode === 'read' && !writer;
  const holder = writer ?? (shared ? standIn(holders, ctx.current) : standIn(holders))!;
  const r = lockOf(mode !== null ? 'redisson-rw' : 'redisson', holder.token);
  r.ownerCut = (holder.cut & CUT_VALUE) !== 0;
  r.fields = { clientId: holder.m[1]!, threadId: holder.m[2]! };
  if (mode !== null) r.fields.mode = mode;
  // Every field but `mode` is a holder: count them all, also those of a hash bigger than what was read.
  const total = fields.length < size ? size - (mode !== null ? 1 : 0) : holders.length;
  if (total > 1) r.fields.holders = String(total);
  r.reentryCount = countOf(holder);
  r.renewal = REDISSON_RENEWAL;
  if (shared) {
    const names = holders.map((h) => h.text).sort();
    const listed = names.slice(0, READERS_LISTED).join(', ');
    r.fields.readers = total > READERS_LISTED ? `${listed} … (${total - READERS_LISTED} more)` : listed;
    r.group = readers(holders, total);
  }
  return r;
}

function countOf(h: Holder): number | null {
  const count = h.cut & CUT_VALUE ? Number.NaN : Number.parseInt(h.count.toString('latin1'), 10);
  return Number.isFinite(count) ? count : null;
}

/** The readers of a read lock: each lives as long as its own watchdog renews its timeout keys (not read here). */
function readers(holders: Holder[], total: number): GroupRecognition {
  return {
    holders: holders.map(
      (h): HolderRecognition => ({
        token: h.token,
        members: [h.token],
        fields: { clientId: h.m[1]!, threadId: h.m[2]! },
        permits: 1,
        reentryCount: countOf(h),
        expiresAt: null,
        refreshedAt: null,
      }),
    ),
    count: total,
    permits: { held: total, free: null, limit: null },
    heldAsOne: true,
    releaseAll: true,
    renewal: null,
    redisClock: false,
    counterOnly: false,
  };
}

/**
 * What Redisson's own unlock does, for the lock as read: RLock → DEL and wake one waiter per client on
 * `redisson_lock__channel:{name}` (0), or for a fair lock drop the waiters whose wait ended and wake the first in
 * line on its own channel; read-write lock → DEL and wake everyone on `redisson_rwlock:{name}` (1). One reader
 * of several → its field and timeout keys go, and only the last reader's going deletes the lock and wakes.
 */
function releasePlan({ key, owner, scope, recognition, sharded }: ReleaseTarget): ReleasePlan {
  const command: PublishCommand = sharded ? 'SPUBLISH' : 'PUBLISH';
  const rw = recognition.library === 'redisson-rw';
  const mode = [Buffer.from('mode')];
  // A thread holding the write side may hold read entries too: `<id>:<tid>:write` and `<id>:<tid>` are one holder.
  const text = owner.toString('latin1');
  const base = text.endsWith(':write') ? text.slice(0, -6) : text;
  const check = { kind: 'hash' as const, field: owner, sameHolder: [base, `${base}:write`].filter((f) => f !== text).map((f) => Buffer.from(f, 'latin1')) };
  if (rw) {
    const rwChannel = redissonPrefixed('redisson_rwlock', key);
    const wake: PlanStep = { op: 'publish', command, channel: rwChannel, message: Buffer.from('1'), wake: 'redisson-channel' };
    if (scope === 'lock') return { check, bookkeeping: mode, steps: [{ op: 'del' }, wake], scope };
    const group = recognition.group;
    if (!group) throw new PlanRefusal('this read-write lock is held by a writer, not shared by readers: release the lock itself');
    const freed = scope === 'all' ? group.holders : group.holders.filter((h) => h.token.equals(owner));
    const timeoutKeys = freed.flatMap((h) => readerTimeoutKeys(key, h));
    const steps: PlanStep[] =
      scope === 'all'
        ? [{ op: 'del' }, ...(timeoutKeys.length ? [{ op: 'del-keys' as const, keys: timeoutKeys }] : []), wake]
        : [
            { op: 'hdel', fields: [owner] },
            ...(timeoutKeys.length ? [{ op: 'del-keys' as const, keys: timeoutKeys }] : []),
            { op: 'del', when: 'emptied' },
            { ...wake, when: 'emptied' },
          ];
    return { check, bookkeeping: mode, steps, scope };
  }
  if (scope !== 'lock') throw new PlanRefusal('a Redisson lock has one owner: release the lock itself');
  const channel = redissonPrefixed('redisson_lock__channel', key);
  return {
    check,
    bookkeeping: mode,
    steps: [
      { op: 'del' },
      {
        op: 'fair-wake',
        queue: redissonPrefixed('redisson_lock_queue', key),
        timeouts: redissonPrefixed('redisson_lock_timeout', key),
        command,
        channelPrefix: channel,
        fallbackChannel: channel,
        fallbackMessage: Buffer.from('0'),
        wake: 'redisson-fair-queue',
        fallbackWake: 'redisson-channel',
      },
    ],
    scope,
  };
}

/** `RedissonReadLock`: a reader's timeout keys are `<suffixName(name, field)>:rwlock_timeout:<1..count>`. */
function readerTimeoutKeys(name: Buffer, holder: HolderRecognition): Buffer[] {
  const prefix = Buffer.concat([redissonSuffixed(name, holder.token.toString('latin1')), Buffer.from(':rwlock_timeout:')]);
  const n = Math.min(holder.reentryCount ?? 1, 64);
  return Array.from({ length: n }, (_, i) => Buffer.concat([prefix, Buffer.from(String(i + 1))]));
}

/** The holder field an answer names for a hash lock: Redisson's writer first, then any Redisson holder, else the first field. */
export function hashHolder(fields: Buffer[]): Buffer | null {
  const holders = fields.filter((f) => FIELD.test(f.toString('latin1')));
  return holders.find((f) => f.toString('latin1').endsWith(':write')) ?? holders[0] ?? fields.find((f) => f.toString() !== 'mode') ?? null;
}
