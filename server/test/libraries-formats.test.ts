import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LockView } from '../../shared/locks';
import { startTestApp, type LiveClient, type TestApp } from './support/app';
import { uuid1Hex } from './support/probe-results';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

/*
 * Libraries whose clients cannot be installed here (JVM, Python, Go, PHP, Ruby): their keys are written the way
 * their own source writes them — the same Lua scripts and commands (see LOCK-FORMATS.md, file names there) —
 * and the real app must recognise each one, decode its owner, and follow it through renewal and release.
 */

// Redisson `RedissonLock` (tryLockInnerAsync / renewExpirationAsync / unlockInnerAsync).
const REDISSON_LOCK = `
if ((redis.call('exists', KEYS[1]) == 0) or (redis.call('hexists', KEYS[1], ARGV[2]) == 1)) then
  redis.call('hincrby', KEYS[1], ARGV[2], 1);
  redis.call('pexpire', KEYS[1], ARGV[1]);
  return nil;
end;
return redis.call('pttl', KEYS[1]);`;
const REDISSON_RENEW = `
if (redis.call('hexists', KEYS[1], ARGV[2]) == 1) then
  redis.call('pexpire', KEYS[1], ARGV[1]);
  return 1;
end;
return 0;`;
const REDISSON_UNLOCK = `
local val = redis.call('get', KEYS[3]);
if val ~= false then return tonumber(val); end;
if (redis.call('hexists', KEYS[1], ARGV[3]) == 0) then return nil; end;
local counter = redis.call('hincrby', KEYS[1], ARGV[3], -1);
if (counter > 0) then
  redis.call('pexpire', KEYS[1], ARGV[2]);
  redis.call('set', KEYS[3], 0, 'px', ARGV[5]);
  return 0;
else
  redis.call('del', KEYS[1]);
  redis.call(ARGV[4], KEYS[2], ARGV[1]);
  redis.call('set', KEYS[3], 1, 'px', ARGV[5]);
  return 1;
end;`;
// Redisson `RedissonFairLock.tryLockInnerAsync` (acquire or join the queue).
const REDISSON_FAIR_LOCK = `
while true do
  local firstThreadId2 = redis.call('lindex', KEYS[2], 0);
  if firstThreadId2 == false then break; end;
  local timeout = tonumber(redis.call('zscore', KEYS[3], firstThreadId2));
  if timeout <= tonumber(ARGV[4]) then
    redis.call('zrem', KEYS[3], firstThreadId2);
    redis.call('lpop', KEYS[2]);
  else break; end;
end;
if (redis.call('exists', KEYS[1]) == 0) and ((redis.call('exists', KEYS[2]) == 0) or (redis.call('lindex', KEYS[2], 0) == ARGV[2])) then
  redis.call('lpop', KEYS[2]);
  redis.call('zrem', KEYS[3], ARGV[2]);
  local keys = redis.call('zrange', KEYS[3], 0, -1);
  for i = 1, #keys, 1 do redis.call('zincrby', KEYS[3], -tonumber(ARGV[3]), keys[i]); end;
  redis.call('hset', KEYS[1], ARGV[2], 1);
  redis.call('pexpire', KEYS[1], ARGV[1]);
  return nil;
end;
if redis.call('hexists', KEYS[1], ARGV[2]) == 1 then
  redis.call('hincrby', KEYS[1], ARGV[2], 1);
  redis.call('pexpire', KEYS[1], ARGV[1]);
  return nil;
end;
local timeout = redis.call('zscore', KEYS[3], ARGV[2]);
if timeout ~= false then return timeout - tonumber(ARGV[3]) - tonumber(ARGV[4]); end;
local lastThreadId = redis.call('lindex', KEYS[2], -1);
local ttl;
if lastThreadId ~= false and lastThreadId ~= ARGV[2] then
  ttl = tonumber(redis.call('zscore', KEYS[3], lastThreadId)) - tonumber(ARGV[4]);
else
  ttl = redis.call('pttl', KEYS[1]);
end;
local timeout = ttl + tonumber(ARGV[3]) + tonumber(ARGV[4]);
if redis.call('zadd', KEYS[3], timeout, ARGV[2]) == 1 then redis.call('rpush', KEYS[2], ARGV[2]); end;
return ttl;`;
// Redisson `RedissonReadLock.tryLockInnerAsync` and `RedissonWriteLock.tryLockInnerAsync`.
const REDISSON_READ_LOCK = `
local mode = redis.call('hget', KEYS[1], 'mode');
if (mode == false) then
  redis.call('hset', KEYS[1], 'mode', 'read');
  redis.call('hset', KEYS[1], ARGV[2], 1);
  redis.call('set', KEYS[2] .. ':1', 1);
  redis.call('pexpire', KEYS[2] .. ':1', ARGV[1]);
  redis.call('pexpire', KEYS[1], ARGV[1]);
  return nil;
end;
if (mode == 'read') or (mode == 'write' and redis.call('hexists', KEYS[1], ARGV[3]) == 1) then
  local ind = redis.call('hincrby', KEYS[1], ARGV[2], 1);
  local key = KEYS[2] .. ':' .. ind;
  redis.call('set', key, 1);
  redis.call('pexpire', key, ARGV[1]);
  local remainTime = redis.call('pttl', KEYS[1]);
  redis.call('pexpire', KEYS[1], math.max(remainTime, ARGV[1]));
  return nil;
end;
return redis.call('pttl', KEYS[1]);`;
const REDISSON_WRITE_LOCK = `
local mode = redis.call('hget', KEYS[1], 'mode');
if (mode == false) then
  redis.call('hset', KEYS[1], 'mode', 'write');
  redis.call('hset', KEYS[1], ARGV[2], 1);
  redis.call('pexpire', KEYS[1], ARGV[1]);
  return nil;
end;
if (mode == 'write') then
  if (redis.call('hexists', KEYS[1], ARGV[2]) == 1) then
    redis.call('hincrby', KEYS[1], ARGV[2], 1);
    local currentExpire = redis.call('pttl', KEYS[1]);
    redis.call('pexpire', KEYS[1], currentExpire + ARGV[1]);
    return nil;
  end;
end;
return redis.call('pttl', KEYS[1]);`;
// Redisson `RedissonReadLock.unlockInnerAsync` (KEYS: name, channel, this thread's timeout prefix, key prefix).
const REDISSON_READ_UNLOCK = `
local mode = redis.call('hget', KEYS[1], 'mode');
if (mode == false) then
  redis.call('publish', KEYS[2], ARGV[1]);
  return 1;
end;
local lockExists = redis.call('hexists', KEYS[1], ARGV[2]);
if (lockExists == 0) then return nil; end;
local counter = redis.call('hincrby', KEYS[1], ARGV[2], -1);
if (counter == 0) then redis.call('hdel', KEYS[1], ARGV[2]); end;
redis.call('del', KEYS[3] .. ':' .. (counter+1));
if (redis.call('hlen', KEYS[1]) > 1) then
  local maxRemainTime = -3;
  local keys = redis.call('hkeys', KEYS[1]);
  for n, key in ipairs(keys) do
    counter = tonumber(redis.call('hget', KEYS[1], key));
    if type(counter) == 'number' then
      for i=counter, 1, -1 do
        local remainTime = redis.call('pttl', KEYS[4] .. ':' .. key .. ':rwlock_timeout:' .. i);
        maxRemainTime = math.max(remainTime, maxRemainTime);
      end;
    end;
  end;
  if maxRemainTime > 0 then
    redis.call('pexpire', KEYS[1], maxRemainTime);
    return 0;
  end;
  if mode == 'write' then return 0; end;
end;
redis.call('del', KEYS[1]);
redis.call('publish', KEYS[2], ARGV[1]);
return 1;`;
// sidekiq-unique-jobs v9 `lua/lock_v9.lua` (KEYS: locked, digests; ARGV: job_id, pttl, lock_type, limit, metadata, current_time).
// The ZADD member is parenthesised here: as stored, `string.gsub(...)` passes its match count to ZADD too.
const SIDEKIQ_LOCK_V9 = `
local locked, digests = KEYS[1], KEYS[2]
local job_id, pttl, lock_type, limit, metadata = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), ARGV[5]
local current_time = tonumber(ARGV[6])
if redis.call("HEXISTS", locked, job_id) == 1 then return job_id end
if redis.call("HLEN", locked) >= limit then return nil end
redis.call("HSET", locked, job_id, metadata)
local score
if lock_type == "until_expired" and pttl and pttl > 0 then score = current_time + pttl else score = current_time end
redis.call("ZADD", digests, score, (string.gsub(locked, ":LOCKED$", "")))
if pttl and pttl > 0 then redis.call("PEXPIRE", locked, pttl) end
return job_id`;
// python-redis-lock 4.0 (`src/redis_lock/__init__.py`): UNLOCK_SCRIPT and EXTEND_SCRIPT.
const PRL_UNLOCK = `
if redis.call("get", KEYS[1]) ~= ARGV[1] then
    return 1
else
    redis.call("del", KEYS[2])
    redis.call("lpush", KEYS[2], 1)
    redis.call("pexpire", KEYS[2], ARGV[2])
    redis.call("del", KEYS[1])
    return 0
end`;
const PRL_EXTEND = `
if redis.call("get", KEYS[1]) ~= ARGV[1] then
    return 1
elseif redis.call("ttl", KEYS[1]) < 0 then
    return 2
else
    redis.call("expire", KEYS[1], ARGV[2])
    return 0
end`;
// Spring Integration `RedisLockRegistry.RedisLock`: OBTAIN_LOCK_SCRIPT, RENEW_SCRIPT, and the unlink on unlock.
const SPRING_OBTAIN = `
local lockClientId = redis.call('GET', KEYS[1])
if lockClientId == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return true
elseif not lockClientId then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return true
end
return false`;
const SPRING_RENEW = `
if (redis.call('GET', KEYS[1]) == ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return true
end
return false`;
const SPRING_UNLOCK = `
local lockClientId = redis.call('GET', KEYS[1])
if lockClientId == ARGV[1] then
  redis.call('UNLINK', KEYS[1])
  return true
end
return false`;
// go-redsync `scripts.go`: touch (extend) and delete.
const REDSYNC_TOUCH = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
else
  return 0
