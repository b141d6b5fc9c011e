import { randomBytes, randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { Semaphore } from 'redis-semaphore';
import { lock as simpleLock } from 'simple-redis-mutex';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { ReleaseResponse, SetTtlResponse } from '../../shared/admin';
import { api, auditEntries, data } from './support/admin-http';
import { liveApp, startTestApp, type LiveClient, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const TOKEN = 'test-admin-token-0123456789';
const NO_LEASE = 922337203685477;

describe('force-release of locks several hold at once: one holder, all of them, or refused (real app, real clients)', () => {
  const suite = liveApp({ ADMIN_TOKEN: TOKEN });

  const conn = () => suite.redis.connection();
  const live: LiveClient['until'] = (...args) => suite.client.until(...args);
  const release = (body: object) => api<ReleaseResponse>(suite.app.url, '/api/locks/release', { json: body, token: TOKEN });

  it('redis-semaphore: frees one holder alone (its client sees its lock lost), refuses the whole while others hold it, then frees all', async () => {
    const lost: string[] = [];
    const sems = [0, 1, 2].map(() => {
      const s: Semaphore = new Semaphore(conn(), 'jobs', 3, { lockTimeout: 1500, onLockLost: () => lost.push(s.identifier) });
      return s;
    });
    onTestFinished(() => Promise.all(sems.map((s) => s.release().catch(() => {}))).then(() => {}));
    for (const s of sems) await s.acquire();
    const seen = await live('semaphore:jobs', (v) => v.holders?.list.length === 3, 'three holders');
    const [victim, ...others] = sems;

    // The whole semaphore, naming one holder: others hold it too, so nothing is deleted.
    const whole = data(await release({ keyBase64: seen.id, expectedOwner: victim!.identifier, reason: 'try whole' }));
    expect(whole.result).toBe('shared');
    expect(whole.result === 'shared' && whole.holders.map((h) => h.text).sort()).toEqual(sems.map((s) => s.identifier).sort());
    expect(await suite.redis.client.zcard('semaphore:jobs')).toBe(3);

    // One holder: only its member goes (its own release is ZREM id); the others keep their permits.
    const one = data(await release({ keyBase64: seen.id, expectedOwner: victim!.identifier, scope: 'holder', reason: 'worker-3 hung (INC-77)' }));
    expect(one).toMatchObject({ result: 'released', via: 'lua', woke: null, library: 'redis-semaphore', freed: { count: 1, holders: [{ text: victim!.identifier }] } });
    expect((await suite.redis.client.zrange('semaphore:jobs', 0, -1)).sort()).toEqual(others.map((s) => s.identifier).sort());
    await live('semaphore:jobs', (v) => v.holders?.list.length === 2, 'two holders');
    // Its own client finds out at its next refresh, as it would had its entry expired.
    await waitFor(() => lost.includes(victim!.identifier), 'the freed holder to see its lock lost', 3000);
    expect(lost).toEqual([victim!.identifier]);
    const history = await suite.client.socket.emitWithAck('lock:history', seen.id);
    const forced = history.ok ? history.data.events.filter((e) => e.kind === 'holder-force-released') : [];
    expect(forced.map((e) => e.holder)).toEqual([victim!.identifier]);
    expect(history.ok && history.data.events.some((e) => e.kind === 'holder-left' || e.kind === 'holder-expired')).toBe(false);
    const entry = (await auditEntries(suite.app.url, TOKEN)).find((e) => e.id === one.auditId);
    expect(entry).toMatchObject({ result: 'released', detail: 'one holder: freed 1', ownerSeen: { text: victim!.identifier } });

    // The same holder again: it is no longer there.
    expect(data(await release({ keyBase64: seen.id, expectedOwner: victim!.identifier, scope: 'holder', reason: 'again' })).result).toBe('already-gone');

    // Every holder at once, naming one still there.
    const all = data(await release({ keyBase64: seen.id, expectedOwner: others[0]!.identifier, scope: 'all', reason: 'pool reset' }));
    expect(all).toMatchObject({ result: 'released', freed: { count: 2 } });
    expect(await suite.redis.client.exists('semaphore:jobs')).toBe(0);
    await live('semaphore:jobs', (v) => v.state === 'released', 'released');
  });

  it('a lock with one owner refuses a holder-scoped release (409) and keeps its key', async () => {
    await suite.redis.client.set('lock:single', 'w1', 'PX', 30_000);
    await live('lock:single');
    const reply = await release({ key: 'lock:single', expectedOwner: 'w1', scope: 'holder', reason: 'wrong scope' });
    expect(reply.status).toBe(409);
    expect(reply.body).toMatchObject({ ok: false, error: { code: 'release_not_allowed' } });
    expect(await suite.redis.client.get('lock:single')).toBe('w1');
  });

  it('Redisson RPermitExpirableSemaphore: freeing an expired permit gives it back to the counter and tells waiters the new count', async () => {
    const name = 'export-semaphore';
    const timeouts = `{${name}}:timeout`;
    const [stale, alive] = [randomBytes(16), randomBytes(16)];
    await suite.redis.client.set(name, 1); // three permits, two taken
    await suite.redis.client.zadd(timeouts, Date.now() - 5000, stale, NO_LEASE, alive);
    const seen = await live(timeouts, (v) => v.holders?.list.length === 2, 'two permits');
    expect(seen.state).toBe('no-ttl'); // the permit without lease, on a counter without TTL
    const waiter = conn();
    const messages: [string, string][] = [];
    waiter.on('message', (ch: string, msg: string) => messages.push([ch, msg]));
    await waiter.subscribe(`redisson_sc:{${name}}`);
    const out = data(await release({ keyBase64: seen.id, expectedOwnerBase64: stale.toString('base64'), scope: 'holder', reason: 'permit leaked by a dead job' }));
    expect(out).toMatchObject({ result: 'released', woke: 'redisson-semaphore-channel', library: 'redisson-semaphore' });
    expect(await suite.redis.client.get(name)).toBe('2');
    expect(await suite.redis.client.zcard(timeouts)).toBe(1);
    await waitFor(() => messages.length > 0, 'the semaphore channel');
    expect(messages).toEqual([[`redisson_sc:{${name}}`, '2']]);
  });

  it('Redisson read lock shared by two readers: one reader is freed alone (its timeout keys too); freeing the last one deletes the lock and wakes waiters', async () => {
    const name = 'lock:rw:readers';
    const [a, b] = [`${randomUUID()}:1`, `${randomUUID()}:2`];
    await suite.redis.client.hset(name, 'mode', 'read', a, '2', b, '1');
    await suite.redis.client.pexpire(name, 30_000);
    // RedissonReadLock's reader timeout keys: `{name}:<field>:rwlock_timeout:<1..count>`.
    await suite.redis.client.set(`{${name}}:${a}:rwlock_timeout:1`, 1, 'PX', 30_000);
    await suite.redis.client.set(`{${name}}:${a}:rwlock_timeout:2`, 1, 'PX', 30_000);
    await suite.redis.client.set(`{${name}}:${b}:rwlock_timeout:1`, 1, 'PX', 30_000);
    const seen = await live(name, (v) => v.holders?.list.length === 2, 'two readers');
    expect(seen.library).toBe('redisson-rw');
    const waiter = conn();
    const messages: string[] = [];
    waiter.on('message', (ch: string) => messages.push(ch));
    await waiter.subscribe(`redisson_rwlock:{${name}}`);

    const first = data(await release({ keyBase64: seen.id, expectedOwner: a, scope: 'holder', reason: 'reader a hung' }));
    expect(first).toMatchObject({ result: 'released', woke: null });
    expect(await suite.redis.client.hgetall(name)).toEqual({ mode: 'read', [b]: '1' });
    expect(await suite.redis.client.exists(`{${name}}:${a}:rwlock_timeout:1`, `{${name}}:${a}:rwlock_timeout:2`)).toBe(0);
    expect(await suite.redis.client.exists(`{${name}}:${b}:rwlock_timeout:1`)).toBe(1);

    const last = data(await release({ keyBase64: seen.id, expectedOwner: b, scope: 'holder', reason: 'reader b hung' }));
    expect(last).toMatchObject({ result: 'released', woke: 'redisson-channel' });
    expect(await suite.redis.client.exists(name)).toBe(0);
    await waitFor(() => messages.length > 0, 'the read-write lock channel');
  });

  it('Symfony read lock: one reader freed as its own delete() does (token and write marker out, expiry at the latest left)', async () => {
    const [r1, r2] = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
    const now = Date.now();
    await suite.redis.client.zadd('pdf-lock', now + 60_000, r1, now + 120_000, r2);
    await suite.redis.client.pexpireat('pdf-lock', now + 120_000);
    const seen = await live('pdf-lock', (v) => v.holders?.list.length === 2, 'two readers');
    expect(seen.library).toBe('symfony');
    data(await release({ keyBase64: seen.id, expectedOwner: r2, scope: 'holder', reason: 'reader gone' }));
    expect(await suite.redis.client.zrange('pdf-lock', 0, -1)).toEqual([r1]);
    const pexpireAt = Number(await suite.redis.client.call('PEXPIRETIME', 'pdf-lock'));
    expect(Math.abs(pexpireAt - (now + 60_000))).toBeLessThan(2);
  });

  it('simple-redis-mutex: a force-release wakes a process waiting in lock() through the library\'s shared channel', async () => {
    const holder = createClient({ url: suite.redis.url });
    const other = createClient({ url: suite.redis.url });
    await Promise.all([holder.connect(), other.connect()]);
    try {
      await simpleLock(holder, 'report', { timeout: 60_000 }); // its holder hangs: never released
      const seen = await live('@simple-redis-mutex:lock-report');
      // A waiter that would otherwise poll only every 60 s.
      let acquiredAt = 0;
      const waiting = simpleLock(other, 'report', { timeout: 10_000, pollingInterval: 60_000 }).then((rel) => {
        acquiredAt = Date.now();
        return rel;
      });
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      const out = data(await release({ keyBase64: seen.id, expectedOwnerBase64: seen.owner!.base64, reason: 'holder hung' }));
      expect(out).toMatchObject({ result: 'released', via: 'lua', woke: 'simple-redis-mutex-channel', library: 'simple-redis-mutex' });
      const rel = await waiting;
      expect(acquiredAt - started).toBeLessThan(2000);
      await rel();
    } finally {
      await Promise.all([holder.quit(), other.quit()]);
    }
  });
});

describe('admin acts on Redis, not on what lockscope has seen so far (issue 10)', () => {
  let redis: TestRedis;
  let app: TestApp;

  beforeAll(async () => {
    // No keyspace notifications and a slow poll: nothing reaches the tracker but what admin itself reads.
    redis = await startTestRedis({ args: ['--notify-keyspace-events', ''] });
    app = await startTestApp(redis.url, { ADMIN_TOKEN: TOKEN, POLL_MS: '60000' }, { configureNotifications: false });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  const release = (body: object) => api<ReleaseResponse>(app.url, '/api/locks/release', { json: body, token: TOKEN });

  it('a lock taken a moment ago is released with the same owner check, and the tracker learns of it from the action', async () => {
    await redis.client.set('lock:just-taken', 'worker-4', 'PX', 30_000);
    const id = Buffer.from('lock:just-taken').toString('base64');
    expect(app.tracker.get(id)).toBeUndefined();
    const wrong = data(await release({ key: 'lock:just-taken', expectedOwner: 'worker-5', reason: 'wrong owner' }));
    expect(wrong.result === 'owner-changed' && wrong.currentOwner?.text).toBe('worker-4');
    expect(await redis.client.get('lock:just-taken')).toBe('worker-4');
    const out = data(await release({ key: 'lock:just-taken', expectedOwner: 'worker-4', reason: 'runbook step 3' }));
    expect(out).toMatchObject({ result: 'released', library: 'generic' });
    expect(await redis.client.exists('lock:just-taken')).toBe(0);
    expect(app.tracker.history(id)!.events.map((e) => e.kind)).toEqual(['acquired', 'force-released']);
  });

  it('a TTL is given to a no-TTL lock lockscope has not seen yet', async () => {
    await redis.client.set('lock:fresh-stuck', 'crashed');
    const out = data(await api<SetTtlResponse>(app.url, '/api/locks/ttl', { json: { key: 'lock:fresh-stuck', expectedOwner: 'crashed', ttlMs: 5000, reason: 'let it go' }, token: TOKEN }));
    expect(out).toMatchObject({ result: 'ttl-set', library: 'generic' });
    expect(await redis.client.pttl('lock:fresh-stuck')).toBeGreaterThan(0);
  });

  it('still refuses keys matching no lock pattern, helper keys and keys that do not exist, deleting nothing', async () => {
    await redis.client.set('session:7', 'data');
    await redis.client.rpush('lock-signal:nightly', '1');
    for (const [key, owner, says] of [
      ['session:7', 'data', /matches none of the lock patterns/],
      ['lock-signal:nightly', '1', /helper key of python-redis-lock/],
      ['lock:never', 'x', /no key "lock:never" in Redis/],
    ] as const) {
      const reply = await release({ key, expectedOwner: owner, reason: 'probe' });
      expect(reply.status, key).toBe(404);
      expect(reply.body).toMatchObject({ ok: false, error: { code: 'unknown_key', message: expect.stringMatching(says) } });
    }
    expect(await redis.client.get('session:7')).toBe('data');
    expect(await redis.client.llen('lock-signal:nightly')).toBe(1);
  });
});
