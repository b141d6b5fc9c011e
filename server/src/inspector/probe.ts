import type { Redis } from 'ioredis';
import type { RedisKeyType } from '../../../shared/locks';

/**
 * One round trip reads everything lockscope needs about a batch of keys: type, PTTL, size and a bounded
 * prefix of the owner (string prefix, or hash fields). Bounded reads keep every call well under 1 ms even
 * when a key holds megabytes.
 */
const PROBE_LUA = `
local maxBytes = tonumber(ARGV[1])
local maxFields = tonumber(ARGV[2])
local out = {}
for i, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k).ok
  if t == 'none' then
    out[i] = {t, -2, 0, ''}
  else
    local pttl = redis.call('PTTL', k)
    if t == 'string' then
      out[i] = {t, pttl, redis.call('STRLEN', k), redis.call('GETRANGE', k, 0, maxBytes - 1)}
    elseif t == 'hash' then
      local n = redis.call('HLEN', k)
      local fields
      if n <= maxFields then fields = redis.call('HGETALL', k)
      else fields = redis.call('HSCAN', k, 0, 'COUNT', maxFields)[2] end
      out[i] = {t, pttl, n, fields}
    elseif t == 'list' then out[i] = {t, pttl, redis.call('LLEN', k), ''}
    elseif t == 'set' then out[i] = {t, pttl, redis.call('SCARD', k), ''}
    elseif t == 'zset' then out[i] = {t, pttl, redis.call('ZCARD', k), ''}
    elseif t == 'stream' then out[i] = {t, pttl, redis.call('XLEN', k), ''}
    else out[i] = {t, pttl, 0, ''} end
  end
end
return out
`;

/** The most bytes of a string value lockscope reads (owner tokens are short; anything longer is shown truncated). */
export const MAX_VALUE_BYTES = 512;
/** The most hash fields read per key (Redisson keeps one field per holder). */
export const MAX_HASH_FIELDS = 32;
/** Keys per script call: small enough that one call stays far below 1 ms. */
export const PROBE_BATCH = 100;

export type ProbeResult =
  | { exists: false }
  | {
      exists: true;
      type: RedisKeyType;
      pttlMs: number;
      /** Bytes of a string value, or field count of a hash, or element count of a collection. */
      size: number;
      /** String prefix (≤ MAX_VALUE_BYTES), or null for non-strings. */
      value: Buffer | null;
      /** Hash field/value pairs (≤ MAX_HASH_FIELDS), or null for non-hashes. */
      fields: [Buffer, Buffer][] | null;
    };

export interface ProbedKey {
  key: Buffer;
  result: ProbeResult;
  /** Local clock (epoch ms) halfway through the round trip: the best estimate of when PTTL was read. */
  observedAt: number;
}

type RawEntry = [Buffer, number, number, Buffer | Buffer[]];

interface ProbeCommands {
  lockscopeProbeBuffer(numKeys: number, ...args: (Buffer | string | number)[]): Promise<RawEntry[]>;
}

const KNOWN_TYPES = new Set(['string', 'hash', 'list', 'set', 'zset', 'stream']);

export function installProbe(redis: Redis): void {
  if (!('lockscopeProbe' in redis)) redis.defineCommand('lockscopeProbe', { lua: PROBE_LUA });
}

/** Probes keys in script batches, all pipelined on the one connection. */
export async function probeKeys(redis: Redis, keys: Buffer[], now: () => number = Date.now): Promise<ProbedKey[]> {
  installProbe(redis);
  const cmd = redis as unknown as ProbeCommands;
  const batches: Promise<ProbedKey[]>[] = [];
  for (let i = 0; i < keys.length; i += PROBE_BATCH) {
    const batch = keys.slice(i, i + PROBE_BATCH);
    const sentAt = now();
    batches.push(
      cmd.lockscopeProbeBuffer(batch.length, ...batch, MAX_VALUE_BYTES, MAX_HASH_FIELDS).then((raw) => {
        const observedAt = Math.round((sentAt + now()) / 2);
        return raw.map((entry, j) => ({ key: batch[j]!, result: decodeEntry(entry), observedAt }));
      }),
    );
  }
  return (await Promise.all(batches)).flat();
}

function decodeEntry([typeBuf, pttl, size, payload]: RawEntry): ProbeResult {
  const t = typeBuf.toString();
  if (t === 'none' || pttl === -2) return { exists: false };
  const type = (KNOWN_TYPES.has(t) ? t : 'other') as RedisKeyType;
  let fields: [Buffer, Buffer][] | null = null;
  if (type === 'hash' && Array.isArray(payload)) {
    fields = [];
    for (let i = 0; i + 1 < payload.length; i += 2) fields.push([payload[i]!, payload[i + 1]!]);
  }
  const value = type === 'string' && Buffer.isBuffer(payload) ? payload : null;
  return { exists: true, type, pttlMs: pttl, size, value, fields };
}
