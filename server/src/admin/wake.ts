/**
 * How to wake a library's waiters after lockscope deleted its lock (LOCK-FORMATS.md, "Waking waiters after a
 * force-release"). Decided by the inspector's own recognition of the key and the owner the caller named, which
 * the delete has just proven to be the current owner; the script applies the part matching the key's type.
 */
import { MAX_VALUE_BYTES } from '../targets/node/probe';
import { recognise } from '../model/recognise';

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
/** Redisson holder field: `<client uuid>:<thread id>`, `:write` for a read-write lock's writer. */
const REDISSON_FIELD = new RegExp(`^${UUID}:\\d+(:write)?$`);

export interface WakePlan {
  /** Used if the key is a hash held by this field: Redisson's channels. */
  redisson: {
    /** `redisson_lock__channel:{name}`: RLock waiters; message 0 (UNLOCK_MESSAGE) wakes one per client. */
    channel: Buffer;
    /** `redisson_rwlock:{name}`: read-write lock waiters; message 1 (READ_UNLOCK_MESSAGE) wakes all. */
    rwChannel: Buffer;
    /** `redisson_lock_queue:{name}` (LIST) and `redisson_lock_timeout:{name}` (ZSET): a fair lock's waiters, in order. */
    fairQueue: Buffer;
    fairTimeouts: Buffer;
  } | null;
  /** Used if the key is a string with this value: python-redis-lock's `lock-signal:<name>` list (waiters BLPOP it). */
  pythonSignal: Buffer | null;
  /**
   * Used if the key is a string with this value: Spring `RedisLockRegistry` (pub/sub mode) unlock channels,
   * `<registryKey>-channel:<key>`, each published the full key. Its `UNLINK_UNLOCK_SCRIPT` does
   * `PUBLISH ARGV[2] KEYS[1]` with ARGV[2] = `<registryKey>-channel:<registryKey>:<path>`; waiters
   * pattern-subscribe to `<registryKey>-channel:*` and compare the message with their own lock key. The key says
   * only that the registry key ends at some `:`, so there is one channel per candidate (at most
   * `SPRING_MAX_CHANNELS`): a registry listening on another candidate gets a message naming a key it does not
   * wait for, or one that is this very lock under its own name; either way no wrong lock is woken.
   */
  springChannels: Buffer[];
}

/** Most Spring channel candidates published on (registry keys with more colons than this are not woken). */
export const SPRING_MAX_CHANNELS = 8;

/** python-redis-lock's default `signal_expire`: the signal list lives this long (ms), so it never piles up. */
export const PYTHON_SIGNAL_EXPIRE_MS = 1000;

export function wakePlan(key: Buffer, owner: Buffer): WakePlan {
  const asString = recognise(key, { exists: true, type: 'string', pttlMs: -1, size: owner.length, value: owner.subarray(0, MAX_VALUE_BYTES), fields: null });
  const asHash = recognise(key, { exists: true, type: 'hash', pttlMs: -1, size: 1, value: null, fields: [[owner, Buffer.from('1')]] });
  const redissonHash = (asHash.library === 'redisson' || asHash.library === 'redisson-rw') && REDISSON_FIELD.test(owner.toString('latin1'));
  const python = asString.library === 'python-redis-lock' && key.subarray(0, 5).toString('latin1') === 'lock:';
  return {
    redisson: redissonHash
      ? {
          channel: redissonName('redisson_lock__channel', key),
          rwChannel: redissonName('redisson_rwlock', key),
          fairQueue: redissonName('redisson_lock_queue', key),
          fairTimeouts: redissonName('redisson_lock_timeout', key),
        }
      : null,
    pythonSignal: python ? Buffer.concat([Buffer.from('lock-signal:'), key.subarray(5)]) : null,
    springChannels: asString.library === 'spring' ? springChannels(key) : [],
  };
}

/** `<prefix>-channel:<key>` for each prefix of `key` that ends before a `:` (the possible registry keys). */
export function springChannels(key: Buffer): Buffer[] {
  const channels: Buffer[] = [];
  for (let at = key.indexOf(0x3a); at > 0 && channels.length < SPRING_MAX_CHANNELS; at = key.indexOf(0x3a, at + 1)) {
    channels.push(Buffer.concat([key.subarray(0, at), Buffer.from('-channel:'), key]));
  }
  return channels;
}

/**
 * Redisson's `prefixName(prefix, name)`: `prefix:{name}`, or `prefix:name` when the name already contains `{`
 * (the caller chose its own hash tag).
 */
export function redissonName(prefix: string, name: Buffer): Buffer {
  return name.includes(0x7b)
    ? Buffer.concat([Buffer.from(`${prefix}:`), name])
    : Buffer.concat([Buffer.from(`${prefix}:{`), name, Buffer.from('}')]);
}

/** The holder shown for a hash lock: Redisson's writer field first, then any Redisson holder, else the first field. */
export function hashHolder(fields: Buffer[]): Buffer | null {
  const holders = fields.filter((f) => REDISSON_FIELD.test(f.toString('latin1')));
  return holders.find((f) => f.toString('latin1').endsWith(':write')) ?? holders[0] ?? fields.find((f) => f.toString() !== 'mode') ?? null;
}
