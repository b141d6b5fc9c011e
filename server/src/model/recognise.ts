import { AUDIT_STREAM } from '../../../shared/admin';
import type { LibraryId } from '../../../shared/locks';
import { isPlainText, visibleText } from './bytes';
import { CUT_NAME, CUT_VALUE, type HashField, type ProbeResult } from './probe-result';

type Present = Extract<ProbeResult, { exists: true }>;

/**
 * How a library renews its locks. One shared object per library (never a closure per key): the tracker keeps a
 * reference per lock, so this costs nothing per lock.
 */
export interface RenewalRule {
  /** The interval (ms) the library renews at, for a lock whose largest observed TTL is `maxTtlMs`. */
  cadence(maxTtlMs: number): number;
  /** True when the library renews every lock it holds, so a missing renewal is news even before the first one. */
  always(maxTtlMs: number): boolean;
}

export interface Recognition {
  library: LibraryId;
  /** `side-key`: a helper key a library keeps next to a lock (wait queue, signal list): not a lock itself. */
  role: 'lock' | 'side-key';
  /** The bytes that identify the holder (string value or hash field), or null. */
  owner: Buffer | null;
  /** The owner's hash field name, or its value, was not read in full (a string's cut shows in its size instead). */
  ownerCut: boolean;
  /**
   * A Redisson read-write lock in read mode: one lock however many readers come and go. `owner` is one reader
   * (kept while it stays), the `readers` field lists them; a reader joining or leaving is not a new owner.
   */
  shared: boolean;
  /** Parts decoded from the owner and key, shown in the detail view. */
  fields: Record<string, string>;
  reentryCount: number | null;
  /** Acquire time decoded from the value (epoch ms), when the library stores one. */
  acquiredAt: number | null;
  /** How the library renews, or null when it never renews by itself. */
  renewal: RenewalRule | null;
}

/** A helper key and the lock it belongs to (see LOCK-FORMATS.md, "side keys"). */
export interface SideKey {
  library: LibraryId;
  /** The lock key this helper belongs to, when it can be derived from the helper's name. */
  parent: Buffer | null;
  /** `waiters`: the helper is a queue of waiting threads (its length is the number of waiters). */
  kind: 'waiters' | 'signal' | 'timeout' | 'internal';
}

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
/** Redisson hash field: `<client UUID>:<threadId>`, `:write` appended for the write side of a read-write lock. */
const REDISSON_FIELD = new RegExp(`^(${UUID}):(\\d+)(:write)?$`);
const BULLMQ_VALUE = new RegExp(`^(${UUID}):(\\d+)$`);
const BULLMQ_KEY = /^(.+):([^:]+):lock$/;
const SHEDLOCK_VALUE = new RegExp(`^ADDED:([^@]+)@(.*?)(?::(${UUID}))?$`);
/** Java's `UUID.randomUUID().toString()`: lower-case, version 4, RFC 4122 variant. */
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const HEX32 = /^[0-9a-f]{32}$/;
/** go-redsync: base64 of 16 random bytes. */
const REDSYNC = /^[A-Za-z0-9+/]{22}==$/;
/** python-redis-lock ≥ 3: base64 of 18 random bytes (no padding). */
const PRL_B64 = /^[A-Za-z0-9+/]{24}$/;
/** Laravel `Str::random()`: 16 alphanumerics. */
const LARAVEL = /^[A-Za-z0-9]{16}$/;
const LARAVEL_KEY = /cache[_:-]/i;
/** lockscope's own lock library writes `ls1:<32 hex>` so the inspector can tell its own locks apart. */
const LOCKSCOPE = /^ls1:[0-9a-f]{32}$/;
const SIDEKIQ_LOCKED = /^(.*):LOCKED$/;
const RWLOCK_TIMEOUT = new RegExp(`^(\\{.*\\}|.*):${UUID}:\\d+:rwlock_timeout:\\d+$`);

/** uuid1 timestamps count 100 ns intervals since 1582-10-15; this is that epoch in Unix ms. */
const UUID1_EPOCH_MS = -12_219_292_800_000;
const YEAR_2000_MS = 946_684_800_000;
const YEAR_2100_MS = 4_102_444_800_000;

