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
import { startSlowProxy } from '../src/simulator/slow-proxy';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';
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
      // Aborted at the validity deadline, which is before Redis would have dropped the key (a loaded machine's
      // timers may fire a little late, hence the margin on the second line).
      const validUntil = lock!.validUntil;
      expect(validUntil).toBeLessThan(lock!.acquiredAt + ttlMs);
      expect(validUntil).toBeGreaterThanOrEqual(lock!.acquiredAt + ttlMs - 50);
      expect(abortedAt).toBeGreaterThanOrEqual(validUntil);
      expect(abortedAt - validUntil).toBeLessThan(100);
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

  it('extend() to a shorter TTL shortens the validity too: the lock is not valid once Redis has dropped the key', async () => {
    const key = freshKey();
    const lock = await createLockClient(connect()).acquire(key, { ttlMs: 30_000 });
    await lock.extend(200);
    expect(await redis.client.pttl(key)).toBeLessThanOrEqual(200);
    expect(lock.ttlMs).toBe(200);
    expect(lock.validUntil).toBeLessThanOrEqual(Date.now() + 200);
    await sleep(250);
    expect(await redis.client.exists(key)).toBe(0);
    expect(lock.isValid()).toBe(false);
    // A refused extend leaves the lock invalid at once, whatever its deadline was.
    const other = await createLockClient(connect()).acquire(freshKey(), { ttlMs: 30_000 });
    await redis.client.del(other.key);
    await expect(other.extend()).rejects.toBeInstanceOf(NotOwnerError);
    expect(other.isValid()).toBe(false);
  });

  it('withLock and acquire check every option before taking the lock: a bad one is a RangeError and leaves nothing held', async () => {
    const key = freshKey();
    const locks = createLockClient(connect());
    let ran = false;
    const task = () => {
      ran = true;
    };
    // ttl 300 ms minus the drift allowance (1 % + 2 ms) is 295 ms: a renewal cadence must be shorter than that.
    for (const renewEveryMs of [0, -5, Number.NaN, 295, 300, 1000]) {
      await expect(locks.withLock(key, { ttlMs: 300, renewEveryMs }, task), `renewEveryMs ${renewEveryMs}`).rejects.toBeInstanceOf(RangeError);
      expect(await redis.client.exists(key), `renewEveryMs ${renewEveryMs}`).toBe(0);
    }
    for (const bad of [{ jitter: 2 }, { jitter: -0.1 }, { ttlMs: 1.5 }, { ttlMs: 0 }, { waitMs: -1 }, { retryDelayMs: 0 }]) {
      await expect(locks.acquire(key, bad), JSON.stringify(bad)).rejects.toBeInstanceOf(RangeError);
      await expect(locks.withLock(key, bad, task), JSON.stringify(bad)).rejects.toBeInstanceOf(RangeError);
      expect(await redis.client.exists(key)).toBe(0);
    }
    expect(ran).toBe(false);
    // The longest cadence that still renews before the lock lapses is fine.
    expect(await locks.withLock(key, { ttlMs: 300, renewEveryMs: 294 }, () => 'ok')).toBe('ok');
    expect(await redis.client.exists(key)).toBe(0);
  });

  it('reports every refused release and extend to onNotOwner, also the ones withLock handles itself', async () => {
    const key = freshKey();
    const refused: string[] = [];
    const locks = createLockClient(connect(), { onNotOwner: (e) => refused.push(e.operation) });
    await expect(locks.handle(key, newToken()).release()).rejects.toBeInstanceOf(NotOwnerError);
    await expect(locks.handle(key, newToken()).extend(1000)).rejects.toBeInstanceOf(NotOwnerError);
    expect(refused).toEqual(['release', 'extend']);
    refused.length = 0;
    // Taken over while held: the watchdog's renewal is refused, and so is the final release.
    const err = await locks
      .withLock(key, { ttlMs: 300 }, async (signal) => {
        await redis.client.set(key, 'intruder', 'PX', 10_000);
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockLostError);
    expect(refused).toEqual(['extend', 'release']);
    expect(await redis.client.get(key)).toBe('intruder');
  });

  it('release and extend of a key holding another kind of data fail with a typed NotOwnerError and change nothing', async () => {
    const key = freshKey();
    await redis.client.hset(key, 'owner', 'someone');
    const locks = createLockClient(connect());
    for (const client of [locks, createLockClient(connect(), { releaseMode: 'lua' })]) {
      const handle = client.handle(key, newToken());
      const released = await handle.release().catch((e: unknown) => e);
      expect(released).toBeInstanceOf(NotOwnerError);
      expect(released).toMatchObject({ operation: 'release', wrongType: true, message: expect.stringContaining('another kind of data') });
      const extended = await handle.extend(1000).catch((e: unknown) => e);
      expect(extended).toBeInstanceOf(NotOwnerError);
      expect(extended).toMatchObject({ operation: 'extend', wrongType: true });
    }
    expect(await redis.client.hget(key, 'owner')).toBe('someone');
    expect(await redis.client.pttl(key)).toBe(-1);
    // A WRONGTYPE answer says something about the key, not about the command: the release mode stays what it was.
    const mode = (await locks.capabilities()).release;
    await expect(locks.handle(key, newToken()).release()).rejects.toBeInstanceOf(NotOwnerError);
    expect((await locks.capabilities()).release).toBe(mode);
    await redis.client.del(key);
  });

  it('falls back to the Lua script when the server refuses the command it was told to use (unknown command)', async () => {
    const version = await serverVersion(redis.client);
    const missing = expectedDeletes(version).locklib === 'delex' ? 'delifeq' : 'delex';
    // Told to use a command this server does not have (DELEX on Redis < 8.4, DELIFEQ on Redis): still releases.
    const locks = createLockClient(connect(), { releaseMode: expectedDeletes(version).locklib === 'lua' ? 'delex' : missing });
    const key = freshKey();
    const lock = await locks.acquire(key, { ttlMs: 5000 });
    await lock.release();
    expect(await redis.client.exists(key)).toBe(0);
    const stolen = await locks.acquire(key, { ttlMs: 5000 });
    await redis.client.set(key, 'intruder');
    await expect(stolen.release()).rejects.toBeInstanceOf(NotOwnerError);
    expect(await redis.client.get(key)).toBe('intruder');
    await redis.client.del(key);
  });

  it('does not settle on a release mode when the detection got no answer, and detects again after a reconnect', async () => {
    const server = await startTestRedis();
    const port = server.port;
    let restarted: TestRedis | null = null;
    const conn = connect(server.url, { enableOfflineQueue: false, retryStrategy: () => 50 });
    const detections = async (r: TestRedis) => {
      const stats = await r.client.info('commandstats');
      return Number(/cmdstat_command\|info:calls=(\d+)/.exec(stats)?.[1] ?? 0);
    };
    try {
      await waitFor(() => conn.status === 'ready', 'the connection');
      const locks = createLockClient(conn, { commandTimeoutMs: 500 });
      await server.stop();
      await waitFor(() => conn.status !== 'ready', 'the connection to notice Redis is gone');
      // No answer: Lua for this time (it works everywhere), but not for good.
      expect((await locks.capabilities()).release).toBe('lua');

      restarted = await startTestRedis({ port });
      await waitFor(async () => conn.status === 'ready' && (await conn.ping()) === 'PONG', 'the connection to come back');
      const expected = expectedDeletes(await serverVersion(restarted.client)).locklib;
      expect((await locks.capabilities()).release).toBe(expected);
      expect(await detections(restarted)).toBe(1);
      // Known now: no more asking on this connection…
      const lock = await locks.acquire(freshKey(), { ttlMs: 5000 });
      await lock.release();
      expect(await detections(restarted)).toBe(1);
      // …until it reconnects (perhaps to another server after a failover).
      await restarted.client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await waitFor(async () => conn.status === 'ready' && (await conn.ping().catch(() => null)) === 'PONG', 'the connection to reconnect');
      expect((await locks.capabilities()).release).toBe(expected);
      expect(await detections(restarted)).toBe(2);
    } finally {
      await restarted?.stop();
      await server.stop();
    }
  });

  it('gives back a lock whose SET ran but whose reply was lost to a dropped connection', async () => {
    // Every chunk through this proxy is held back 150 ms each way, so the SET reaches Redis well before its reply
    // reaches the client: dropping the connection in between loses the reply of a SET that took.
    const proxy = await startSlowProxy(redis.url, { prob: 1, delayMs: 150 });
    try {
      const conn = connect(proxy.url, { retryStrategy: () => 20 });
      await conn.ping();
      const locks = createLockClient(conn, { commandTimeoutMs: 5000 });
      const key = freshKey();
      const attempt = locks.acquire(key, { ttlMs: 30_000 }).then(
        () => 'acquired',
        (e: unknown) => e,
      );
      await waitFor(async () => (await redis.client.exists(key)) === 1, 'the SET to reach Redis', 2000);
      proxy.drop();
      const outcome = await attempt;
      // ioredis re-sends the unanswered SET after reconnecting, and NX finds our own key: "held by another owner"…
      expect(outcome, String(outcome)).toBeInstanceOf(LockNotAcquiredError);
      // …so the lock the first SET took is given back, not left to block everyone (us included) for its 30 s TTL.
      await waitFor(async () => (await redis.client.exists(key)) === 0, 'the orphaned lock to be given back', 3000);
    } finally {
      await proxy.close();
    }
  });
});
