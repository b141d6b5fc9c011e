import type { Redis } from 'ioredis';
import type { RedisKeyType } from '../../../shared/locks';

/**
 * One round trip reads everything lockscope needs about a batch of keys: type, PTTL, size and a bounded
 * prefix of the owner (string prefix, or hash fields). Bounded reads keep every call well under 1 ms even
 * when a key holds megabytes.
 *
 * The reply is flat, four entries a key: type code, PTTL, size, payload. A gone key costs one call (PTTL = -2);
 * a string three (TYPE, PTTL, GETRANGE), with STRLEN only when the prefix filled the whole read. Never a call that
 * can fail (WRONGTYPE errors would show in the server's error stats).
 */
const PROBE_LUA = `
local maxBytes = tonumber(ARGV[1])
local maxFields = tonumber(ARGV[2])
local out = {}
local n = 0
for _, k in ipairs(KEYS) do
  local pttl = redis.call('PTTL', k)
  if pttl == -2 then
    out[n + 1] = 0; out[n + 2] = -2; out[n + 3] = 0; out[n + 4] = ''
  else
    local t = redis.call('TYPE', k).ok
    if t == 'string' then
      local v = redis.call('GETRANGE', k, 0, maxBytes - 1)
      local size = #v
      if size >= maxBytes then size = redis.call('STRLEN', k) end
      out[n + 1] = 1; out[n + 2] = pttl; out[n + 3] = size; out[n + 4] = v
    elseif t == 'hash' then
      local size = redis.call('HLEN', k)
      local fields
      if size <= maxFields then fields = redis.call('HGETALL', k)
      else fields = redis.call('HSCAN', k, 0, 'COUNT', maxFields)[2] end
      out[n + 1] = 2; out[n + 2] = pttl; out[n + 3] = size; out[n + 4] = fields
    else
      local code, size = 7, 0
      if t == 'list' then code, size = 3, redis.call('LLEN', k)
      elseif t == 'set' then code, size = 4, redis.call('SCARD', k)
      elseif t == 'zset' then code, size = 5, redis.call('ZCARD', k)
      elseif t == 'stream' then code, size = 6, redis.call('XLEN', k) end
      out[n + 1] = code; out[n + 2] = pttl; out[n + 3] = size; out[n + 4] = ''
    end
  end
  n = n + 4
end
return out
`;

/** Type codes of the probe reply. */
const TYPES: readonly (RedisKeyType | null)[] = [null, 'string', 'hash', 'list', 'set', 'zset', 'stream', 'other'];

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

type RawReply = (number | Buffer | Buffer[])[];

interface ProbeCommands {
  lockscopeProbeBuffer(numKeys: number, ...args: (Buffer | string | number)[]): Promise<RawReply>;
}

export function installProbe(redis: Redis): void {
  if (!('lockscopeProbe' in redis)) redis.defineCommand('lockscopeProbe', { lua: PROBE_LUA });
}

/**
 * Probes keys in script batches, all pipelined on the one connection. Each batch's PTTLs were read while Redis
 * ran it: after the previous batch's reply left and before its own arrived, so the midpoint of that window (not
 * of the whole pipeline) is when they were read.
 */
export async function probeKeys(redis: Redis, keys: Buffer[], now: () => number = Date.now): Promise<ProbedKey[]> {
  installProbe(redis);
  const cmd = redis as unknown as ProbeCommands;
  const batches: Promise<ProbedKey[]>[] = [];
  let lastReply = 0;
  for (let i = 0; i < keys.length; i += PROBE_BATCH) {
    const batch = keys.slice(i, i + PROBE_BATCH);
    const sentAt = now();
    batches.push(
      cmd.lockscopeProbeBuffer(batch.length, ...batch, MAX_VALUE_BYTES, MAX_HASH_FIELDS).then((raw) => {
        const receivedAt = now();
        const observedAt = Math.round((Math.max(sentAt, lastReply) + receivedAt) / 2);
        lastReply = receivedAt;
        const out: ProbedKey[] = new Array(batch.length);
        for (let j = 0; j < batch.length; j++) out[j] = { key: batch[j]!, result: decodeEntry(raw, j * 4), observedAt };
        return out;
      }),
    );
  }
  return (await Promise.all(batches)).flat();
}

function decodeEntry(raw: RawReply, at: number): ProbeResult {
  const type = TYPES[raw[at] as number] ?? null;
  const pttl = raw[at + 1] as number;
  if (type === null || pttl === -2) return { exists: false };
  const size = raw[at + 2] as number;
  const payload = raw[at + 3];
  let fields: [Buffer, Buffer][] | null = null;
  if (type === 'hash' && Array.isArray(payload)) {
    fields = [];
    for (let i = 0; i + 1 < payload.length; i += 2) fields.push([payload[i]!, payload[i + 1]!]);
  }
  const value = type === 'string' && Buffer.isBuffer(payload) ? payload : null;
  return { exists: true, type, pttlMs: pttl, size, value, fields };
}