/** Shared renewal rules (see LOCK-FORMATS.md, "renewal cadence each library should show"). */
export const RENEWAL = {
  /** Watchdog every leaseTime/3 (10 s of the default 30 s lease); an explicit leaseTime disables it. */
  redisson: {
    cadence: (maxTtl) => Math.round(maxTtl / 3),
    always: (maxTtl) => maxTtl > 25_000 && maxTtl <= 30_000,
  },
  /**
   * BullMQ ≥ 5 (`lock-manager.ts`): lockRenewTime defaults to lockDuration/2 and the extender timer runs every
   * lockRenewTime/2, extending each active job: lockDuration/4 (7.5 s of the default 30 s).
   */
  bullmq: { cadence: (maxTtl) => Math.round(maxTtl / 4), always: () => true },
  /**
   * node-redlock v5 `using()`: extends `automaticExtensionThreshold` (500 ms) before its own idea of the expiry,
   * which is the duration less a drift of 1% + 2 ms.
   */
  redlock: { cadence: (maxTtl) => Math.max(Math.round(maxTtl - 500 - (0.01 * maxTtl + 2)), 50), always: () => false },
  /** python-redis-lock's auto-renewal thread: every expire × 2/3 (only with auto_renewal=True). */
  pythonRedisLock: { cadence: (maxTtl) => Math.round((maxTtl * 2) / 3), always: () => false },
  /** Spring RedisLockRegistry with a renewal scheduler: every expireAfter/3. */
  spring: { cadence: (maxTtl) => Math.round(maxTtl / 3), always: () => false },
} satisfies Record<string, RenewalRule>;

/**
 * A copy of a substring that does not keep its parent alive: V8 represents `slice()`s of 13+ characters as views
 * into the parent string, and fields are kept for as long as the lock is tracked (see bench/inspector-heap.ts).
 */
function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/** Field values as owned strings, as they may be shown (hidden characters escaped: `visibleText`). */
function owned(fields: Record<string, string>): Record<string, string> {
  for (const k of Object.keys(fields)) fields[k] = own(visibleText(fields[k]!));
  return fields;
}

function base(library: LibraryId, owner: Buffer | null): Recognition {
  return { library, role: 'lock', owner, ownerCut: false, shared: false, fields: {}, reentryCount: null, acquiredAt: null, renewal: null };
}

/** Redisson names side keys `prefix:{name}` (or `prefix:name` when the name already has a hash tag). */
function redissonName(rest: string): string {
  return rest.startsWith('{') && rest.endsWith('}') && rest.indexOf('}') === rest.length - 1 ? rest.slice(1, -1) : rest;
}

/**
 * Recognises helper keys by name alone (so a helper that was just deleted is still known for what it was).
 * Side keys never show as locks; a waiters queue updates its lock's `waiters` field instead.
 */