end`;
const COMPARE_AND_DELETE = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
else
  return 0
end`;
// redis-py `Lock.LUA_EXTEND_SCRIPT` (add time, not replace).
const REDIS_PY_EXTEND = `
local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then return 0 end
local expiration = redis.call('pttl', KEYS[1])
if not expiration then expiration = 0 end
if expiration < 0 then return 0 end
local newttl = ARGV[2]
if ARGV[3] == "0" then newttl = ARGV[2] + expiration end
redis.call('pexpire', KEYS[1], newttl)
return 1`;


/** Laravel's `Str::random(16)`: base64 of random bytes with `/+=` removed, 16 characters. */
function strRandom16(): string {
  let s = '';
  while (s.length < 16) s += randomBytes(24).toString('base64').replace(/[/+=]/g, '');
  return s.slice(0, 16);
}

describe('lock formats written exactly as each library writes them (real app, real Redis)', () => {
  let redis: TestRedis;
  let app: TestApp;
  let client: LiveClient;
  const run = (lua: string, keys: (string | Buffer)[], args: (string | number | Buffer)[]) =>
    redis.client.eval(lua, keys.length, ...keys, ...args);
  const live = (key: string, cond: (v: LockView) => boolean = () => true, what = key) =>
    waitFor(() => {
      const v = client.byKey(key);
      return v && cond(v) ? v : undefined;
    }, what);

  beforeAll(async () => {
    redis = await startTestRedis();
    app = await startTestApp(redis.url, { LOCK_PATTERNS: '*[lL][oO][cC][kK]*,fmt*,laravel_cache_*' });
    client = await app.connect();
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('Redisson RLock: client id + thread, re-entry count, watchdog renewal, release on the last unlock', async () => {
    const clientId = randomUUID();
    const owner = `${clientId}:83`;
    const unlockArgs = (n: number) => [
      'fmt:orders',
      'redisson_lock__channel:{fmt:orders}',
      `redisson_unlock_latch:{fmt:orders}:${randomBytes(8).toString('hex')}${n}`,
    ];
    await run(REDISSON_LOCK, ['fmt:orders'], [30_000, owner]);
    const held = await live('fmt:orders');
    expect(held).toMatchObject({ library: 'redisson', type: 'hash', reentryCount: 1, expectedRenewalMs: 10_000, state: 'held' });
    expect(held.owner?.text).toBe(owner);
    expect(held.owner?.fields).toMatchObject({ clientId, threadId: '83' });

    await run(REDISSON_LOCK, ['fmt:orders'], [30_000, owner]); // re-entry by the same thread
    await live('fmt:orders', (v) => v.reentryCount === 2, 're-entry');
    await new Promise((r) => setTimeout(r, 120));
    await run(REDISSON_RENEW, ['fmt:orders'], [30_000, owner]); // the watchdog
    await live('fmt:orders', (v) => v.renewals === 1, 'watchdog renewal');

    await run(REDISSON_UNLOCK, unlockArgs(1), [0, 30_000, owner, 'publish', 13_500]);
    await live('fmt:orders', (v) => v.reentryCount === 1, 'first unlock');
    await run(REDISSON_UNLOCK, unlockArgs(2), [0, 30_000, owner, 'publish', 13_500]);
    await live('fmt:orders', (v) => v.state === 'released', 'last unlock');
    // The unlock latches (`redisson_unlock_latch:…`, matching *lock*) are helpers, never locks.
    expect([...client.locks.values()].some((l) => l.key.text.startsWith('redisson_unlock_latch'))).toBe(false);
  });

  it('Redisson fair lock: waiting threads counted from its queue; queue and timeout set never show as locks', async () => {
    const a = `${randomUUID()}:1`;
    const b = `${randomUUID()}:2`;
    const keys = ['fmt:fair', 'redisson_lock_queue:{fmt:fair}', 'redisson_lock_timeout:{fmt:fair}'];
    expect(await run(REDISSON_FAIR_LOCK, keys, [30_000, a, 5000, Date.now()])).toBeNull();
    expect(await run(REDISSON_FAIR_LOCK, keys, [30_000, b, 5000, Date.now()])).toBeGreaterThan(0); // b waits
    const held = await live('fmt:fair', (v) => v.owner?.fields.waiters === '1', 'a waiter');
    expect(held).toMatchObject({ library: 'redisson', reentryCount: 1 });
    expect(held.owner?.text).toBe(a);
    expect(await redis.client.llen('redisson_lock_queue:{fmt:fair}')).toBe(1);
    expect(await redis.client.type('redisson_lock_timeout:{fmt:fair}')).toBe('zset');
    await new Promise((r) => setTimeout(r, 50));
    expect([...client.locks.values()].filter((l) => l.key.text.includes('fmt:fair')).map((l) => l.key.text)).toEqual(['fmt:fair']);
  });

  it('Redisson read-write lock: readers counted, writer owns write mode, reader timeout keys hidden', async () => {
    const r1 = `${randomUUID()}:5`;
    const r2 = `${randomUUID()}:6`;
    const timeoutPrefix = (owner: string) => `{fmt:rw}:${owner}:rwlock_timeout`;
    await run(REDISSON_READ_LOCK, ['fmt:rw', timeoutPrefix(r1)], [30_000, r1, `${r1}:write`]);
    await run(REDISSON_READ_LOCK, ['fmt:rw', timeoutPrefix(r2)], [30_000, r2, `${r2}:write`]);
    const read = await live('fmt:rw', (v) => v.owner?.fields.holders === '2', 'two readers');
    expect(read).toMatchObject({ library: 'redisson-rw', reentryCount: 1 });
    expect(read.owner?.fields.mode).toBe('read');
    expect(await redis.client.exists(`${timeoutPrefix(r1)}:1`)).toBe(1);

    const w = `${randomUUID()}:9`;
    await run(REDISSON_WRITE_LOCK, ['fmt:rw-w'], [30_000, `${w}:write`]);
    const write = await live('fmt:rw-w');
    expect(write).toMatchObject({ library: 'redisson-rw', reentryCount: 1 });
    expect(write.owner?.text).toBe(`${w}:write`);
    expect(write.owner?.fields).toMatchObject({ mode: 'write', clientId: w.split(':')[0], threadId: '9' });
    await new Promise((r) => setTimeout(r, 50));
    expect([...client.locks.values()].some((l) => l.key.text.includes('rwlock_timeout'))).toBe(false);
  });

  it('Redisson read-write lock: readers joining and leaving keep one lock (no owner change); read → write is one', async () => {
    // Readers whose fields sort so that the second one to join would have been picked as the owner.
    const [r2, r1] = [`${randomUUID()}:5`, `${randomUUID()}:6`].sort();
    const timeoutPrefix = (owner: string) => `{fmt:churn}:${owner}:rwlock_timeout`;
    const readLock = (owner: string) => run(REDISSON_READ_LOCK, ['fmt:churn', timeoutPrefix(owner!)], [30_000, owner!, `${owner!}:write`]);
    const readUnlock = (owner: string) =>
      run(REDISSON_READ_UNLOCK, ['fmt:churn', 'redisson_rwlock:{fmt:churn}', timeoutPrefix(owner), '{fmt:churn}'], [0, owner]);
    await readLock(r1!);
    const first = await live('fmt:churn');
    expect(first).toMatchObject({ library: 'redisson-rw' });
    expect(first.owner?.text).toBe(r1);
    await new Promise((r) => setTimeout(r, 100));
    await readLock(r2!);
    const two = await live('fmt:churn', (v) => v.owner?.fields.holders === '2', 'second reader');
    expect(two.owner?.text).toBe(r1); // still shown by the first reader
    expect(two.owner?.fields.readers).toBe(`${r2}, ${r1}`);
    await readUnlock(r1!);
    const left = await live('fmt:churn', (v) => v.owner?.fields.holders === undefined, 'first reader gone');
    expect(left.owner?.text).toBe(r2);
    expect(left).toMatchObject({ acquiredAt: first.acquiredAt, state: 'held' });
    const id = first.id;
    const kinds = () => app.tracker.history(id)!.events.map((e) => e.kind);
    expect(kinds()).not.toContain('owner-changed');
    // The last reader goes and a writer takes the lock: a new owner.
    await readUnlock(r2!);
    const w = `${randomUUID()}:9:write`;
    await run(REDISSON_WRITE_LOCK, ['fmt:churn'], [30_000, w]);
    await live('fmt:churn', (v) => v.owner?.text === w, 'the writer');
    expect(kinds().filter((k) => k === 'owner-changed' || k === 'acquired').length).toBeGreaterThanOrEqual(2);
  });

  it('python-redis-lock 2.x: a 16-byte binary owner, auto-renewal, release with its signal list', async () => {
    const id = Buffer.concat([Buffer.from([0xff, 0x00, 0x0a]), randomBytes(13)]); // urandom(16): not text
    await redis.client.set('lock:fmt-reports', id, 'EX', 2, 'NX');
    const held = await live('lock:fmt-reports');
    expect(held.library).toBe('python-redis-lock');
    expect(held.owner?.binary).toBe(true);
    expect(Buffer.from(held.owner!.base64, 'base64').equals(id)).toBe(true);
    expect(held.owner?.text).toMatch(/^\\xff\\x00\\x0a/);
    await new Promise((r) => setTimeout(r, 700));
    await redis.client.set('lock:fmt-reports', id, 'EX', 2, 'XX'); // 2.x renewal thread: SET XX EX, no owner check
    const renewed = await live('lock:fmt-reports', (v) => v.renewals === 1, 'renewal');
    expect(renewed.expectedRenewalMs).toBe(1333); // expire × 2/3
    await run(PRL_UNLOCK, ['lock:fmt-reports', 'lock-signal:fmt-reports'], [id, 1000]);
    await live('lock:fmt-reports', (v) => v.state === 'released', 'release');
    expect(await redis.client.llen('lock-signal:fmt-reports')).toBe(1);
    expect(client.byKey('lock-signal:fmt-reports')).toBeUndefined();
  });

  it('python-redis-lock 4.x: base64 id, EXTEND_SCRIPT renewal', async () => {
    const id = randomBytes(18).toString('base64');
    await redis.client.set('lock:fmt-v4', id, 'EX', 3, 'NX');
    await live('lock:fmt-v4', (v) => v.library === 'python-redis-lock');
    await new Promise((r) => setTimeout(r, 1100));
    expect(await run(PRL_EXTEND, ['lock:fmt-v4'], [id, 3])).toBe(0);
    await live('lock:fmt-v4', (v) => v.renewals === 1, 'renewal');
  });

  it('ShedLock: host and acquire time decoded; unlock before lockAtLeastFor keeps the key until it expires', async () => {
    const lockedAt = new Date(Date.now() - 1500).toISOString();
    const value = `ADDED:${lockedAt}@batch-host-3:${randomUUID()}`;
    await redis.client.set('job-lock:default:nightly', value, 'PX', 60_000, 'NX');
    const held = await live('job-lock:default:nightly');
    expect(held).toMatchObject({ library: 'shedlock', acquiredAt: Date.parse(lockedAt) });
    expect(held.owner?.fields).toMatchObject({ host: 'batch-host-3', env: 'default', name: 'nightly' });
    // doUnlock() while lockAtLeastFor is still ahead: SET XX PX <rest> (the key outlives the job on purpose).
    await redis.client.set('job-lock:default:nightly', value, 'PX', 300, 'XX');
    await live('job-lock:default:nightly', (v) => v.state === 'expired', 'expiry at lockAtLeastFor');
  });

  it('Spring RedisLockRegistry: registry and key from the name, renewal script, release by UNLINK', async () => {
    const clientId = randomUUID();
    await run(SPRING_OBTAIN, ['fmt-registry:order-42'], [clientId, 60_000]);
    const held = await live('fmt-registry:order-42');
    expect(held).toMatchObject({ library: 'spring', expectedRenewalMs: null });
    expect(held.owner?.fields).toMatchObject({ registry: 'fmt-registry', lockKey: 'order-42', clientId });
    await new Promise((r) => setTimeout(r, 100));
    await run(SPRING_RENEW, ['fmt-registry:order-42'], [clientId, 60_000]);
    const renewed = await live('fmt-registry:order-42', (v) => v.renewals === 1, 'renewal');
    expect(renewed.expectedRenewalMs).toBe(20_000); // renewal scheduler: expireAfter/3
    await run(SPRING_UNLOCK, ['fmt-registry:order-42'], [clientId]);
    await live('fmt-registry:order-42', (v) => v.state === 'released', 'release');
  }, 10_000);

  it('redsync, redis-py (with and without timeout), Laravel (with and without seconds), sidekiq-unique-jobs', async () => {
    const rs = randomBytes(16).toString('base64');
    await redis.client.set('fmt:mutex', rs, 'PX', 8000, 'NX');
    const pyAt = Date.now() - 2500; // the token redis-py made in acquire(), a little while ago
    const py = uuid1Hex(pyAt);
    await redis.client.set('fmt:py', py, 'PX', 10_000, 'NX');
    await redis.client.set('fmt:py-forever', uuid1Hex(), 'NX'); // Lock(timeout=None): no TTL
    await redis.client.set('laravel_cache_:fmt-invoices', strRandom16(), 'EX', 10, 'NX');
    await redis.client.setnx('laravel_cache_:fmt-forever', strRandom16()); // seconds = 0
    const jid = randomBytes(12).toString('hex');
    await redis.client.hset('uniquejobs:fmtdigest:LOCKED', jid, '1767323045.25');
    await redis.client.rpush('uniquejobs:fmtdigest:PRIMED', jid);

    expect((await live('fmt:mutex')).library).toBe('redsync');
    expect(await live('fmt:py')).toMatchObject({ library: 'redis-py', acquiredAt: pyAt });
    expect(await live('fmt:py-forever')).toMatchObject({ library: 'redis-py', state: 'no-ttl', deadline: null, pttlMs: -1 });
    expect((await live('laravel_cache_:fmt-invoices')).library).toBe('laravel');
    expect(await live('laravel_cache_:fmt-forever')).toMatchObject({ library: 'laravel', state: 'no-ttl' });
    const sk = await live('uniquejobs:fmtdigest:LOCKED');
    expect(sk).toMatchObject({ library: 'sidekiq-unique', type: 'hash', acquiredAt: 1767323045250, state: 'no-ttl' });
    expect(sk.owner?.text).toBe(jid);
    expect(client.byKey('uniquejobs:fmtdigest:PRIMED')).toBeUndefined();

    await new Promise((r) => setTimeout(r, 100));
    await run(REDSYNC_TOUCH, ['fmt:mutex'], [rs, 8000]);
    await run(REDIS_PY_EXTEND, ['fmt:py'], [py, 5000, '0']); // extend(5): adds to what is left
    await live('fmt:mutex', (v) => v.renewals === 1, 'redsync extend');
    await live('fmt:py', (v) => v.renewals === 1, 'redis-py extend');
    await run(COMPARE_AND_DELETE, ['fmt:mutex'], [rs]);
    await live('fmt:mutex', (v) => v.state === 'released', 'redsync unlock');
  });

  it('sidekiq-unique-jobs v9: lock_v9.lua stores Locksmith#lock_metadata JSON per job id', async () => {
    const jid = randomBytes(12).toString('hex');
    const now = Date.now() / 1000;
    // Locksmith#lock_metadata: dump_json(worker:, queue:, limit:, timeout:, ttl:, type:, lock_args:, time:, at:)
    const metadata = JSON.stringify({
      worker: 'ReportJob',
      queue: 'reports',
      limit: 1,
      timeout: 0,
      ttl: 60,
      type: 'until_expired',
      lock_args: [7, 'monthly'],
      time: now - 1.5,
      at: null,
    });
    const args = [jid, 60_000, 'until_expired', 1, metadata, Math.floor(now * 1000)];
    expect(await run(SIDEKIQ_LOCK_V9, ['uniquejobs:fmtv9:LOCKED', 'uniquejobs:digests'], args)).toBe(jid);
    const held = await live('uniquejobs:fmtv9:LOCKED');
    expect(held).toMatchObject({ library: 'sidekiq-unique', type: 'hash', acquiredAt: Math.round((now - 1.5) * 1000), state: 'held' });
    expect(held.owner?.text).toBe(jid);
    expect(held.owner?.fields).toMatchObject({
      digest: 'uniquejobs:fmtv9',
      jid,
      worker: 'ReportJob',
      queue: 'reports',
      lockType: 'until_expired',
      lockArgs: '[7,"monthly"]',
    });
    // A second job is refused (limit 1): nothing changes hands.
    expect(await run(SIDEKIQ_LOCK_V9, ['uniquejobs:fmtv9:LOCKED', 'uniquejobs:digests'], [randomBytes(12).toString('hex'), ...args.slice(1)])).toBeNull();
    expect(client.byKey('uniquejobs:digests')).toBeUndefined();
  });
});
