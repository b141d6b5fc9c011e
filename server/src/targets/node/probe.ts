import type { Redis } from 'ioredis';
import type { RedisKeyType } from '../../../../shared/locks';
import { CUT_NAME, CUT_VALUE, type HashField, type ProbedKey, type ProbeResult } from '../../model/probe-result';

export { CUT_NAME, CUT_VALUE, type HashField, type ProbedKey, type ProbeResult };

/**
 * One round trip reads everything lockscope needs about a batch of keys: type, PTTL, size and a bounded
 * prefix of the owner (string prefix, or hash fields). Bounded reads keep every call well under 1 ms even
 * when a key holds megabytes.
 *
 * The reply starts with Redis's own clock (`TIME`, epoch ms, in two parts) as the batch was read, then four
 * entries a key: type code, PTTL, size, payload. PTTL is measured against that clock: on Redis ≥ 7 it is
 * `PEXPIRETIME` (the absolute deadline Redis keeps) less the clock, so `clock + PTTL` is the deadline exactly, on
 * Redis's clock, whatever happens to the reply on its way to us. Older servers have no PEXPIRETIME
 * (`redis.REDIS_VERSION_NUM` is nil before 7.0): there PTTL is read as such, a few µs after the clock.
 *
 * A gone key costs one call (PEXPIRETIME or PTTL); a string three (that, TYPE and GETRANGE), with STRLEN only
 * when the prefix filled the whole read. Never a call that can fail (WRONGTYPE errors would show in the server's
 * error stats).
 *
 * Hashes: field names come from HKEYS, and each value is read only when HSTRLEN says it is small enough
 * (≤ 32 × maxBytes): a value of megabytes is never copied. Names and values are cut to `maxBytes` before they
 * leave Redis; a third entry per field says what was cut (1 = the name is a prefix, 2 = the value is a prefix or
 * was not read). No command reads part of a field *name*: a name of megabytes is copied into the script (about
 * 2.5 ms a MB on Redis 7.0), though never sent back. A Redisson read-write lock's `mode` is always read.
 * Sorted sets (semaphores, Symfony locks) are read as their first `maxFields` members by score, each with its score
 * as text in the value's place. Hashes over `maxFields` fields are read in part, the same part each time: HSCAN …
 * NOVALUES (Redis ≥ 7.4), or HSCAN with values where they are known to be small (a listpack keeps every entry small; otherwise MEMORY USAGE
 * tells). Only a big hash of big values is sampled at random instead (HRANDFIELD, names only, Redis ≥ 6.2; type
 * code 8), and it names no owner, which would change at every probe.
 */
const PROBE_LUA = `
local maxBytes = tonumber(ARGV[1])
local maxFields = tonumber(ARGV[2])
local readLimit = maxBytes * 32
local version = redis.REDIS_VERSION_NUM or 0
local asIf = tonumber(ARGV[3])
if asIf > 0 and asIf < version then version = asIf end
local hasExpireTime = version >= 0x070000
local hasNoValues = version >= 0x070400
local hasRandField = version >= 0x060200
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- The clock in two small integers (see clockOf): no integer reply here exceeds a V8 small integer.
local out = { math.floor(now / 1000000), now % 1000000 }
local n = 2

local function addField(list, k, name, value)
  local cut = 0
  if #name > maxBytes then
    -- A name cut short matches no library's format: its value is not worth passing the whole name back for.
    name = string.sub(name, 1, maxBytes); value = ''; cut = 3
  elseif value == nil then
    local len = redis.call('HSTRLEN', k, name)
    if len <= readLimit then value = redis.call('HGET', k, name) or '' else value = '' end
    if len > maxBytes then cut = 2 end
  elseif #value > maxBytes then cut = 2 end
  if #value > maxBytes then value = string.sub(value, 1, maxBytes) end
  local m = #list
  list[m + 1] = name; list[m + 2] = value; list[m + 3] = cut
end

for _, k in ipairs(KEYS) do
  local pttl
  if hasExpireTime then
    pttl = redis.call('PEXPIRETIME', k)
    if pttl >= 0 then
      pttl = pttl - now
      if pttl < 0 then pttl = 0 end
    end
  else
    pttl = redis.call('PTTL', k)
  end
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
      local fields = {}
      local code = 2
      if size <= maxFields then
        for _, f in ipairs(redis.call('HKEYS', k)) do addField(fields, k, f, nil) end
      else
        local names, kv
        if hasNoValues then
          names = redis.call('HSCAN', k, 0, 'COUNT', maxFields, 'NOVALUES')[2]
        elseif redis.call('OBJECT', 'ENCODING', k) ~= 'hashtable' then
          kv = redis.call('HSCAN', k, 0, 'COUNT', maxFields)[2]
        else
          local mem = redis.call('MEMORY', 'USAGE', k, 'SAMPLES', size <= 1024 and 0 or 64) or 0
          if mem / size * maxFields <= readLimit * 4 then
            kv = redis.call('HSCAN', k, 0, 'COUNT', maxFields)[2]
          else
            code = 8
            if hasRandField then names = redis.call('HRANDFIELD', k, maxFields); table.sort(names) else names = {} end
          end
        end
        local seenMode = false
        if names then
          for i = 1, math.min(#names, maxFields) do
            addField(fields, k, names[i], nil); seenMode = seenMode or names[i] == 'mode'
          end
        else
          for i = 1, math.min(#kv, maxFields * 2), 2 do
            addField(fields, k, kv[i], kv[i + 1]); seenMode = seenMode or kv[i] == 'mode'
          end
        end
        if not seenMode and redis.call('HEXISTS', k, 'mode') == 1 then addField(fields, k, 'mode', nil) end
      end
      out[n + 1] = code; out[n + 2] = pttl; out[n + 3] = size; out[n + 4] = fields
    elseif t == 'zset' then
      local members = {}
      local page = redis.call('ZRANGE', k, 0, maxFields - 1, 'WITHSCORES')
      for i = 1, #page, 2 do addField(members, k, page[i], page[i + 1]) end
      out[n + 1] = 5; out[n + 2] = pttl; out[n + 3] = redis.call('ZCARD', k); out[n + 4] = members
    else
      local code, size = 7, 0
      if t == 'list' then code, size = 3, redis.call('LLEN', k)
      elseif t == 'set' then code, size = 4, redis.call('SCARD', k)
      elseif t == 'stream' then code, size = 6, redis.call('XLEN', k) end
      out[n + 1] = code; out[n + 2] = pttl; out[n + 3] = size; out[n + 4] = ''
    end
  end
  n = n + 4
end
return out
`;

