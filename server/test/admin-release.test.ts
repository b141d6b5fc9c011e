import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BulkReleaseResponse, ReleaseResponse, SetTtlResponse } from '../../shared/admin';
import type { LockView } from '../../shared/locks';
import { api, auditEntries, b64, data } from './support/admin-http';
import { startTestApp, type LiveClient, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';
import { expectedDeletes, serverVersion } from './support/server-version';

const TOKEN = 'test-admin-token-0123456789';

describe('force-release and set TTL (real app, real Redis, real HTTP)', () => {
  let redis: TestRedis;
  let app: TestApp;
  let client: LiveClient;

  beforeAll(async () => {
    redis = await startTestRedis();
    app = await startTestApp(redis.url, { ADMIN_TOKEN: TOKEN });
    client = await app.connect();
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  /** The live row of a key once it matches `ok` (default: held). */
  const row = (key: string | Buffer, ok: (l: LockView) => boolean = (l) => l.endedAt === null): Promise<LockView> =>
    waitFor(() => {
      const l = client.locks.get(b64(key));
      return l && ok(l) ? l : undefined;
    }, `lockscope to show ${String(key)}`);
  const tracked = (key: string | Buffer) => row(key);

  const release = (body: object) => api<ReleaseResponse>(app.url, '/api/locks/release', { json: body, token: TOKEN });
  const setTtl = (body: object) => api<SetTtlResponse>(app.url, '/api/locks/ttl', { json: body, token: TOKEN });

  it('the race: owner A seen, the lock expires and B takes it; releasing with A is refused and B keeps the lock', async () => {
    await redis.client.set('lock:race', 'owner-A', 'PX', 300);
    const seen = await tracked('lock:race');
    expect(seen.owner?.text).toBe('owner-A');
    await waitFor(async () => (await redis.client.exists('lock:race')) === 0, 'A to expire');
    await redis.client.set('lock:race', 'owner-B', 'PX', 30_000);

    const reply = await release({ keyBase64: seen.id, expectedOwnerBase64: seen.owner!.base64, reason: 'job stuck' });
    expect(reply.status).toBe(200);
    const outcome = data(reply);
    expect(outcome.result).toBe('owner-changed');
    expect(outcome.result === 'owner-changed' && outcome.currentOwner?.text).toBe('owner-B');
    expect(await redis.client.get('lock:race')).toBe('owner-B');
    expect(await redis.client.pttl('lock:race')).toBeGreaterThan(25_000);

    const entry = (await auditEntries(app.url, TOKEN)).find((e) => e.id === outcome.auditId);
    expect(entry).toMatchObject({
      action: 'release',
      actor: 'bearer',
      result: 'owner-changed',
      reason: 'job stuck',
      key: { text: 'lock:race' },
      ownerSeen: { text: 'owner-A' },
      currentOwner: { text: 'owner-B' },
    });
    expect(entry!.ip).toMatch(/127\.0\.0\.1/);
  });

  it('releases a stuck lock whose owner is unchanged; the table shows it released by lockscope', async () => {
    await redis.client.set('lock:stuck', 'crashed-worker-7');
    const seen = await tracked('lock:stuck');
    const outcome = data(await release({ key: 'lock:stuck', expectedOwner: 'crashed-worker-7', reason: 'worker 7 died' }));
    // DELEX IFEQ where the server has it (Redis 8.4+, Valkey 9.2+), lockscope's Lua script otherwise.
    const via = expectedDeletes(await serverVersion(redis.client)).admin;
    expect(outcome).toMatchObject({ result: 'released', woke: null, via, key: { text: 'lock:stuck' }, library: 'generic' });
    expect(await redis.client.exists('lock:stuck')).toBe(0);
    await waitFor(() => client.locks.get(seen.id)?.state === 'released' || !client.locks.has(seen.id), 'the row to end');
    const history = await client.socket.emitWithAck('lock:history', seen.id);
    expect(history.ok && history.data.events.map((e) => e.kind)).toContain('force-released');
  });

  it('says "already gone" when the lock disappeared before the click, and deletes nothing else', async () => {
    await redis.client.set('lock:gone', 'w1', 'PX', 30_000);
    const seen = await tracked('lock:gone');
    await redis.client.del('lock:gone');
    const outcome = data(await release({ keyBase64: seen.id, expectedOwner: 'w1', reason: 'cleanup' }));
    expect(outcome.result).toBe('already-gone');
  });

  it('release of a Redisson hash lock deletes it and wakes a subscriber on its unlock channel', async () => {
    const name = 'lock:redisson:orders';
    const field = `${randomUUID()}:57`;
    await redis.client.hset(name, field, '2');
    await redis.client.pexpire(name, 30_000);
    const seen = await tracked(name);
    expect(seen.library).toBe('redisson');
    expect(seen.owner?.text).toBe(field);

    const waiter = new Redis(redis.url);
    try {
      const message = new Promise<[string, string]>((resolve) => waiter.on('message', (ch: string, msg: string) => resolve([ch, msg])));
      await waiter.subscribe(`redisson_lock__channel:{${name}}`);
      const outcome = data(await release({ keyBase64: seen.id, expectedOwnerBase64: seen.owner!.base64, reason: 'watchdog dead' }));
      expect(outcome).toMatchObject({ result: 'released', woke: 'redisson-channel', library: 'redisson' });
      expect(await message).toEqual([`redisson_lock__channel:{${name}}`, '0']);
      expect(await redis.client.exists(name)).toBe(0);
    } finally {
      waiter.disconnect();
    }
  });

  it('release of a Redisson fair lock drops waiters whose wait ended and wakes the first live one on its own channel', async () => {
    const name = 'lock:redisson:fair';
    const holder = `${randomUUID()}:1`;
    const [gaveUp, next, after] = [`${randomUUID()}:7`, `${randomUUID()}:8`, `${randomUUID()}:9`];
    await redis.client.hset(name, holder, '1');
    await redis.client.pexpire(name, 30_000);
    // RedissonFairLock's side keys: the queue in order, each waiter's wait deadline (epoch ms) in the ZSET.
    const queue = `redisson_lock_queue:{${name}}`;
    const timeouts = `redisson_lock_timeout:{${name}}`;
    await redis.client.rpush(queue, gaveUp, next, after);
    const now = Date.now();
    await redis.client.zadd(timeouts, now - 1000, gaveUp, now + 300_000, next, now + 600_000, after);
    const seen = await tracked(name);
    expect(seen.library).toBe('redisson');

    const waiter = new Redis(redis.url);
    try {
      const messages: [string, string][] = [];
      waiter.on('pmessage', (_p: string, ch: string, msg: string) => messages.push([ch, msg]));
      await waiter.psubscribe(`redisson_lock__channel:{${name}}*`);
      const outcome = data(await release({ key: name, expectedOwner: holder, reason: 'holder hung' }));
      expect(outcome).toMatchObject({ result: 'released', woke: 'redisson-fair-queue', library: 'redisson' });
      await waitFor(() => messages.length > 0, 'a wake-up');
      await new Promise((r) => setTimeout(r, 100));
      // Only the first waiter still waiting is woken, on its own channel; the one that gave up is gone from the queue.
      expect(messages).toEqual([[`redisson_lock__channel:{${name}}:${next}`, '0']]);
      expect(await redis.client.lrange(queue, 0, -1)).toEqual([next, after]);
      expect(await redis.client.zrange(timeouts, 0, -1)).toEqual([next, after]);
      expect(await redis.client.exists(name)).toBe(0);
    } finally {
      waiter.disconnect();
    }
  });

  it('uses the caller\'s own hash tag in the Redisson channel, and wakes every read-write lock waiter', async () => {
    const name = '{billing}:lock';
    const field = `${randomUUID()}:1`;
    await redis.client.hset(name, 'mode', 'write', `${field}:write`, '1', field, '1');
    await redis.client.pexpire(name, 30_000);
    const seen = await tracked(name);
    expect(seen.library).toBe('redisson-rw');
    expect(seen.owner?.text).toBe(`${field}:write`);

    const waiter = new Redis(redis.url);
    try {
      const message = new Promise<[string, string]>((resolve) => waiter.on('message', (ch: string, msg: string) => resolve([ch, msg])));
      await waiter.subscribe(`redisson_rwlock:${name}`);
      const outcome = data(await release({ key: name, expectedOwner: `${field}:write`, reason: 'rw stuck' }));
      expect(outcome).toMatchObject({ result: 'released', woke: 'redisson-channel' });
      expect(await message).toEqual([`redisson_rwlock:${name}`, '1']);
    } finally {
      waiter.disconnect();
    }
  });

  it('release of a Spring RedisLockRegistry lock wakes its pub/sub waiters: the key, on <registryKey>-channel:<key>', async () => {
    // Registry key "jobs:locks" (it contains a colon, so the key alone cannot tell where it ends), path "nightly".
    const key = 'jobs:locks:nightly';
    const clientId = randomUUID(); // one UUID per registry, the value of each of its locks
    await redis.client.set(key, clientId, 'PX', 60_000);
    const seen = await tracked(key);
    expect(seen.library).toBe('spring');

    const waiter = new Redis(redis.url);
    try {
      const messages: string[][] = [];
      waiter.on('pmessage', (pattern: string, channel: string, message: string) => messages.push([pattern, channel, message]));
      // What the registry's listener container subscribes to in PUB_SUB_LOCK mode: PatternTopic(registryKey + "-channel:*").
      await waiter.psubscribe('jobs:locks-channel:*');
      const outcome = data(await release({ key, expectedOwner: clientId, reason: 'pod evicted' }));
      expect(outcome).toMatchObject({ result: 'released', woke: 'spring-channel', via: 'lua', library: 'spring' });
      await waitFor(() => messages.length > 0, 'the Spring waiter to be woken');
      // Spring's unlock script: PUBLISH <registryKey>-channel:<lock key> <lock key>; its waiters match the message.
      expect(messages).toEqual([['jobs:locks-channel:*', `jobs:locks-channel:${key}`, key]]);
      expect(await redis.client.exists(key)).toBe(0);
      const entry = (await auditEntries(app.url, TOKEN)).find((e) => e.id === outcome.auditId);
      expect(entry).toMatchObject({ result: 'released', woke: 'spring-channel' });
    } finally {
      waiter.disconnect();
    }
  });

  it('a Spring lock whose owner changed is not released and wakes nobody', async () => {
    const key = 'orders-lock:invoice-7';
    await redis.client.set(key, randomUUID(), 'PX', 60_000);
    const seen = await tracked(key);
    expect(seen.library).toBe('spring');
    const waiter = new Redis(redis.url);
    try {
      const messages: string[] = [];
      waiter.on('pmessage', (_p: string, channel: string) => messages.push(channel));
      await waiter.psubscribe('orders-lock-channel:*');
      const outcome = data(await release({ key, expectedOwner: randomUUID(), reason: 'wrong node' }));
      expect(outcome.result).toBe('owner-changed');
      await redis.client.publish('orders-lock-channel:marker', 'marker'); // every earlier message arrives first
      await waitFor(() => messages.includes('orders-lock-channel:marker'), 'the marker');
      expect(messages).toEqual(['orders-lock-channel:marker']);
      expect(await redis.client.exists(key)).toBe(1);
    } finally {
      waiter.disconnect();
    }
  });

  it('refuses a Redisson release naming another thread, and shows the current holder', async () => {
    const holder = `${randomUUID()}:1`;
    await redis.client.hset('lock:redisson:held', holder, '1');
    await redis.client.pexpire('lock:redisson:held', 30_000);
    const seen = await tracked('lock:redisson:held');
    const outcome = data(await release({ keyBase64: seen.id, expectedOwner: `${randomUUID()}:1`, reason: 'wrong one' }));
    expect(outcome.result === 'owner-changed' && outcome.currentOwner?.text).toBe(holder);
    expect(await redis.client.hexists('lock:redisson:held', holder)).toBe(1);
  });

  it('naming a read-write lock\'s "mode" field is not naming its owner: nothing is deleted or changed', async () => {
    const reader = `${randomUUID()}:3`;
    await redis.client.hset('lock:rw:mode', 'mode', 'read', reader, '1');
    const seen = await tracked('lock:rw:mode');
    expect(seen.library).toBe('redisson-rw');

    const released = data(await release({ keyBase64: seen.id, expectedOwner: 'mode', reason: 'guessing' }));
    expect(released.result === 'owner-changed' && released.currentOwner?.text).toBe(reader);
    const ttl = data(await setTtl({ keyBase64: seen.id, expectedOwner: 'mode', ttlMs: 5_000, reason: 'guessing' }));
    expect(ttl.result).toBe('owner-changed');
    expect(await redis.client.hgetall('lock:rw:mode')).toEqual({ mode: 'read', [reader]: '1' });
    expect(await redis.client.pttl('lock:rw:mode')).toBe(-1);
  });

  it('a read lock shared by two readers is not released by naming one of them; both keep it', async () => {
    const [a, b] = [`${randomUUID()}:1`, `${randomUUID()}:9`];
    await redis.client.hset('lock:rw:shared', 'mode', 'read', a, '1', b, '2');
    await redis.client.pexpire('lock:rw:shared', 30_000);
    const seen = await tracked('lock:rw:shared');

    const outcome = data(await release({ keyBase64: seen.id, expectedOwner: a, reason: 'reader a crashed' }));
    expect(outcome.result).toBe('shared');
    expect(outcome.result === 'shared' && outcome.holders.map((h) => h.text).sort()).toEqual([a, b].sort());
    expect(await redis.client.hgetall('lock:rw:shared')).toEqual({ mode: 'read', [a]: '1', [b]: '2' });
    const entry = (await auditEntries(app.url, TOKEN)).find((e) => e.id === outcome.auditId);
    expect(entry).toMatchObject({ result: 'shared', currentOwner: { text: b } });
  });

  it('release of a python-redis-lock lock pushes its signal list, waking a BLPOP waiter', async () => {
    const owner = randomBytes(16);
    await redis.client.set('lock:nightly-report', owner, 'EX', 60);
    const seen = await tracked('lock:nightly-report');
    expect(seen.library).toBe('python-redis-lock');

    const waiter = new Redis(redis.url);
    try {
      const woken = waiter.blpop('lock-signal:nightly-report', 5);
      await waitFor(async () => /cmd=blpop/.test((await redis.client.client('LIST')) as string), 'the waiter to block');
      const outcome = data(await release({ keyBase64: seen.id, expectedOwnerBase64: seen.owner!.base64, reason: 'report hung' }));
      expect(outcome).toMatchObject({ result: 'released', woke: 'python-redis-lock-signal', library: 'python-redis-lock' });
      expect(await woken).toEqual(['lock-signal:nightly-report', '1']);
    } finally {
      waiter.disconnect();
    }

    // With nobody waiting, the signal stays only briefly (the library's signal_expire, 1000 ms).
    const again = randomBytes(16);
    await redis.client.set('lock:nightly-report', again, 'EX', 60);
    const next = await row('lock:nightly-report', (l) => l.owner?.base64 === b64(again));
    data(await release({ keyBase64: next.id, expectedOwnerBase64: b64(again), reason: 'again' }));
    const pttl = await redis.client.pttl('lock-signal:nightly-report');
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(1000);
  });

  it('releases a binary key named by base64', async () => {
    const key = Buffer.from([0x6c, 0x6f, 0x63, 0x6b, 0x3a, 0xff, 0x00, 0x01]); // "lock:" ff 00 01
    const owner = Buffer.from([0xca, 0xfe, 0x00, 0xba, 0xbe]);
    await redis.client.set(key, owner, 'PX', 30_000);
    const seen = await tracked(key);
    expect(seen.key.binary).toBe(true);
    const outcome = data(await release({ keyBase64: b64(key), expectedOwnerBase64: b64(owner), reason: 'binary cleanup' }));
    expect(outcome).toMatchObject({ result: 'released', key: { text: 'lock:\\xff\\x00\\x01', binary: true } });
    expect(await redis.client.exists(key)).toBe(0);
    const entry = (await auditEntries(app.url, TOKEN)).find((e) => e.id === outcome.auditId);
    expect(entry?.key?.base64).toBe(b64(key));
    expect(entry?.ownerSeen?.base64).toBe(b64(owner));
  });

  it('gives a no-TTL lock a TTL, after which it expires', async () => {
    await redis.client.set('lock:forever', 'crashed-before-expire');
    const seen = await tracked('lock:forever');
    expect(seen.state).toBe('no-ttl');
    const reply = await api<SetTtlResponse>(app.url, '/api/locks/ttl', {
      json: { keyBase64: seen.id, expectedOwnerBase64: seen.owner!.base64, ttlMs: 600, reason: 'let it expire' },
      token: TOKEN,
    });
    expect(data(reply)).toMatchObject({ result: 'ttl-set', ttlMs: 600 });
    const pttl = await redis.client.pttl('lock:forever');
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(600);
    await waitFor(() => client.locks.get(seen.id)?.deadline !== null, 'the table to show the deadline');
    await waitFor(() => client.locks.get(seen.id)?.state === 'expired', 'the lock to expire', 3000);
    expect(await redis.client.exists('lock:forever')).toBe(0);
  });

  it('changes nothing when setting a TTL on a lock that has one, or that changed owner', async () => {
    await redis.client.set('lock:has-ttl', 'w', 'PX', 60_000);
    await redis.client.set('lock:other-owner', 'new-owner');
    await Promise.all([tracked('lock:has-ttl'), tracked('lock:other-owner')]);
    const ttl = (body: object) => api<SetTtlResponse>(app.url, '/api/locks/ttl', { json: { ttlMs: 1000, reason: 'r', ...body }, token: TOKEN });

    const hasTtl = data(await ttl({ key: 'lock:has-ttl', expectedOwner: 'w' }));
    expect(hasTtl.result).toBe('has-ttl');
    expect(hasTtl.result === 'has-ttl' && hasTtl.pttlMs).toBeGreaterThan(55_000);
    expect(await redis.client.pttl('lock:has-ttl')).toBeGreaterThan(55_000);

    const changed = data(await ttl({ key: 'lock:other-owner', expectedOwner: 'old-owner' }));
    expect(changed.result === 'owner-changed' && changed.currentOwner?.text).toBe('new-owner');
    expect(await redis.client.pttl('lock:other-owner')).toBe(-1);
  });

  it('answers 404 for a key lockscope does not track as a lock, and deletes nothing', async () => {
    await redis.client.set('session:42', 'user-data');
    const outside = await release({ key: 'session:42', expectedOwner: 'user-data', reason: 'not a lock' });
    expect(outside.status).toBe(404);
    expect(outside.body).toMatchObject({ ok: false, error: { code: 'unknown_key' } });
    expect(await redis.client.get('session:42')).toBe('user-data');

    const never = await release({ key: 'lock:never-existed', expectedOwner: 'x', reason: 'typo' });
    expect(never.status).toBe(404);
    const entry = (await auditEntries(app.url, TOKEN, 1))[0];
    expect(entry).toMatchObject({ result: 'refused', error: { code: 'unknown_key' }, key: { text: 'lock:never-existed' } });
  });

  it('refuses keys of a type no lock library uses (409) and leaves them alone', async () => {
    await redis.client.rpush('lock:queue-like', 'a', 'b');
    // List pushes send no keyspace event lockscope subscribes to: a rescan finds the key.
    await app.target.resync();
    const seen = await waitFor(() => client.byKey('lock:queue-like'), 'list key');
    const reply = await release({ keyBase64: seen.id, expectedOwner: 'a', reason: 'r' });
    expect(reply.status).toBe(409);
    expect(reply.body).toMatchObject({ ok: false, error: { code: 'unsupported_type' } });
    expect(await redis.client.llen('lock:queue-like')).toBe(2);
  });

  it('bulk release checks each lock on its own and audits each', async () => {
    await redis.client.set('lock:bulk:a', 'a1', 'PX', 30_000);
    await redis.client.set('lock:bulk:b', 'b-new', 'PX', 30_000);
    await redis.client.set('lock:bulk:c', 'c1', 'PX', 30_000);
    await Promise.all(['a', 'b', 'c'].map((x) => tracked(`lock:bulk:${x}`)));
    await redis.client.del('lock:bulk:c');

    const reply = await api<BulkReleaseResponse>(app.url, '/api/locks/release-bulk', {
      json: {
        locks: [
          { key: 'lock:bulk:a', expectedOwner: 'a1' },
          { key: 'lock:bulk:b', expectedOwner: 'b-old' },
          { keyBase64: b64('lock:bulk:c'), expectedOwnerBase64: b64('c1') },
          { key: 'lock:bulk:unknown', expectedOwner: 'x' },
        ],
        reason: 'deploy cleanup',
      },
      token: TOKEN,
    });
    const bulk = data(reply);
    expect(bulk.results.map((r) => (r.ok ? r.result : r.error.code))).toEqual(['released', 'owner-changed', 'already-gone', 'unknown_key']);
    expect(bulk).toMatchObject({ released: 1, ownerChanged: 1, alreadyGone: 1, failed: 1 });
    expect(await redis.client.exists('lock:bulk:a')).toBe(0);
    expect(await redis.client.get('lock:bulk:b')).toBe('b-new');

    const entries = (await auditEntries(app.url, TOKEN)).filter((e) => e.bulkId === bulk.bulkId);
    expect(entries.map((e) => e.result).reverse()).toEqual(['released', 'owner-changed', 'already-gone', 'refused']);
    expect(entries.every((e) => e.reason === 'deploy cleanup')).toBe(true);
  });
});
