import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLockClient,
  LockLostError,
  LockNotAcquiredError,
  newToken,
  NotOwnerError,
  RedisUnavailableError,
  type Lock,
} from '../src/locklib';
import { startTestRedis, type TestRedis } from './support/redis';
import { expectedDeletes, serverVersion } from './support/server-version';

const TOKEN = /^ls1:[0-9a-f]{32}$/;

describe('lock library (real Redis)', () => {
  let redis: TestRedis;
  const connections: Redis[] = [];
  let keyN = 0;
  const freshKey = () => `lock:lib:${++keyN}`;

  /** A connection of its own, as a separate process would have. */
  const connect = (url = redis.url, options: RedisOptions = {}) => {
    const c = new Redis(url, { maxRetriesPerRequest: 1, ...options });
    c.on('error', () => {});
    connections.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    for (const c of connections) c.disconnect();
    await redis?.stop();
  });

  it('K workers × M iterations of a non-atomic read-modify-write end with an exact counter and no overlapping holders', async () => {
    const K = 10;
    const M = 30;
    const key = freshKey();
    const counter = `counter:${key}`;
    const intervals: [number, number][] = [];
    await Promise.all(
      Array.from({ length: K }, async () => {
        const own = connect();
        const locks = createLockClient(own);
        for (let i = 0; i < M; i++) {
          await locks.withLock(key, { ttlMs: 2000, waitMs: 20_000, retryDelayMs: 3 }, async () => {
            const start = performance.now();
            const value = Number((await own.get(counter)) ?? 0);
            await sleep(Math.random() * 2);
            await own.set(counter, value + 1);
            intervals.push([start, performance.now()]);
          });
        }
      }),
    );
    expect(Number(await redis.client.get(counter))).toBe(K * M);
    intervals.sort((a, b) => a[0] - b[0]);
    const overlaps = intervals.filter((iv, i) => i > 0 && iv[0] < intervals[i - 1]![1]);
    expect(overlaps).toEqual([]);
    expect(await redis.client.exists(key)).toBe(0);
  });

  it('takes a lock with an ls1 token and SET NX PX semantics, refusing a second owner', async () => {
    const key = freshKey();
    const a = createLockClient(connect());
    const b = createLockClient(connect());
    const lock = await a.acquire(key, { ttlMs: 5000 });
    expect(lock.token).toMatch(TOKEN);
    expect(await redis.client.get(key)).toBe(lock.token);
    const pttl = await redis.client.pttl(key);
    expect(pttl).toBeGreaterThan(4800);
    expect(pttl).toBeLessThanOrEqual(5000);
    expect(lock.isValid()).toBe(true);
    await expect(b.acquire(key, { ttlMs: 5000 })).rejects.toBeInstanceOf(LockNotAcquiredError);
    await lock.release();
    expect(await redis.client.exists(key)).toBe(0);
  });

  it('lets an un-renewed lock be re-acquired after its TTL and refuses the stale owner’s release and extend', async () => {
    const key = freshKey();
    const a = createLockClient(connect());
    const b = createLockClient(connect());
    const stale = await a.acquire(key, { ttlMs: 200 });
    await sleep(260);
    expect(stale.isValid()).toBe(false);
    const fresh = await b.acquire(key, { ttlMs: 5000 });

    await expect(stale.release()).rejects.toBeInstanceOf(NotOwnerError);
    await expect(stale.extend(10_000)).rejects.toMatchObject({ code: 'not_owner', operation: 'extend' });
    expect(await redis.client.get(key)).toBe(fresh.token);
    expect(await redis.client.pttl(key)).toBeLessThanOrEqual(5000);
    await fresh.release();
  });

  it('refuses release and extend with a wrong token and leaves the owner’s lock and TTL untouched', async () => {
    const key = freshKey();
    const owner = await createLockClient(connect()).acquire(key, { ttlMs: 3000 });
    const other = createLockClient(connect());
    const forged = other.handle(key, newToken());
    await expect(forged.release()).rejects.toBeInstanceOf(NotOwnerError);
    await expect(forged.extend(60_000)).rejects.toBeInstanceOf(NotOwnerError);
    // Even the right token's *shape* is no key: only the exact bytes count.
    await expect(other.handle(key, owner.token.toUpperCase()).release()).rejects.toBeInstanceOf(NotOwnerError);
    expect(await redis.client.get(key)).toBe(owner.token);
    expect(await redis.client.pttl(key)).toBeLessThanOrEqual(3000);
    // A handle with the real token (e.g. passed to another process) does work.
    await other.handle(key, owner.token).release();
    expect(await redis.client.exists(key)).toBe(0);
  });

  it('extend() resets the TTL of our own lock', async () => {
    const key = freshKey();
    const lock = await createLockClient(connect()).acquire(key, { ttlMs: 300 });
    await sleep(150);
    const before = lock.validUntil;
    await lock.extend(2000);
    expect(await redis.client.pttl(key)).toBeGreaterThan(1900);
    expect(lock.validUntil).toBeGreaterThan(before + 1500);
    await lock.release();
  });

  it('gives up with LockNotAcquiredError once waitMs has passed, after polling', async () => {
    const key = freshKey();
    const holder = await createLockClient(connect()).acquire(key, { ttlMs: 5000 });
    const started = Date.now();
    const err = await createLockClient(connect())
      .acquire(key, { ttlMs: 1000, waitMs: 300, retryDelayMs: 40 })
      .catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(err).toBeInstanceOf(LockNotAcquiredError);
    expect((err as LockNotAcquiredError).attempts).toBeGreaterThan(3);
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(700);
    await holder.release();
  });

  it('waits for a held lock and gets it as soon as the holder releases', async () => {
    const key = freshKey();
    const holder = await createLockClient(connect()).acquire(key, { ttlMs: 5000 });
    const waiting = createLockClient(connect()).acquire(key, { ttlMs: 1000, waitMs: 3000, retryDelayMs: 20 });
    await sleep(200);
    await holder.release();
    const lock = await waiting;
    expect(await redis.client.get(key)).toBe(lock.token);
    await lock.release();
  });

  it('stops waiting when the caller aborts', async () => {
    const key = freshKey();
    const holder = await createLockClient(connect()).acquire(key, { ttlMs: 5000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('shutting down')), 100);
    const started = Date.now();
    await expect(
      createLockClient(connect()).acquire(key, { waitMs: 5000, retryDelayMs: 30, signal: controller.signal }),
    ).rejects.toThrow('shutting down');
    expect(Date.now() - started).toBeLessThan(400);
    await holder.release();
  });

  it('hands out fencing tokens that strictly increase per resource, drawn atomically with the lock', async () => {
    const key = freshKey();
    const otherKey = freshKey();
    const clients = [connect(), connect(), connect()].map((c) => createLockClient(c, { fencing: true }));
    const fences: number[] = [];
    for (let i = 0; i < 12; i++) {
      const lock = await clients[i % 3]!.acquire(key, { ttlMs: 2000 });
      fences.push(lock.fence!);
      // A failed attempt while held draws no token.
      await expect(clients[(i + 1) % 3]!.acquire(key, { ttlMs: 2000 })).rejects.toBeInstanceOf(LockNotAcquiredError);
      await lock.release();
    }
    expect(fences).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // Each resource counts on its own, in the companion key `fence:{<key>}` (no TTL by default).
    const other = await clients[0]!.acquire(otherKey, { ttlMs: 2000 });
    expect(other.fence).toBe(1);
    expect(clients[0]!.fenceKey(key)).toBe(`fence:{${key}}`);
    expect(await redis.client.get(`fence:{${key}}`)).toBe('12');
    expect(await redis.client.pttl(`fence:{${key}}`)).toBe(-1);
    // Without fencing there is no token and no counter.
    const plain = await createLockClient(connect()).acquire(freshKey(), { ttlMs: 2000 });
    expect(plain.fence).toBeNull();
    await other.release();
    await plain.release();
  });

  it('detects which owner-checked delete this server has (DELEX on Redis 8.4+, DELIFEQ on Valkey 9.0, else Lua)', async () => {
    const locks = createLockClient(connect());
    const version = await serverVersion(redis.client);
    expect((await locks.capabilities()).release, `server ${version.product} ${version.text}`).toBe(expectedDeletes(version).locklib);
  });

  it('withLock: the watchdog keeps a task longer than the TTL alive, and sends nothing after release', async () => {
    const key = freshKey();
    const monitorConn = connect();
    const monitor = await monitorConn.monitor();
    const seen: { at: number; command: string }[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.includes(key)) seen.push({ at: Date.now(), command: args[0]!.toLowerCase() });
    });
    const locks = createLockClient(connect());
    let releasedAt = 0;
    let lockToken = '';
    const result = await locks.withLock(key, { ttlMs: 300 }, async (signal, lock) => {
      lockToken = lock.token;
      for (let i = 0; i < 10; i++) {
        await sleep(100); // 1 s in all: more than three TTLs
        expect(await redis.client.get(key)).toBe(lock.token);
        expect(signal.aborted).toBe(false);
      }
      releasedAt = Date.now();
      return 'done';
    });
    expect(result).toBe('done');
    expect(lockToken).toMatch(TOKEN);
    expect(await redis.client.exists(key)).toBe(0);
    await sleep(400); // more than a renewal period after release
    monitor.disconnect();
    const renewals = seen.filter((s) => s.command === 'evalsha' || s.command === 'eval');
    // Extends every ttl/3 = 100 ms over 1 s (the release is one more script call).
    expect(renewals.length).toBeGreaterThanOrEqual(7);
    const after = seen.filter((s) => s.at > releasedAt + 50);
    expect(after).toEqual([]);
  });

  it('withLock: aborts fn’s signal as soon as a renewal finds another owner, and rejects with LockLostError', async () => {
    const key = freshKey();
    const locks = createLockClient(connect());
    let abortedAfterMs = -1;
    const err = await locks
      .withLock(key, { ttlMs: 600 }, async (signal) => {
        const stolenAt = Date.now();
        await redis.client.set(key, 'intruder', 'PX', 10_000); // e.g. an admin force-release and a new owner
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        abortedAfterMs = Date.now() - stolenAt;
        expect(signal.reason).toBeInstanceOf(LockLostError);
        return 'unreliable';
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockLostError);
    expect((err as LockLostError).reason).toBe('taken');
    expect(abortedAfterMs).toBeGreaterThanOrEqual(0);
    expect(abortedAfterMs).toBeLessThan(600 / 3 + 100); // the next watchdog tick
    // The intruder's lock was not touched by the release.
    expect(await redis.client.get(key)).toBe('intruder');
  });

  it('withLock: releases when fn throws and passes fn’s error through', async () => {
    const key = freshKey();
    const locks = createLockClient(connect());
    await expect(
      locks.withLock(key, { ttlMs: 5000 }, () => {
        throw new Error('task failed');
      }),
    ).rejects.toThrow('task failed');
    expect(await redis.client.exists(key)).toBe(0);
  });

  describe('Redis unreachable', () => {
    it('acquire fails with RedisUnavailableError within the command timeout, never hanging', async () => {
      const doomed = await startTestRedis();
      // Default ioredis options: commands queue while it reconnects, which is exactly what could hang.
      const conn = new Redis(doomed.url, { lazyConnect: false });
      conn.on('error', () => {});
      connections.push(conn);
      await conn.ping();
      await doomed.stop();
      const locks = createLockClient(conn, { commandTimeoutMs: 300 });
      const started = Date.now();
      const err = await locks.acquire('lock:down', { ttlMs: 1000, waitMs: 5000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect(Date.now() - started).toBeLessThan(800);

      // A connection that refuses to queue fails at once.
      const noQueue = connect(doomed.url, { enableOfflineQueue: false, retryStrategy: () => null, lazyConnect: true });
      const t0 = Date.now();
      await expect(createLockClient(noQueue).acquire('lock:down')).rejects.toBeInstanceOf(RedisUnavailableError);
      expect(Date.now() - t0).toBeLessThan(300);
    });

    it('withLock: when Redis goes away mid-task the signal aborts before the TTL runs out', async () => {
      const doomed = await startTestRedis();
      const conn = connect(doomed.url);
      await conn.ping();
      const locks = createLockClient(conn, { commandTimeoutMs: 200 });
      const ttlMs = 800;
      let lock: Lock | null = null;
      let abortedAt = 0;
      const started = Date.now();
      const err = await locks
        .withLock('lock:down-mid-task', { ttlMs }, async (signal, l) => {
          lock = l;
          await doomed.stop();
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          abortedAt = Date.now();
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockLostError);
      expect((err as LockLostError).reason).toBe('expired');
      // Aborted at the validity deadline, which is before Redis would have dropped the key.
      expect(abortedAt).toBeGreaterThanOrEqual(lock!.acquiredAt + ttlMs - 50);
      expect(abortedAt).toBeLessThanOrEqual(lock!.acquiredAt + ttlMs);
      expect(Date.now() - started).toBeLessThan(ttlMs + 600);
    });
  });

  it('hands waiters the lock in turn under contention without starving anyone', async () => {
    const key = freshKey();
    const wins = new Map<number, number>();
    const deadline = Date.now() + 800;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        const locks = createLockClient(connect());
        while (Date.now() < deadline) {
          try {
            await locks.withLock(key, { ttlMs: 1000, waitMs: 1000, retryDelayMs: 5, jitter: 0.5 }, () => sleep(2));
            wins.set(w, (wins.get(w) ?? 0) + 1);
          } catch (err) {
            if (!(err instanceof LockNotAcquiredError)) throw err;
          }
        }
      }),
    );
    expect([...wins.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