export function sideKeyOf(key: Buffer): SideKey | null {
  const k = key.toString('latin1');
  let m: RegExpExecArray | null;
  // lockscope's own audit log (a stream) matches the default `*lock*` pattern; it is not a lock.
  if (k === AUDIT_STREAM) return { library: 'lockscope', parent: null, kind: 'internal' };
  // lockscope's lock library keeps fencing counters at `fence:{<lock key>}`; the simulator at `lockscope:sim:fence:r<i>`.
  if (k.startsWith('fence:{') && k.endsWith('}')) {
    return { library: 'lockscope', parent: Buffer.from(k.slice(7, -1), 'latin1'), kind: 'internal' };
  }
  if (k.startsWith('lockscope:sim:fence:')) return { library: 'lockscope', parent: null, kind: 'internal' };
  if (k.startsWith('lock-signal:')) {
    return { library: 'python-redis-lock', parent: Buffer.from(`lock:${k.slice(12)}`, 'latin1'), kind: 'signal' };
  }
  if (k.startsWith('redisson_lock_queue:')) {
    return { library: 'redisson', parent: Buffer.from(redissonName(k.slice(20)), 'latin1'), kind: 'waiters' };
  }
  if (k.startsWith('redisson_lock_timeout:')) {
    return { library: 'redisson', parent: Buffer.from(redissonName(k.slice(22)), 'latin1'), kind: 'timeout' };
  }
  if (k.startsWith('redisson_unlock_latch:') && (m = /^redisson_unlock_latch:(\{.*\}|.*):[^:]+$/.exec(k))) {
    return { library: 'redisson', parent: Buffer.from(redissonName(m[1]!), 'latin1'), kind: 'signal' };
  }
  // Read-write lock reader timeouts: `{name}:<uuid>:<threadId>:rwlock_timeout:<n>`.
  if (k.includes(':rwlock_timeout:') && (m = RWLOCK_TIMEOUT.exec(k))) {
    return { library: 'redisson-rw', parent: Buffer.from(redissonName(m[1]!), 'latin1'), kind: 'timeout' };
  }
  if (k.startsWith('uniquejobs:') && (m = /^(uniquejobs:.*):(QUEUED|PRIMED|INFO)$/.exec(k))) {
    return { library: 'sidekiq-unique', parent: Buffer.from(`${m[1]!}:LOCKED`, 'latin1'), kind: 'internal' };
  }
  // BullMQ's queue internals (`bull:<queue>:wait`, `:meta`, job hashes...) match `*lock*` when the queue's name
  // contains "lock"; only `<prefix>:<queue>:<jobId>:lock` is a lock.
  if (k.startsWith('bull:') && !k.endsWith(':lock')) return { library: 'bullmq', parent: null, kind: 'internal' };
  return null;
}

/** The owner a lock is known by so far: a shared read lock keeps showing the same reader while that one stays. */
export interface CurrentOwner {
  ownedBy(owner: Buffer | null): boolean;
}

/**
 * Works out which library wrote a key, and who holds it, from the key and a probe. Pure and synchronous.
 * `current` (the tracked lock, if any) only breaks ties: which reader of a shared read lock stands for it.
 */
export function recognise(key: Buffer, probe: Present, current?: CurrentOwner): Recognition {
  const side = sideKeyOf(key);
  if (side) return { ...base(side.library, null), role: 'side-key' };
  const keyText = key.toString('latin1');
  let r: Recognition;
  if (probe.type === 'hash') r = recogniseHash(keyText, probe.fields ?? [], probe.size, probe.sampled === true, current);
  else if (probe.type === 'string' && probe.value) r = recogniseString(keyText, probe.value);
  else return base('unknown', null);
  owned(r.fields);
  return r;
}

/** Readers listed by name in a shared read lock's `readers` field (the count is in `holders`). */
const READERS_LISTED = 8;

function recogniseHash(keyText: string, fields: HashField[], size: number, sampled: boolean, current?: CurrentOwner): Recognition {
  const holders: { field: Buffer; text: string; m: RegExpExecArray; count: Buffer; cut: number }[] = [];
  let mode: string | null = null;
  for (const [f, v, cut = 0] of fields) {
    const text = f.toString('latin1');
    const m = cut & CUT_NAME ? null : REDISSON_FIELD.exec(text);
    if (m) holders.push({ field: f, text, m, count: v, cut });
    else if (text === 'mode' && !(cut & CUT_VALUE)) mode = v.toString('latin1');
  }
  if (holders.length > 0) {
    // The writer holds a read-write lock in write mode (it may hold read entries too). In read mode every holder
    // is a reader and the lock is theirs together: it is shown by the reader it was shown by before while that
    // one stays, else the first in a stable order, so readers coming and going change no owner.
    const writer = holders.find((h) => h.m[3] !== undefined);
    const shared = mode === 'read' && !writer;
    const first = () => holders.reduce((a, b) => (b.text < a.text ? b : a));
    const holder = writer ?? (shared && current ? holders.find((h) => current.ownedBy(h.field)) : undefined) ?? first();
    const r = base(mode !== null ? 'redisson-rw' : 'redisson', holder.field);
    r.shared = shared;
    r.ownerCut = (holder.cut & CUT_VALUE) !== 0;
    r.fields = { clientId: holder.m[1]!, threadId: holder.m[2]! };
    if (mode !== null) r.fields.mode = mode;
    // Every field but `mode` is a holder: count them all, also those of a hash bigger than what was read.
    const total = fields.length < size ? size - (mode !== null ? 1 : 0) : holders.length;
    if (total > 1) r.fields.holders = String(total);
    if (shared) {
      const names = holders.map((h) => h.text).sort();
      const listed = names.slice(0, READERS_LISTED).join(', ');
      r.fields.readers = total > READERS_LISTED ? `${listed} … (${total - READERS_LISTED} more)` : listed;
    }
    const count = holder.cut & CUT_VALUE ? Number.NaN : Number.parseInt(holder.count.toString('latin1'), 10);
    r.reentryCount = Number.isFinite(count) ? count : null;
    r.renewal = RENEWAL.redisson;
    return r;
  }
  // A random sample of a big hash names no owner: a different one would show at every probe.
  if (sampled) return base('unknown', null);
  const sidekiq = SIDEKIQ_LOCKED.exec(keyText);
  if (sidekiq && keyText.startsWith('uniquejobs:') && fields.length > 0) {
    return recogniseSidekiq(sidekiq[1]!, fields, size);
  }
  const [name, , cut = 0] = fields[0] ?? [null];
  const r = base('unknown', name ?? null);
  r.ownerCut = cut !== 0;
  r.fields = { fields: fields.slice(0, 5).map(([f, , c = 0]) => f.toString('latin1') + (c & CUT_NAME ? '…' : '')).join(', ') };
  return r;
}

