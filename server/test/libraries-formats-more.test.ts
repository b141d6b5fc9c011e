import { randomBytes, randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { lock as simpleLock } from 'simple-redis-mutex';
import { describe, expect, it } from 'vitest';
import { liveApp, type LiveClient } from './support/app';

/*
 * The libraries of issue 11 whose clients cannot run here (PHP, C#, Ruby, Go, Java): their keys are written with
 * their own scripts and commands, copied from their source (file names in server/src/libraries/<library>.ts and
 * LOCK-FORMATS.md), and the real app, on its default patterns, must recognise, decode and follow each one.
 */

// Symfony Lock `Store/RedisStore.php` (≥ 5.2; 7.x): save, saveRead, putOffExpiration, delete. Each script starts
// the same way (its arguments, the check against the pre-5.2 STRING format, `getNowCode()` with Redis's TIME) and
// ends by expiring the key with its latest member.
const SF_HEAD = `
local key = KEYS[1]
local uniqueToken = ARGV[2]
local ttl = tonumber(ARGV[3])
if redis.call("TYPE", key).ok == "string" then return false end
local now = redis.call("TIME")
now = now[1] * 1000 + math.floor(now[2] / 1000)`;
const SF_TAIL = `
local maxExpiration = redis.call("ZREVRANGE", key, 0, 0, "WITHSCORES")[2]
redis.call("PEXPIREAT", key, maxExpiration)
return true`;
const SF_SAVE = `${SF_HEAD}
redis.call("ZREMRANGEBYSCORE", key, "-inf", now)
if redis.call("ZSCORE", key, uniqueToken) then
  if not redis.call("ZSCORE", key, "__write__") and redis.call("ZCOUNT", key, "-inf", "+inf") > 1  then return false end
elseif redis.call("ZCOUNT", key, "-inf", "+inf") > 0  then
  return false
end
redis.call("ZADD", key, now + ttl, uniqueToken)
redis.call("ZADD", key, now + ttl, "__write__")${SF_TAIL}`;
const SF_SAVE_READ = `${SF_HEAD}
redis.call("ZREMRANGEBYSCORE", key, "-inf", now)
if not redis.call("ZSCORE", key, uniqueToken) and redis.call("ZSCORE", key, "__write__") then return false end
redis.call("ZADD", key, now + ttl, uniqueToken)
redis.call("ZREM", key, "__write__")${SF_TAIL}`;
const SF_PUT_OFF = `${SF_HEAD}
if not redis.call("ZSCORE", key, uniqueToken) then return false end
redis.call("ZADD", key, now + ttl, uniqueToken)
if redis.call("ZSCORE", key, "__write__") then redis.call("ZADD", key, now + ttl, "__write__") end${SF_TAIL}`;
const SF_DELETE = `
local key = KEYS[1]
local uniqueToken = ARGV[1]
if redis.call("TYPE", key).ok == "string" then return false end
if not redis.call("ZSCORE", key, uniqueToken) then return false end
redis.call("ZREM", key, uniqueToken)
redis.call("ZREM", key, "__write__")
local maxExpiration = redis.call("ZREVRANGE", key, 0, 0, "WITHSCORES")[2]
if nil ~= maxExpiration then redis.call("PEXPIREAT", key, maxExpiration) end
return true`;

// RedLock.net `RedLock.cs`: acquire `StringSet(key, id, expiry, When.NotExists)`; `Lua/Extend.lua`; `Lua/Unlock.lua`.
const REDLOCK_NET_EXTEND = `
local currentVal = redis.call('get', KEYS[1])
if (currentVal == false) then
  return redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1 or 0
elseif (currentVal == ARGV[1]) then
  return redis.call('pexpire', KEYS[1], ARGV[2])
else
  return -1
end`;
const GET_EQ_DEL = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
else
  return 0
end`;
// redlock-rb `lib/redlock/scripts.rb`: LOCK_SCRIPT (acquire, and extend with the same value).
const REDLOCK_RB_LOCK = `
if (redis.call("exists", KEYS[1]) == 0 and ARGV[3] == "yes") or redis.call("get", KEYS[1]) == ARGV[1] then
  return redis.call("set", KEYS[1], ARGV[1], "PX", ARGV[2])
end`;
// bsm/redislock `obtain.lua`, `refresh.lua`, `release.lua`.
const BSM_OBTAIN = `
local function pexpire(ttl)
  for _, key in ipairs(KEYS) do redis.call("pexpire", key, ttl) end
end
local function canOverrideKeys()
  local offset = tonumber(ARGV[2])
  for i, key in ipairs(KEYS) do
    if redis.call("getrange", key, 0, offset-1) ~= string.sub(ARGV[1], 1, offset) then return false end
  end
  return true
end
local setArgs = {}
for i, key in ipairs(KEYS) do
  table.insert(setArgs, key)
  table.insert(setArgs, ARGV[1])
end
if redis.call("msetnx", unpack(setArgs)) ~= 1 then
  if canOverrideKeys() == false then return false end
  redis.call("mset", unpack(setArgs))
end
pexpire(ARGV[3])
return redis.status_reply("OK")`;
const BSM_REFRESH = `
local values = redis.call("mget", unpack(KEYS))
for i, _ in ipairs(KEYS) do
  if values[i] ~= ARGV[1] then return false end
end
for _, key in ipairs(KEYS) do redis.call("pexpire", key, ARGV[2]) end
return redis.status_reply("OK")`;
const BSM_RELEASE = `
local values = redis.call("mget", unpack(KEYS))
for i, _ in ipairs(KEYS) do
  if values[i] ~= ARGV[1] then return false end
end
for _, key in ipairs(KEYS) do
  if redis.call("del", key) ~= 1 then return redis.error_reply("redislock: failed to del " + key) end
end
return redis.status_reply("OK")`;
// Redisson `RedissonSemaphore.java`: trySetPermits, tryAcquire, release.
const RSEMAPHORE_SET = `
local value = redis.call('get', KEYS[1]);
if (value == false) then
  redis.call('set', KEYS[1], ARGV[1]);
  redis.call(ARGV[2], KEYS[2], ARGV[1]);
  return 1;
end;
return 0;`;
const RSEMAPHORE_ACQUIRE = `
local value = redis.call('get', KEYS[1]);
if (value ~= false and tonumber(value) >= tonumber(ARGV[1])) then
  local val = redis.call('decrby', KEYS[1], ARGV[1]);
  return 1;
end;
return 0;`;
// Redisson `RedissonPermitExpirableSemaphore.java` tryAcquireAsync (KEYS: name, timeoutName, channel).
const RPERMIT_ACQUIRE = `
local expiredIds = redis.call('zrangebyscore', KEYS[2], 0, ARGV[3], 'limit', 0, ARGV[1]);
if #expiredIds > 0 then
  redis.call('zrem', KEYS[2], unpack(expiredIds));
  local value = redis.call('incrby', KEYS[1], #expiredIds);
  if tonumber(value) > 0 then redis.call(ARGV[5], KEYS[3], value); end;
end;
local value = redis.call('get', KEYS[1]);
if (value ~= false and tonumber(value) >= tonumber(ARGV[1])) then
  redis.call('decrby', KEYS[1], ARGV[1]);
  for i = 6, #ARGV, 1 do redis.call('zadd', KEYS[2], ARGV[2], ARGV[i]); end;
  local ttl = redis.call('pttl', KEYS[1]);
  if ttl > 0 then redis.call('pexpire', KEYS[2], ttl); end;
  return 'OK';
end;
local v = redis.call('zrange', KEYS[2], 0, 0, 'WITHSCORES');
if v[1] ~= nil and v[2] ~= ARGV[4] then return ':' .. tostring(v[2]); end
return nil;`;
/** `nonExpirableTimeout`: the score of a permit taken without a lease. */
const NO_LEASE = 922337203685477;

describe('issue 11 formats written as each library writes them (real app, default patterns)', () => {
  const suite = liveApp();
  const run = (lua: string, keys: string[], args: (string | number | Buffer)[]) => suite.redis.client.eval(lua, keys.length, ...keys, ...args);
  const live: LiveClient['until'] = (...args) => suite.client.until(...args);

  it('Symfony Lock: a write lock is one holder with its own expiry; readers share the lock, and a reader past its expiry is stuck', async () => {
    const writer = randomBytes(32).toString('base64');
    expect(await run(SF_SAVE, ['invoice-lock:7'], [Date.now() / 1000, writer, 300_000])).toBe(1);
    const held = await live('invoice-lock:7');
    expect(held).toMatchObject({ library: 'symfony', type: 'zset', state: 'held' });
    expect(held.owner?.text).toBe(writer);
    expect(held.owner?.fields.mode).toBe('write (exclusive)');
    expect(held.holders).toMatchObject({ count: 1, permits: { held: 1, limit: 1 } });
    expect(held.holders!.list[0]!.deadline! - Date.now()).toBeGreaterThan(290_000);

    // Two readers: one asked for 1 s, the other for 30 s; the key lives until the later one's expiry.
    const [quick, slow] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
    await run(SF_SAVE_READ, ['report-lock'], [Date.now() / 1000, quick, 1000]);
    await run(SF_SAVE_READ, ['report-lock'], [Date.now() / 1000, slow, 30_000]);
    const read = await live('report-lock', (v) => v.holders?.list.length === 2, 'two readers');
    expect(read.owner?.fields.mode).toBe('read (shared)');
    expect(read.holders?.permits.limit).toBeNull();
    // The quick reader's process died: its token stays (Symfony drops it only at the next save) past its expiry.
    const stuck = await live('report-lock', (v) => v.state === 'holder-stuck', 'the quick reader stuck', 4000);
    expect(stuck.holders!.list.find((h) => h.token.text === quick)!.state).toBe('stuck');
    expect(stuck.holders!.list.find((h) => h.token.text === slow)!.state).toBe('held');
    // The other reader refreshes (putOffExpiration): its own renewal.
    await run(SF_PUT_OFF, ['report-lock'], [Date.now() / 1000, slow, 60_000]);
    await live('report-lock', (v) => v.holders!.list.find((h) => h.token.text === slow)?.renewals === 1, 'the reader renewed');
    // Its release re-sets the key's expiry to the latest left: the stuck reader's, already past, so the key goes.
    await run(SF_DELETE, ['report-lock'], [slow]);
    await live('report-lock', (v) => v.state === 'released', 'the lock gone with its last live reader');
    expect(await suite.redis.client.exists('report-lock')).toBe(0);
  });

  it('RedLock.net: redlock:<resource> with a Guid, renewed by its keep-alive every expiry/2, unlocked', async () => {
    const id = randomUUID();
    await suite.redis.client.set('redlock:orders', id, 'PX', 3000, 'NX');
    const held = await live('redlock:orders');
    expect(held).toMatchObject({ library: 'redlock-net', expectedRenewalMs: 1500 });
    expect(held.owner?.fields.resource).toBe('orders');
    await new Promise((r) => setTimeout(r, 200));
    expect(await run(REDLOCK_NET_EXTEND, ['redlock:orders'], [id, 3000])).toBe(1);
    await live('redlock:orders', (v) => v.renewals === 1, 'the keep-alive');
    expect(await run(GET_EQ_DEL, ['redlock:orders'], [id])).toBe(1);
    await live('redlock:orders', (v) => v.state === 'released', 'unlock');
  });

  it('redlock-rb and StackExchange.Redis LockTake: a bare UUID under a key without ":" is a UUID token (nothing tells them apart)', async () => {
    const rb = randomUUID();
    expect(await run(REDLOCK_RB_LOCK, ['rb-lock-report'], [rb, 2000, 'yes'])).toBe('OK');
    const se = randomUUID();
    await suite.redis.client.set('se-lock-invoices', se, 'EX', 30, 'NX'); // LockTake with whole seconds: SET EX NX
    for (const key of ['rb-lock-report', 'se-lock-invoices']) {
      const v = await live(key);
      expect(v.library).toBe('uuid-token');
      expect(v.owner?.fields.writtenBy).toMatch(/redlock-rb, StackExchange\.Redis LockTake/);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(await run(REDLOCK_RB_LOCK, ['rb-lock-report'], [rb, 2000, 'no'])).toBe('OK'); // extend: same script, same value
    await live('rb-lock-report', (v) => v.renewals === 1, 'redlock-rb extend');
    // LockExtend on Redis < 8.4: WATCH, GET compared by the client, MULTI PEXPIRE EXEC.
    const c = suite.redis.client.duplicate();
    try {
      await c.watch('se-lock-invoices');
      expect(await c.get('se-lock-invoices')).toBe(se);
      await c.multi().pexpire('se-lock-invoices', 60_000).exec();
    } finally {
      c.disconnect();
    }
    await live('se-lock-invoices', (v) => v.renewals === 1, 'LockExtend');
  });

  it('bsm/redislock: 22-char url-safe token plus metadata; refresh and release by its own scripts', async () => {
    let token = randomBytes(16).toString('base64url');
    while (!(/[a-z]/.test(token) && /[A-Z]/.test(token))) token = randomBytes(16).toString('base64url');
    const value = `${token}worker-7`;
    expect(await run(BSM_OBTAIN, ['bsm-lock:export'], [value, token.length, 2000])).toBe('OK');
    const held = await live('bsm-lock:export');
    expect(held.library).toBe('bsm-redislock');
    expect(held.owner?.fields).toMatchObject({ token, metadata: 'worker-7' });
    await new Promise((r) => setTimeout(r, 200));
    expect(await run(BSM_REFRESH, ['bsm-lock:export'], [value, 2000])).toBe('OK');
    await live('bsm-lock:export', (v) => v.renewals === 1, 'refresh');
    expect(await run(BSM_RELEASE, ['bsm-lock:export'], [value])).toBe('OK');
    await live('bsm-lock:export', (v) => v.state === 'released', 'release');
  });

  it('Redisson RSemaphore: a counter of free permits, no holders recorded, no TTL by design (not "stuck")', async () => {
    expect(await run(RSEMAPHORE_SET, ['pdf-semaphore', 'redisson_sc:{pdf-semaphore}'], [3, 'publish'])).toBe(1);
    expect(await run(RSEMAPHORE_ACQUIRE, ['pdf-semaphore'], [2])).toBe(1);
    const v = await live('pdf-semaphore', (x) => x.holders?.permits.free === 1, 'one free permit');
    expect(v).toMatchObject({ library: 'redisson-semaphore', state: 'held', owner: null });
    expect(v.holders).toMatchObject({ list: [], count: null, releaseAll: false });
  });

  it('Redisson RPermitExpirableSemaphore: permits with their own leases; an expired permit not yet reclaimed is stuck; a permit without lease never expires', async () => {
    const name = 'render-semaphore';
    const keys = [name, `{${name}}:timeout`, `redisson_sc:{${name}}`];
    await suite.redis.client.set(name, 3);
    const ids = [randomBytes(16), randomBytes(16)];
    expect(await run(RPERMIT_ACQUIRE, keys, [2, Date.now() + 600, Date.now(), NO_LEASE, 'publish', ...ids])).toBe('OK');
    const held = await live(`{${name}}:timeout`, (v) => v.holders?.list.length === 2, 'two permits');
    expect(held).toMatchObject({ library: 'redisson-semaphore', type: 'zset', state: 'held' });
    expect(held.owner?.fields).toMatchObject({ kind: 'RPermitExpirableSemaphore', semaphore: name });
    expect(held.holders!.list.map((h) => h.fields.permitId).sort()).toEqual(ids.map((b) => b.toString('hex')).sort());
    // Leases end; nobody acquires, so Redisson has not reclaimed them: both permits are stuck, still counted.
    await live(`{${name}}:timeout`, (v) => v.state === 'holder-stuck' && v.holders!.list.every((h) => h.state === 'stuck'), 'expired permits', 4000);
    // A permit taken without a lease, on a semaphore whose counter has no TTL: nothing will ever free it.
    const forever = randomBytes(16);
    expect(await run(RPERMIT_ACQUIRE, keys, [1, NO_LEASE, Date.now(), NO_LEASE, 'publish', forever])).toBe('OK');
    const noLease = await live(`{${name}}:timeout`, (v) => v.state === 'no-ttl', 'a permit without lease');
    expect(noLease.holders!.list.find((h) => h.fields.permitId === forever.toString('hex'))).toMatchObject({ deadline: null, state: 'no-expiry' });
    // Its counter (matched too: the name contains "semaphore") shows the free permits.
    expect(suite.client.byKey(name)?.holders?.permits.free).toBeTypeOf('number');
  });

  it('simple-redis-mutex 3.0 (real client, node-redis 5): @simple-redis-mutex:lock-<name>, Math.random() value; its fencing counter is no lock', async () => {
    const c = createClient({ url: suite.redis.url });
    await c.connect();
    try {
      const release = await simpleLock(c, 'nightly', { timeout: 5000 });
      const held = await live('@simple-redis-mutex:lock-nightly');
      expect(held).toMatchObject({ library: 'simple-redis-mutex' });
      expect(held.owner?.text).toMatch(/^0\.\d+$/);
      expect(held.owner?.fields.name).toBe('nightly');
      await release();
      await live('@simple-redis-mutex:lock-nightly', (v) => v.state === 'released', 'release');
      expect(await suite.redis.client.get('@simple-redis-mutex:fencing-tokens')).toBe('1');
      expect(suite.client.byKey('@simple-redis-mutex:fencing-tokens')).toBeUndefined();
    } finally {
      await c.quit();
    }
  });
});
