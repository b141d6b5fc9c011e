import { execFile } from 'node:child_process';
import { Redlock as SesameRedlock } from '@sesamecare-oss/redlock';
import { createClient as createRedis4 } from 'redis4';
import redisLock from 'redis-lock';
import { MultiSemaphore, Mutex, Semaphore } from 'redis-semaphore';
import { describe, expect, it, onTestFinished } from 'vitest';
import { liveApp, type LiveClient } from './support/app';

/**
 * Lock libraries installed from their registries (npm; redis-py from Debian's python3-redis), taking, renewing
 * and releasing real locks, watched by the real app on its default patterns (no LOCK_PATTERNS): each must be
 * found, named, decoded and followed as the library behaves.
 */
describe('real clients: redis-semaphore, redis-lock, @sesamecare-oss/redlock, redis-py', () => {
  const suite = liveApp();

  const conn = () => suite.redis.connection();
  const live: LiveClient['until'] = (...args) => suite.client.until(...args);

  it('redis-semaphore Mutex: found under mutex:* by default, its identifier the owner, refreshed every lockTimeout × 0.8', async () => {
    const mutex = new Mutex(conn(), 'report-42', { lockTimeout: 1000 });
    await mutex.acquire();
    // The cadence follows the lease, the largest TTL seen (a first probe on a busy machine may come a little late).
    const held = await live('mutex:report-42', (v) => v.expectedRenewalMs === 800, 'the cadence of a 1 s lease');
    expect(held).toMatchObject({ library: 'redis-semaphore', type: 'string' });
    expect(held.owner?.text).toBe(mutex.identifier);
    expect(held.owner?.fields).toMatchObject({ kind: 'Mutex', key: 'report-42' });
    const renewed = await live('mutex:report-42', (v) => v.renewals >= 2, 'two refreshes', 4000);
    expect(renewed.state).toBe('held');
    await mutex.release();
    await live('mutex:report-42', (v) => v.state === 'released', 'release');
  });

  it('redis-semaphore Semaphore: one row, every holder with its own expiry and refreshes; a holder that stops refreshing expires out of it', async () => {
    const sems = [0, 1, 2].map(() => new Semaphore(conn(), 'pool', 3, { lockTimeout: 1200, onLockLost: () => {} }));
    const late = new Semaphore(conn(), 'pool', 3, { lockTimeout: 1200, onLockLost: () => {} });
    onTestFinished(() => Promise.all([...sems, late].map((x) => x.release().catch(() => {}))).then(() => {}));
    for (const s of sems) await s.acquire();
    const held = await live('semaphore:pool', (v) => v.holders?.list.length === 3 && v.holders.expectedRenewalMs === 960, 'three holders');
    expect(held).toMatchObject({ library: 'redis-semaphore', type: 'zset', state: 'held' });
    expect(held.holders).toMatchObject({ count: 3, permits: { held: 3, limit: null }, releaseAll: true });
    expect(held.holders!.list.map((h) => h.token.text).sort()).toEqual(sems.map((s) => s.identifier).sort());
    for (const h of held.holders!.list) {
      expect(h.state).toBe('held');
      expect(h.deadline).toBeGreaterThan(Date.now());
    }
    // Every holder refreshes itself: each one's own expiry moves out.
    await live('semaphore:pool', (v) => v.holders!.list.every((h) => h.renewals >= 1), 'each holder refreshed', 4000);

    // One holder's process hangs: its refresh timer stops, the others go on. The library drops it at the others'
    // next refresh once it is older than lockTimeout: it left at its own expiry, and the lock stays healthy.
    sems[0]!.stopRefresh();
    await live('semaphore:pool', (v) => v.holders!.list.length === 2, 'the hung holder dropped', 5000);
    const history = await suite.client.socket.emitWithAck('lock:history', held.id);
    const holderEvents = history.ok ? history.data.events.filter((e) => e.kind.startsWith('holder-')) : [];
    expect(holderEvents.filter((e) => e.kind !== 'holder-joined').map((e) => [e.kind, e.holder])).toEqual([['holder-expired', sems[0]!.identifier]]);
    expect(suite.client.byKey('semaphore:pool')!.state).toBe('held');

    // A new holder joins in its place.
    await late.acquire();
    await live('semaphore:pool', (v) => v.holders!.list.some((h) => h.token.text === late.identifier), 'the new holder');
    for (const s of [...sems.slice(1), late]) await s.release();
    await live('semaphore:pool', (v) => v.state === 'released', 'the last holder gone');
  });

  it('redis-semaphore MultiSemaphore: one holder taking several permits is one holder', async () => {
    const multi = new MultiSemaphore(conn(), 'gpu', 5, 2, { lockTimeout: 2000 });
    const single = new MultiSemaphore(conn(), 'gpu', 5, 1, { lockTimeout: 2000 });
    await multi.acquire();
    await single.acquire();
    const held = await live('semaphore:gpu', (v) => v.holders?.list.length === 2, 'two holders');
    expect(held.owner?.fields.kind).toBe('MultiSemaphore');
    expect(held.holders?.permits.held).toBe(3);
    const two = held.holders!.list.find((h) => h.token.text === multi.identifier)!;
    expect(two.permits).toBe(2);
    await multi.release();
    await live('semaphore:gpu', (v) => v.holders?.list.length === 1, 'one holder left');
    await single.release();
  });

  it('@sesamecare-oss/redlock: using() auto-extends (renewals at its cadence), released at the end', async () => {
    const c = conn();
    const redlock = new SesameRedlock([c], { retryCount: 0 });
    let value = '';
    await redlock.using(['sesame-lock:invoice'], 1000, async () => {
      value = (await c.get('sesame-lock:invoice')) ?? '';
      await new Promise((r) => setTimeout(r, 2500));
    });
    const released = await live('sesame-lock:invoice', (v) => v.state === 'released', 'release');
    // The same token and scripts as node-redlock v5 (its scripts SELECT settings.db, 0 by default: this DB).
    expect(released.library).toBe('redlock');
    expect(value).toMatch(/^[0-9a-f]{32}$/);
    expect(released.owner?.text).toBe(value);
    expect(released.renewals).toBeGreaterThanOrEqual(3);
    expect(released.expectedRenewalMs).toBe(488);
  });

  it('redis-lock (node-redis v4): lock.<name> holding its deadline; released by its done()', async () => {
    const c = createRedis4({ url: suite.redis.url });
    await c.connect();
    try {
      const lock = redisLock(c);
      const before = Date.now();
      const done = await lock('exports', 3000);
      const held = await live('lock.exports');
      expect(held.library).toBe('redis-lock');
      const deadline = Date.parse(held.owner!.fields.deadline!);
      expect(deadline).toBeGreaterThanOrEqual(before + 3000);
      expect(Math.abs(deadline - held.deadline!)).toBeLessThan(1000);
      expect(held.owner?.fields.release).toMatch(/not owner-checked/);
      await done();
      await live('lock.exports', (v) => v.state === 'released', 'release');
    } finally {
      await c.quit();
    }
  });

  it('redis-py Lock (Debian python3-redis): uuid1 token, extend() counted as a renewal, release', async () => {
    const script = `
import sys, time, redis
r = redis.Redis(port=int(sys.argv[1]))
lock = r.lock('py-lock:nightly', timeout=3)
assert lock.acquire(blocking=False)
print(lock.local.token.decode(), flush=True)
time.sleep(0.8)
lock.extend(3)
time.sleep(0.8)
lock.release()
`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile('/usr/bin/python3', ['-c', script, String(suite.redis.port)], { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
    );
    const token = out.trim();
    const released = await live('py-lock:nightly', (v) => v.state === 'released', 'release');
    expect(released).toMatchObject({ library: 'redis-py', renewals: 1 });
    expect(released.owner?.text).toBe(token);
    expect(released.owner?.fields.token).toBe('uuid1');
  });
});
