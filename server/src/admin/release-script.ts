/**
 * The one script through which lockscope writes to a lock: it checks that the owner named still holds it, then
 * runs a release plan's steps (`libraries/release-plan.ts`), all in one atomic call. Set-TTL shares the check.
 *
 * Arguments. KEYS[1] is the lock; KEYS[2..] the helper keys steps name (by index). ARGV:
 *   check kind (`string` | `hash` | `hash-value` | `zset`), most bytes of a value to return, scope (`lock` |
 *   `holder` | `all`, or `ttl` for set-TTL), the owner items (count, then each: the string; the hash field, then
 *   the same holder's other fields; the field and its value; the ZSET members), the bookkeeping members (count,
 *   then each), then each step: its op,
 *   its `when`, and its own arguments, ending the list.
 * Replies: {'released', type, wake label, members removed} · {'changed', type, current owner: a string prefix, or
 * hash field names, or ZSET members and scores} · {'shared', type, the same} · {'gone', type} · {'wrong-type', type}.
 */
import type { OwnerCheck, ReleasePlan } from '../libraries';

/** Most hash fields or ZSET members a reply lists (holders shown in `shared` and `owner-changed` answers). */
export const REPLY_HOLDERS = 32;

const HEAD = `
local key = KEYS[1]
local i = 1
local function arg() local v = ARGV[i]; i = i + 1; return v end
local kind = arg()
local maxBytes = tonumber(arg())
local scope = arg()
local owner = {}
for j = 1, tonumber(arg()) do owner[j] = arg() end
local book = {}
for j = 1, tonumber(arg()) do book[arg()] = true end

local t = redis.call('TYPE', key).ok
if t == 'none' then return {'gone', t} end

local function hashNames()
  if redis.call('HLEN', key) <= ${REPLY_HOLDERS} then return redis.call('HKEYS', key) end
  local page = redis.call('HSCAN', key, 0, 'COUNT', ${REPLY_HOLDERS})[2]
  local names = {}
  for j = 1, #page, 2 do names[#names + 1] = page[j] end
  return names
end
local function current()
  if t == 'string' then return redis.call('GETRANGE', key, 0, maxBytes - 1) end
  if t == 'hash' then return hashNames() end
  return redis.call('ZRANGE', key, 0, ${REPLY_HOLDERS - 1}, 'WITHSCORES')
end
local function changed()
  if t == 'string' or t == 'hash' or t == 'zset' then return {'changed', t, current()} end
  return {'wrong-type', t}
end
-- Holders left: members or fields that are not the library's bookkeeping.
local function holdersLeft()
  if t == 'hash' or t == 'zset' then
    local n = redis.call(t == 'hash' and 'HLEN' or 'ZCARD', key)
    for b in pairs(book) do
      if (t == 'hash' and redis.call('HEXISTS', key, b) == 1) or (t == 'zset' and redis.call('ZSCORE', key, b)) then n = n - 1 end
    end
    return n
  end
  return redis.call('EXISTS', key)
end

if kind == 'string' then
  if t ~= 'string' or redis.call('STRLEN', key) ~= #owner[1] or redis.call('GET', key) ~= owner[1] then return changed() end
elseif kind == 'hash' then
  -- Naming bookkeeping (a read-write lock's 'mode') proves nothing.
  if t ~= 'hash' or book[owner[1]] or redis.call('HEXISTS', key, owner[1]) == 0 then return changed() end
  if scope == 'lock' then
    -- Deleting the whole hash: refuse while anyone but the named holder holds it (owner[2..]: its other fields).
    local theirs = {}
    for j = 1, #owner do theirs[owner[j]] = true end
    if redis.call('HLEN', key) > ${REPLY_HOLDERS} then return {'shared', t, hashNames()} end
    for _, name in ipairs(redis.call('HKEYS', key)) do
      if not book[name] and not theirs[name] then return {'shared', t, hashNames()} end
    end
  end
elseif kind == 'hash-value' then
  if t ~= 'hash' then return changed() end
  local v = redis.call('HGET', key, owner[1])
  if v ~= owner[2] then return {'changed', t, v and string.sub(v, 1, maxBytes) or ''} end
elseif kind == 'zset' then
  if t ~= 'zset' then return changed() end
  for j = 1, #owner do
    if not redis.call('ZSCORE', key, owner[j]) then
      -- The one holder asked about has gone (released, or dropped once expired): nothing left to free.
      if scope == 'holder' then return {'gone', t} end
      return changed()
    end
  end
  if scope == 'lock' and holdersLeft() > #owner then return {'shared', t, current()} end
else
  return redis.error_reply('lockscope: unknown owner check ' .. tostring(kind))
end
`;

