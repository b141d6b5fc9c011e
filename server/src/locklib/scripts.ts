import type { Redis } from 'ioredis';

/**
 * The server-side halves of the lock protocol. Each script touches only the keys it is given, so all of them
 * are safe on Redis Cluster as long as the lock key and its fence key share a slot (the default fence key
 * `fence:{<key>}` hashes on the lock key's name, which is the same slot when the key has no `{...}` tag).
 */

/**
 * Take the lock and draw the next fencing token in one atomic step.
 * KEYS[1] lock key, KEYS[2] fence counter; ARGV[1] token, ARGV[2] TTL ms, ARGV[3] fence-counter TTL ms (0 = none).
 * Returns the fencing token, or false (nil) when the lock is held.
 */
export const ACQUIRE_FENCED_LUA = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = redis.call('INCR', KEYS[2])
  local fenceTtl = tonumber(ARGV[3])
  if fenceTtl > 0 and redis.call('PTTL', KEYS[2]) < fenceTtl then redis.call('PEXPIRE', KEYS[2], fenceTtl) end
  return fence
end
return false
`;

/** Compare-and-delete. Returns 1 when it deleted our lock, 0 when the key is gone or someone else's. */
export const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Compare-and-PEXPIRE: resets the TTL to ARGV[2] ms. Returns 1 when it extended our lock, 0 otherwise. */
export const EXTEND_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** How release() deletes: Redis 8.4's `DELEX key IFEQ token`, Valkey 9's `DELIFEQ key token`, or the Lua script. */
export type ReleaseMode = 'delex' | 'delifeq' | 'lua';

interface LockCommands {
  lockscopeAcquireFenced(lockKey: string, fenceKey: string, token: string, ttlMs: number, fenceTtlMs: number): Promise<number | null>;
  lockscopeRelease(key: string, token: string): Promise<number>;
  lockscopeExtend(key: string, token: string, ttlMs: number): Promise<number>;
}

/** Registers the scripts on a connection once (ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT). */
export function lockCommands(redis: Redis): LockCommands {
  if (!('lockscopeRelease' in redis)) {
    redis.defineCommand('lockscopeAcquireFenced', { numberOfKeys: 2, lua: ACQUIRE_FENCED_LUA });
    redis.defineCommand('lockscopeRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    redis.defineCommand('lockscopeExtend', { numberOfKeys: 1, lua: EXTEND_LUA });
  }
  return redis as unknown as LockCommands;
}

/**
 * Asks the server which owner-checked delete it has. `COMMAND INFO` answers nil for unknown commands, so this
 * works on every Redis ≥ 2.8.13 and on Valkey. Any failure (ACL forbids COMMAND, proxy) → the Lua script.
 */
export async function detectReleaseMode(redis: Redis): Promise<ReleaseMode> {
  try {
    const reply = (await redis.call('COMMAND', 'INFO', 'DELEX', 'DELIFEQ')) as unknown[];
    if (Array.isArray(reply) && reply[0]) return 'delex';
    if (Array.isArray(reply) && reply[1]) return 'delifeq';
  } catch {
    // fall through
  }
  return 'lua';
}
