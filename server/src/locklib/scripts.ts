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
 * works on every Redis ≥ 2.8.13 and on Valkey. An error *reply* (ACL forbids COMMAND, a proxy refuses it) is an
 * answer too: the Lua script. A failure to get any reply (connection closed, not writable) is no answer at all:
 * null, so that the caller asks again instead of settling on Lua for good.
 */
export async function detectReleaseMode(redis: Redis): Promise<ReleaseMode | null> {
  let reply: unknown;
  try {
    reply = await redis.call('COMMAND', 'INFO', 'DELEX', 'DELIFEQ');
  } catch (err) {
    return isReplyError(err) ? 'lua' : null;
  }
  if (Array.isArray(reply) && reply[0]) return 'delex';
  if (Array.isArray(reply) && reply[1]) return 'delifeq';
  return 'lua';
}

/** An error Redis itself answered with (as opposed to a connection or timeout failure). */
export function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

/** Redis's WRONGTYPE reply (also from inside a script): the key holds another kind of value. */
export function isWrongType(err: unknown): boolean {
  return isReplyError(err) && /^WRONGTYPE\b/.test(err.message);
}

/**
 * A reply that says the command itself is not available here — unknown (an older server or a proxy that
 * advertised it anyway), forbidden by ACL, or not understood — as opposed to an answer about the key.
 */
export function isCommandRefused(err: unknown): boolean {
  return isReplyError(err) && /^(ERR unknown command|ERR unknown subcommand|ERR syntax error|ERR wrong number of arguments|NOPERM)/i.test(err.message);
}
