import type { LibraryId } from '../../../shared/locks';
import type { ProbeResult } from './probe';

type Present = Extract<ProbeResult, { exists: true }>;

export interface Recognition {
  library: LibraryId;
  /** `side-key`: a helper key a library keeps next to a lock (wait queue, signal list): not a lock itself. */
  role: 'lock' | 'side-key';
  /** The bytes that identify the holder (string value or hash field), or null. */
  owner: Buffer | null;
  /** Parts decoded from the owner and key, shown in the detail view. */
  fields: Record<string, string>;
  reentryCount: number | null;
  /** Acquire time decoded from the value (epoch ms), when the library stores one. */
  acquiredAt: number | null;
  /** The library's renewal cadence for a lock whose largest observed TTL is `maxTtlMs`; null if it never renews. */
  renewalCadence: ((maxTtlMs: number) => number) | null;
  /** True when the library renews every lock it holds (so a missing renewal is news even before the first one). */
  alwaysRenews: (maxTtlMs: number) => boolean;
}

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const REDISSON_FIELD = new RegExp(`^(${UUID}):(\\d+)(:write)?$`);
const BULLMQ_VALUE = new RegExp(`^(${UUID}):(\\d+)$`);
const BULLMQ_KEY = /^(.+):([^:]+):lock$/;
const SHEDLOCK_VALUE = /^ADDED:([^@]+)@(.*?)(?::(${UUID}))?$/;
const UUID_ONLY = new RegExp(`^${UUID}$`);
const HEX32 = /^[0-9a-f]{32}$/;
const REDSYNC = /^[A-Za-z0-9+/]{22}==$/;
const LARAVEL = /^[A-Za-z0-9]{16}$/;
/** lockscope's own lock library writes `ls1:<32 hex>` so the inspector can tell its own locks apart. */
const LOCKSCOPE = /^ls1:[0-9a-f]{32}$/;

const SIDE_KEYS = [
  /^lock-signal:/, // python-redis-lock waiters
  /^redisson_lock_queue:/,
  /^redisson_lock_timeout:/,
  /^redisson_unlock_latch:/,
  /:rwlock_timeout:/,
  /^uniquejobs:.*:(QUEUED|PRIMED|INFO)$/,
];

const never = () => false;

function base(library: LibraryId, owner: Buffer | null): Recognition {
  return {
    library,
    role: 'lock',
    owner,
    fields: {},
    reentryCount: null,
    acquiredAt: null,
    renewalCadence: null,
    alwaysRenews: never,
  };
}

/** Works out which library wrote a key, and who holds it, from the key and a probe. Pure and synchronous. */
export function recognise(key: Buffer, probe: Present): Recognition {
  const keyText = key.toString('latin1');
  if (SIDE_KEYS.some((re) => re.test(keyText))) return { ...base('unknown', null), role: 'side-key' };
  if (probe.type === 'hash') return recogniseHash(keyText, probe.fields ?? []);
  if (probe.type === 'string' && probe.value) return recogniseString(keyText, probe.value);
  return base('unknown', null);
}

function recogniseHash(keyText: string, fields: [Buffer, Buffer][]): Recognition {
  const names = fields.map(([f]) => f.toString('latin1'));
  const holders = fields.filter(([f]) => REDISSON_FIELD.test(f.toString('latin1')));
  if (holders.length > 0) {
    const mode = fields.find(([f]) => f.toString() === 'mode')?.[1].toString();
    const writer = holders.find(([f]) => f.toString().endsWith(':write'));
    const [field, count] = writer ?? holders[0]!;
    const m = REDISSON_FIELD.exec(field.toString())!;
    const r = base(mode ? 'redisson-rw' : 'redisson', field);
    r.fields = { clientId: m[1]!, threadId: m[2]! };
    if (mode) r.fields.mode = mode;
    if (holders.length > 1) r.fields.holders = String(holders.length);
    r.reentryCount = Number.parseInt(count.toString(), 10) || null;
    // Watchdog renews every leaseTime/3 (10 s for the default 30 s lease); an explicit leaseTime disables it.
    r.renewalCadence = (maxTtl) => Math.round(maxTtl / 3);
    r.alwaysRenews = (maxTtl) => maxTtl > 25_000 && maxTtl <= 30_000;
    return r;
  }
  if (keyText.startsWith('uniquejobs:') && keyText.endsWith(':LOCKED')) {
    const r = base('sidekiq-unique', fields[0]?.[0] ?? null);
    r.fields = { digest: keyText.slice('uniquejobs:'.length, -':LOCKED'.length) };
    return r;
  }
  const r = base('unknown', fields[0]?.[0] ?? null);
  r.fields = { fields: names.slice(0, 5).join(', ') };
  return r;
}

function recogniseString(keyText: string, value: Buffer): Recognition {
  const text = value.toString('latin1');
  const bull = BULLMQ_KEY.exec(keyText);
  const bullValue = BULLMQ_VALUE.exec(text);
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
    // The worker extends every lockRenewTime/2 = lockDuration/4 (7.5 s for the default 30 s).
    r.renewalCadence = (maxTtl) => Math.round(maxTtl / 4);
    r.alwaysRenews = () => true;
    return r;
  }
  const shed = SHEDLOCK_VALUE.exec(value.toString('utf8'));
  if (shed) {
    const r = base('shedlock', value);
    const at = Date.parse(shed[1]!);
    r.acquiredAt = Number.isNaN(at) ? null : at;
    r.fields = { lockedAt: shed[1]!, host: shed[2]! };
    if (shed[3]) r.fields.instance = shed[3];
    const name = /^job-lock:([^:]*):(.*)$/.exec(keyText);
    if (name) Object.assign(r.fields, { env: name[1]!, name: name[2]! });
    return r;
  }
  if (LOCKSCOPE.test(text)) return base('lockscope', value);
  if (keyText.startsWith('lock:') && value.length === 16) {
    const r = base('python-redis-lock', value);
    r.fields = { name: keyText.slice('lock:'.length) };
    r.renewalCadence = (maxTtl) => Math.round((maxTtl * 2) / 3);
    return r;
  }
  if (REDSYNC.test(text)) return base('redsync', value);
  if (HEX32.test(text)) {
    if (text[12] === '1') return { ...base('redis-py', value), fields: { uuid: 'uuid1' } };
    const r = base('redlock', value);
    // redlock's using() extends the lock 500 ms before it would expire.
    r.renewalCadence = (maxTtl) => Math.max(maxTtl - 500, 100);
    return r;
  }
  if (UUID_ONLY.test(text)) {
    const r = base('spring', value);
    const cut = keyText.indexOf(':');
    if (cut > 0) r.fields = { registry: keyText.slice(0, cut), lockKey: keyText.slice(cut + 1) };
    r.renewalCadence = (maxTtl) => Math.round(maxTtl / 3);
    return r;
  }
  if (LARAVEL.test(text)) return base('laravel', value);
  return base('generic', value);
}