/** Force-release: the check, then the plan's steps. */
export const RELEASE_LUA = `${HEAD}
local removed = 0
local woke = ''
local function ready(when)
  if when == 'always' then return true end
  local left = holdersLeft()
  if when == 'emptied' then return left <= 0 end
  return left > 0
end
while i <= #ARGV do
  local op = arg()
  local run = ready(arg())
  if op == 'del' then
    if run then redis.call('DEL', key) end
  elseif op == 'hdel' or op == 'zrem' then
    local items = {}
    for j = 1, tonumber(arg()) do items[j] = arg() end
    if run then removed = redis.call(op == 'hdel' and 'HDEL' or 'ZREM', key, unpack(items)) end
  elseif op == 'zrem-all' then
    if run then removed = redis.call('ZCARD', key); redis.call('DEL', key) end
  elseif op == 'del-keys' then
    for j = 1, tonumber(arg()) do
      local k = KEYS[tonumber(arg())]
      if run then redis.call('DEL', k) end
    end
  elseif op == 'signal-list' then
    local k, ms, label = KEYS[tonumber(arg())], arg(), arg()
    if run then
      redis.call('DEL', k)
      redis.call('LPUSH', k, 1)
      redis.call('PEXPIRE', k, ms)
      woke = label
    end
  elseif op == 'publish' then
    local cmd, channel, message, label = arg(), arg(), arg(), arg()
    if run then redis.call(cmd, channel, message); woke = label end
  elseif op == 'fair-wake' then
    local queue, timeouts = KEYS[tonumber(arg())], KEYS[tonumber(arg())]
    local cmd, prefix, fallback, fallbackMessage, label, fallbackLabel = arg(), arg(), arg(), arg(), arg(), arg()
    if run then
      if redis.call('TYPE', queue).ok == 'list' then
        -- What RedissonFairLock's unlock does: drop the waiters whose wait has ended, wake the first in line.
        local now = redis.call('TIME')
        now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        while true do
          local first = redis.call('LINDEX', queue, 0)
          if not first then break end
          local timeout = tonumber(redis.call('ZSCORE', timeouts, first))
          if timeout and timeout > now then break end
          redis.call('ZREM', timeouts, first)
          redis.call('LPOP', queue)
        end
        local nextWaiter = redis.call('LINDEX', queue, 0)
        if nextWaiter then redis.call(cmd, prefix .. ':' .. nextWaiter, 0) end
        woke = label
      else
        redis.call(cmd, fallback, fallbackMessage)
        woke = fallbackLabel
      end
    end
  elseif op == 'incr-publish' then
    local counter, by, cmd, channel, label = KEYS[tonumber(arg())], arg(), arg(), arg(), arg()
    if run then
      local n = by == 'removed' and removed or tonumber(by)
      if n > 0 then
        redis.call(cmd, channel, redis.call('INCRBY', counter, n))
        woke = label
      end
    end
  elseif op == 'expire-at-max' then
    if run then
      local top = redis.call('ZREVRANGE', key, 0, 0, 'WITHSCORES')[2]
      if top then redis.call('PEXPIREAT', key, top) end
    end
  else
    return redis.error_reply('lockscope: unknown release step ' .. tostring(op))
  end
end
return {'released', t, woke, removed}
`;

/**
 * Set TTL: only on a lock that still has the owner and no TTL. The scope is `ttl`: a TTL takes the lock from no
 * live holder (their renewals go on), so other holders of a shared lock do not stop it. ARGV after the check: the
 * TTL in ms.
 */
export const SET_TTL_LUA = `${HEAD}
local ttl = arg()
local pttl = redis.call('PTTL', key)
if pttl >= 0 then return {'has-ttl', t, pttl} end
redis.call('PEXPIRE', key, ttl)
return {'ttl-set', t}
`;

export type ScriptArg = Buffer | string | number;

/** KEYS and ARGV for the check (and the scope) of a plan. */
function checkArgs(check: OwnerCheck, scope: string, bookkeeping: Buffer[], maxBytes: number): ScriptArg[] {
  const items: Buffer[] =
    check.kind === 'string'
      ? [check.value]
      : check.kind === 'hash'
        ? [check.field, ...(check.sameHolder ?? [])]
        : check.kind === 'hash-value'
          ? [check.field, check.value]
          : check.members;
  return [check.kind, maxBytes, scope, items.length, ...items, bookkeeping.length, ...bookkeeping];
}

/** A plan as the release script's KEYS (the lock first) and ARGV. */
export function encodePlan(key: Buffer, plan: ReleasePlan, maxBytes: number): { keys: Buffer[]; args: ScriptArg[] } {
  const keys: Buffer[] = [key];
  const ref = (k: Buffer): number => {
    const at = keys.findIndex((x) => x.equals(k));
    if (at >= 0) return at + 1;
    keys.push(k);
    return keys.length;
  };
  const args = checkArgs(plan.check, plan.scope, plan.bookkeeping, maxBytes);
  for (const step of plan.steps) {
    args.push(step.op, step.when ?? 'always');
    switch (step.op) {
      case 'del':
      case 'zrem-all':
      case 'expire-at-max':
        break;
      case 'hdel':
        args.push(step.fields.length, ...step.fields);
        break;
      case 'zrem':
        args.push(step.members.length, ...step.members);
        break;
      case 'del-keys':
        args.push(step.keys.length, ...step.keys.map(ref));
        break;
      case 'signal-list':
        args.push(ref(step.key), step.expireMs, step.wake);
        break;
      case 'publish':
        args.push(step.command, step.channel, step.message, step.wake);
        break;
      case 'fair-wake':
        args.push(ref(step.queue), ref(step.timeouts), step.command, step.channelPrefix, step.fallbackChannel, step.fallbackMessage, step.wake, step.fallbackWake);
        break;
      case 'incr-publish':
        args.push(ref(step.counter), String(step.by), step.command, step.channel, step.wake);
        break;
    }
  }
  return { keys, args };
}

/** KEYS and ARGV for set-TTL: the same check, then the TTL. */
export function encodeSetTtl(key: Buffer, check: OwnerCheck, bookkeeping: Buffer[], ttlMs: number, maxBytes: number): { keys: Buffer[]; args: ScriptArg[] } {
  return { keys: [key], args: [...checkArgs(check, 'ttl', bookkeeping, maxBytes), ttlMs] };
}
