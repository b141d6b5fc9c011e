/**
 * How to wake a library's waiters after lockscope deleted its lock (LOCK-FORMATS.md, "Waking waiters after a
 * force-release"). Pure: decided from the key and the owner the caller saw, which the delete has just proven
 * to be the current owner, so the plan matches the lock that was actually deleted.
 */

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
/** Redisson holder field: `<client uuid>:<thread id>`, `:write` for a read-write lock's writer. */
export const REDISSON_FIELD = new RegExp(`^${UUID}:\\d+(:write)?$`);

export type WakePlan =
  | {
      kind: 'redisson';
      /** `redisson_lock__channel:{name}`: RLock waiters; message 0 (UNLOCK_MESSAGE) wakes one per client. */
      channel: Buffer;
      /** `redisson_rwlock:{name}`: read-write lock waiters; message 1 (READ_UNLOCK_MESSAGE) wakes all. */
      rwChannel: Buffer;
    }
  | {
      kind: 'python-redis-lock';
      /** `lock-signal:<name>`: waiters BLPOP it. */
      signalKey: Buffer;
    };

/** python-redis-lock's default `signal_expire`: the signal list lives this long (ms), so it never piles up. */
export const PYTHON_SIGNAL_EXPIRE_MS = 1000;

const LOCK_PREFIX = Buffer.from('lock:');

export function wakePlan(key: Buffer, owner: Buffer): WakePlan | null {
  // Applied only if the key turns out to be a hash (Redisson) / a string (python-redis-lock): the script checks.
  if (REDISSON_FIELD.test(owner.toString('latin1'))) {
    return { kind: 'redisson', channel: redissonName('redisson_lock__channel', key), rwChannel: redissonName('redisson_rwlock', key) };
  }
  // python-redis-lock: `lock:<name>` holding 16 random bytes (the same rule the inspector recognises it by).
  if (key.length > LOCK_PREFIX.length && key.subarray(0, LOCK_PREFIX.length).equals(LOCK_PREFIX) && owner.length === 16) {
    return { kind: 'python-redis-lock', signalKey: Buffer.concat([Buffer.from('lock-signal:'), key.subarray(LOCK_PREFIX.length)]) };
  }
  return null;
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