/**
 * sidekiq-unique-jobs `<digest>:LOCKED`, a hash of job id → lock data: v7/v8 `lock.lua` writes the time
 * (`HSET locked job_id current_time`, float seconds); v9 `lock_v9.lua` writes the JSON `Locksmith#lock_metadata`
 * builds (`worker`, `queue`, `limit`, `timeout`, `ttl`, `type`, `lock_args`, `time` (float seconds), `at`).
 * With a lock limit above 1 several jobs hold it: the first read stands for them, `holders` counts them.
 */
function recogniseSidekiq(digest: string, fields: HashField[], size: number): Recognition {
  const [jid, value, cut = 0] = fields[0]!;
  const r = base('sidekiq-unique', jid);
  r.ownerCut = cut !== 0;
  r.fields = { digest, jid: jid.toString('latin1') };
  if (size > 1) r.fields.holders = String(size);
  const text = value.toString('utf8');
  let seconds = Number(text);
  if (text.startsWith('{')) {
    const meta = jsonFields(text, ['worker', 'queue', 'type', 'lock_args', 'limit', 'ttl', 'time']);
    const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
    const put = (name: string, v: string | undefined) => {
      if (v !== undefined && v !== '') r.fields[name] = v.length > 200 ? `${v.slice(0, 200)}…` : v;
    };
    put('worker', str(meta.worker));
    put('queue', str(meta.queue));
    put('lockType', str(meta.type));
    if (meta.lock_args !== undefined && meta.lock_args !== null) put('lockArgs', JSON.stringify(meta.lock_args));
    put('limit', str(meta.limit));
    put('ttl', str(meta.ttl));
    seconds = typeof meta.time === 'number' ? meta.time : Number.NaN;
  }
  if (Number.isFinite(seconds) && seconds * 1000 > YEAR_2000_MS && seconds * 1000 < YEAR_2100_MS) r.acquiredAt = Math.round(seconds * 1000);
  return r;
}

/**
 * Named top-level members of a JSON object. A value cut short by the probe's bound is no longer JSON: then each
 * member that is there in full (a string, number, boolean or null) is picked out on its own.
 */
function jsonFields(text: string, names: string[]): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    const out: Record<string, unknown> = {};
    for (const name of names) {
      const m = new RegExp(`"${name}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*"|-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?|true|false|null)`).exec(text);
      if (m) {
        try {
          out[name] = JSON.parse(m[1]!);
        } catch {
          // not a whole value
        }
      }
    }
    return out;
  }
}

/**
 * When a `uuid1().hex` token was made (epoch ms, on the client's clock), or null when the text is not one: version
 * nibble 1, RFC 4122 variant, and a timestamp from this century. redis-py makes its token in `acquire()`.
 */