/** Type codes of the probe reply. */
const TYPES: readonly (RedisKeyType | null)[] = [null, 'string', 'hash', 'list', 'set', 'zset', 'stream', 'other', 'hash'];
/** The type code of a hash whose fields are a random sample (see the script). */
const SAMPLED_HASH = 8;

/** The most bytes of a string value, hash field name or hash value lockscope reads (anything longer is shown truncated). */
export const MAX_VALUE_BYTES = 512;
/** The most hash fields read per key (Redisson keeps one field per holder). */
export const MAX_HASH_FIELDS = 32;
/** Keys per script call: small enough that one call stays far below 1 ms. */
export const PROBE_BATCH = 100;

type RawReply = (number | Buffer | (Buffer | number)[])[];

interface ProbeCommands {
  lockscopeProbeBuffer(numKeys: number, ...args: (Buffer | string | number)[]): Promise<RawReply>;
}

/**
 * How far this server's clock is ahead of Redis's (ms), from the probes' own round trips. A batch's `TIME` was
 * read after we sent it and before we read its reply, so each round trip bounds the offset from both sides:
 * `sent − redis ≤ offset ≤ received − redis`. The tightest bounds seen are kept (the shortest round trips win;
 * one whose reply waited behind a busy event loop loosens nothing), widened over time by the most two clocks can
 * drift apart, so a sample from long ago gives way to fresh ones. Bounds that contradict each other mean a clock
 * was stepped (or a failover reached a server with another clock): start over from the newest round trip.
 */
export class ClockOffset {
  /**
   * How fast the two clocks may drift apart (200 ppm: NTP-disciplined clocks drift far less; one slewing harder is
   * caught as a contradiction, which starts over).
   */
  static readonly DRIFT = 2e-4;
  /** Both clocks are read in whole ms: bounds may cross by this much without meaning a step. */
  static readonly SLACK = 2;
  private lo = -Infinity;
  private loAt = 0;
  private hi = Infinity;
  private hiAt = 0;

  /** Folds in one round trip: sent and received on this server's clock, `redisAt` on Redis's. */
  add(sentAt: number, receivedAt: number, redisAt: number): void {
    const lo = sentAt - redisAt;
    const hi = receivedAt - redisAt;
    const loNow = this.lo - ClockOffset.DRIFT * (receivedAt - this.loAt);
    const hiNow = this.hi + ClockOffset.DRIFT * (receivedAt - this.hiAt);
    if (lo > hiNow + ClockOffset.SLACK || hi < loNow - ClockOffset.SLACK) {
      this.lo = lo;
      this.hi = hi;
      this.loAt = this.hiAt = receivedAt;
      return;
    }
    if (lo >= loNow) {
      this.lo = lo;
      this.loAt = receivedAt;
    }
    if (hi <= hiNow) {
      this.hi = hi;
      this.hiAt = receivedAt;
    }
  }

  /** The offset's best estimate at `now` (the middle of its bounds), or null before any round trip. */
  estimate(now: number): number | null {
    if (this.hi === Infinity) return null;
    const lo = this.lo - ClockOffset.DRIFT * (now - this.loAt);
    const hi = this.hi + ClockOffset.DRIFT * (now - this.hiAt);
    return (lo + hi) / 2;
  }

  /** Width of the bounds at `now` (ms): how uncertain the estimate is. */
  uncertainty(now: number): number {
    if (this.hi === Infinity) return Infinity;
    return Math.max(0, this.hi + ClockOffset.DRIFT * (now - this.hiAt) - (this.lo - ClockOffset.DRIFT * (now - this.loAt)));
  }
}

/** One offset per connection (its server's clock). */
const offsets = new WeakMap<Redis, ClockOffset>();

/** The clock offset lockscope keeps for this connection (created on first use). */
export function clockOffset(redis: Redis): ClockOffset {
  let o = offsets.get(redis);
  if (!o) offsets.set(redis, (o = new ClockOffset()));
  return o;
}

export function installProbe(redis: Redis): void {
  if (!('lockscopeProbe' in redis)) redis.defineCommand('lockscopeProbe', { lua: PROBE_LUA });
}

/**
 * Probes keys in script batches, all pipelined on the one connection. Each batch reports Redis's clock as it ran;
 * `observedAt` is that clock on this server's (see ClockOffset), so neither a reply that waited in the socket nor
 * a batch queued behind others shifts it.
 */
export interface ProbeOptions {
  /**
   * Read as an older server would be read (`0x060200` = 6.2.0): its fallbacks (PTTL for PEXPIRETIME, HSCAN without
   * NOVALUES), for tests. Never more than the server's own version.
   */
  asIfVersion?: number;
}

export async function probeKeys(
  redis: Redis,
  keys: Buffer[],
  now: () => number = Date.now,
  options: ProbeOptions = {},
): Promise<ProbedKey[]> {
  installProbe(redis);
  const cmd = redis as unknown as ProbeCommands;
  const offset = clockOffset(redis);
  const batches: Promise<ProbedKey[]>[] = [];
  for (let i = 0; i < keys.length; i += PROBE_BATCH) {
    const batch = keys.slice(i, i + PROBE_BATCH);
    const sentAt = now();
    batches.push(
      cmd.lockscopeProbeBuffer(batch.length, ...batch, MAX_VALUE_BYTES, MAX_HASH_FIELDS, options.asIfVersion ?? 0).then((raw) => {
        const receivedAt = now();
        const redisAt = (raw[0] as number) * 1_000_000 + (raw[1] as number);
        offset.add(sentAt, receivedAt, redisAt);
        const observedAt = Math.round(redisAt + offset.estimate(receivedAt)!);
        const out: ProbedKey[] = new Array(batch.length);
        for (let j = 0; j < batch.length; j++) {
          out[j] = { key: batch[j]!, result: decodeEntry(raw, 2 + j * 4), observedAt, redisAt };
        }
        return out;
      }),
    );
  }
  return (await Promise.all(batches)).flat();
}

/**
 * An integer from the reply as V8 keeps small integers (a tagged Smi). The parser's optimised code hands back every
 * integer as a boxed double once it has seen a large one; stored like that, a PTTL copied into each of a lock's
 * events costs a heap number apiece (issue 4's heap budget), so small ones are made small again.
 */
function int(x: unknown): number {
  const n = x as number;
  return n === (n | 0) ? n | 0 : n;
}

function decodeEntry(raw: RawReply, at: number): ProbeResult {
  const type = TYPES[raw[at] as number] ?? null;
  const pttl = int(raw[at + 1]);
  if (type === null || pttl === -2) return { exists: false };
  const size = int(raw[at + 2]);
  const payload = raw[at + 3];
  let fields: HashField[] | null = null;
  if ((type === 'hash' || type === 'zset') && Array.isArray(payload)) {
    fields = [];
    for (let i = 0; i + 2 < payload.length; i += 3) {
      const cut = int(payload[i + 2]);
      fields.push(cut ? [payload[i] as Buffer, payload[i + 1] as Buffer, cut] : [payload[i] as Buffer, payload[i + 1] as Buffer]);
    }
  }
  const value = type === 'string' && Buffer.isBuffer(payload) ? payload : null;
  if (raw[at] === SAMPLED_HASH) return { exists: true, type, pttlMs: pttl, size, value, fields, sampled: true };
  return { exists: true, type, pttlMs: pttl, size, value, fields };
}