export function uuid1Time(text: string): number | null {
  if (!HEX32.test(text) || text[12] !== '1' || !'89ab'.includes(text[16]!)) return null;
  const ticks =
    BigInt(`0x${text.slice(13, 16)}`) * 2n ** 48n + BigInt(`0x${text.slice(8, 12)}`) * 2n ** 32n + BigInt(`0x${text.slice(0, 8)}`);
  const ms = UUID1_EPOCH_MS + Number(ticks / 10_000n);
  return ms > YEAR_2000_MS && ms < YEAR_2100_MS ? ms : null;
}

/** redis-py's default token is `uuid1().hex`. */
export function isUuid1Hex(text: string): boolean {
  return uuid1Time(text) !== null;
}

function recogniseString(keyText: string, value: Buffer): Recognition {
  const text = value.toString('latin1');
  const bull = BULLMQ_KEY.exec(keyText);
  const bullValue = bull && BULLMQ_VALUE.exec(text);
  if (bull && bullValue) {
    const r = base('bullmq', value);
    const prefixAndQueue = bull[1]!;
    const cut = prefixAndQueue.lastIndexOf(':');
    r.fields = {
      queue: cut >= 0 ? prefixAndQueue.slice(cut + 1) : prefixAndQueue,
      jobId: bull[2]!,
      worker: bullValue[1]!,
      lockNumber: bullValue[2]!,
    };
    if (cut >= 0) r.fields.prefix = prefixAndQueue.slice(0, cut);
    r.renewal = RENEWAL.bullmq;
    return r;
  }
  if (text.startsWith('ADDED:')) {
    const shed = SHEDLOCK_VALUE.exec(value.toString('utf8'));
    if (shed) {
      const r = base('shedlock', value);
      const at = Date.parse(shed[1]!);
      r.acquiredAt = Number.isNaN(at) ? null : at;
      r.fields = { lockedAt: shed[1]!, host: shed[2]! };
      if (shed[3]) r.fields.instance = shed[3];
      const name = /^([^:]*):([^:]*):(.*)$/.exec(keyText);
      if (name) Object.assign(r.fields, { env: name[2]!, name: name[3]! });
      return r;
    }
  }
  if (LOCKSCOPE.test(text)) return base('lockscope', value);
  if (keyText.startsWith('lock:')) {
    // python-redis-lock: 16 raw random bytes (≤ 2.x) or base64 of 18 random bytes (≥ 3.0), under `lock:<name>`.
    // Sixteen printable characters are somebody's text token, not urandom(16).
    const raw16 = value.length === 16 && !isPlainAscii(value);
    if (raw16 || PRL_B64.test(text)) {
      const r = base('python-redis-lock', value);
      r.fields = { name: keyText.slice('lock:'.length), id: raw16 ? 'raw 16 bytes (≤ 2.x)' : 'base64 (≥ 3.0)' };
      r.renewal = RENEWAL.pythonRedisLock;
      return r;
    }
  }
  if (REDSYNC.test(text)) return base('redsync', value);
  if (HEX32.test(text)) {
    const made = uuid1Time(text);
    if (made !== null) return { ...base('redis-py', value), fields: { token: 'uuid1' }, acquiredAt: made };
    const r = base('redlock', value);
    r.renewal = RENEWAL.redlock;
    return r;
  }
  if (UUID_V4.test(text) && keyText.includes(':')) {
    // Spring's value is one UUID per registry (not per lock): the registry tells which JVM holds it.
    const r = base('spring', value);
    const cut = keyText.indexOf(':');
    r.fields = { registry: keyText.slice(0, cut), lockKey: keyText.slice(cut + 1), clientId: text };
    r.renewal = RENEWAL.spring;
    return r;
  }
  // Str::random(16) mixes cases (all one case: p ≈ 2·10⁻⁴); a cache-prefixed key says Laravel by itself.
  if (LARAVEL.test(text) && ((/[a-z]/.test(text) && /[A-Z]/.test(text)) || LARAVEL_KEY.test(keyText))) {
    return base('laravel', value);
  }
  return base('generic', value);
}

function isPlainAscii(buf: Buffer): boolean {
  for (const b of buf) if (b < 0x20 || b > 0x7e) return false;
  return isPlainText(buf);
}
