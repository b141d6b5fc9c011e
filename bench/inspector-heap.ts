/**
 * Heap per tracked lock: 10 000 real locks of mixed libraries are probed from Redis and folded into a tracker;
 * the retained size (V8 heap + array buffers, after GC) is divided by the lock count. Then the same again with
 * the inspector running on its own tracker (what the server holds: the tracker plus the inspector's expiry
 * checks, one per lock, each lock's deadline in its own wheel slot). Then every lock gets a full bounded history
 * (64 events, 240 TTL samples) to show what the bound costs.
 * Target (issue 4): ≤ 1 KB per lock plus bounded history.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { DEFAULT_LOCK_PATTERNS } from '../server/src/config/config';
import { LockTracker } from '../server/src/model/lock-tracker';
import { Target } from '../server/src/targets/target';
import { StandaloneTopology } from '../server/src/targets/topology/standalone';
import { probeKeys, type ProbedKey } from '../server/src/targets/node/probe';
import { connectRedis } from '../server/src/redis/connect';

const LOCKS = 10_000;

function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function retained(gc: () => void): Promise<number> {
  for (let i = 0; i < 6; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * A realistic mix: what the recogniser sees in the field. Deadlines 37 ms apart (600–970 s away), so each lock's
 * expiry check sits in a wheel slot of its own, as with locks taken at different times.
 */
async function seed(redis: Redis): Promise<Buffer[]> {
  const keys: Buffer[] = [];
  const p = redis.pipeline();
  const worker = randomUUID();
  for (let i = 0; i < LOCKS; i++) {
    const kind = i % 5;
    const ttl = 600_000 + i * 37;
    let key: string;
    if (kind === 0) {
      key = `bull:emails:${i}:lock`;
      p.set(key, `${worker}:${i}`, 'PX', ttl);
    } else if (kind === 1) {
      key = `lock:orders:${i}`;
      p.set(key, randomBytes(16).toString('hex'), 'PX', ttl);
    } else if (kind === 2) {
      key = `invoice-lock:{tenant-${i % 97}}:${i}`;
      p.hset(key, `${randomUUID()}:${60 + (i % 40)}`, 1);
      p.pexpire(key, ttl);
    } else if (kind === 3) {
      key = `job-lock:default:task-${i}`;
      p.set(key, `ADDED:${new Date().toISOString()}@host-${i % 13}:${randomUUID()}`, 'PX', ttl);
    } else {
      key = `lock:py-${i}`;
      p.set(key, randomBytes(16), 'PX', ttl);
    }
    keys.push(Buffer.from(key));
  }
  await p.exec();
  return keys;
}

export default async function run({ redisUrl, log }: { redisUrl: string; log: (line: string) => void }): Promise<void> {
  const gc = gcFunction();
  const redis = new Redis(redisUrl);
  try {
    const keys = await seed(redis);
    // A warm-up tracker first: code compiled on first use (the recognisers, the probe decoder) is not per-lock heap.
    const warm = new LockTracker({ heldTooLongMs: 3_600_000 });
    for (const probed of await probeKeys(redis, keys.slice(0, 1000))) warm.apply(probed);
    warm.clear();
    const tracker = new LockTracker({ heldTooLongMs: 3_600_000 });
    const before = await retained(gc);
    for (let i = 0; i < keys.length; i += 1000) {
      for (const probed of await probeKeys(redis, keys.slice(i, i + 1000))) tracker.apply(probed);
    }
    const after = await retained(gc);
    if (tracker.size !== LOCKS) throw new Error(`tracked ${tracker.size} locks, expected ${LOCKS}`);
    const perLock = (after - before) / LOCKS;
    log(`heap per tracked lock, tracker alone: ${perLock.toFixed(0)} B — ${LOCKS} locks, first event and sample included`);

    // The server's whole per-lock cost: a tracker fed by a running inspector (discovery scan, expiry checks).
    const both = await inspectorHeap(redisUrl, gc);
    log(
      `heap per tracked lock, tracker + inspector: ${both.total.toFixed(0)} B (target ≤ 1024 B; ratio ${(both.total / 1024).toFixed(2)} of the budget), ` +
        `of which the inspector's own ${both.inspector.toFixed(0)} B (${both.checks.toLocaleString('en')} expiry checks pending)`,
    );

    // Fill every lock's history to its bound: renewals every 500 ms (sawtooth pairs) for a while.
    const probes = await probeKeys(redis, keys);
    let t = Date.now();
    for (let round = 0; round < 130; round++) {
      t += 500;
      for (const p of probes) {
        if (!p.result.exists) continue;
        const again: ProbedKey = { key: p.key, observedAt: t, result: { ...p.result, pttlMs: p.result.pttlMs > 0 ? 600_000 : p.result.pttlMs } };
        tracker.apply(again);
      }
    }
    const full = await retained(gc);
    const sample = tracker.history(tracker.views()[0]!.id)!;
    const perLockFull = (full - before) / LOCKS;
    log(
      `heap per tracked lock with full history (${sample.events.length} events, ${sample.ttl.length} TTL samples): ${perLockFull.toFixed(0)} B ` +
        `(history bound ≈ ${(perLockFull - perLock).toFixed(0)} B)`,
    );
    void probes.length;
  } finally {
    await redis.flushall();
    redis.disconnect();
  }
}

/**
 * Retained bytes per lock of a tracker plus an inspector that discovered the seeded locks and follows them, and
 * the inspector's own part of that (what is freed when it goes: its expiry checks).
 */
async function inspectorHeap(redisUrl: string, gc: () => void): Promise<{ total: number; inspector: number; checks: number }> {
  const redis = connectRedis(redisUrl, 'bench-heap');
  const subscriber = connectRedis(redisUrl, 'bench-heap-sub');
  await Promise.all([redis.connect(), subscriber.connect()]);
  const patterns = [...DEFAULT_LOCK_PATTERNS];
  const options = { patterns, scanCount: 1000, pollMs: 1000, heldTooLongMs: 3_600_000 };
  const target = () =>
    new Target(
      { id: 'bench', name: null, url: 'bench', topology: StandaloneTopology.fromConnections({ redis, subscriber }), configureNotifications: false },
      options,
      { logger: pino({ level: 'silent' }) },
    );
  /** Lets a target's watching go (its node watcher, expiry wheel): stopped, and nothing still refers to it. */
  const release = async (t: Target) => {
    await t.stop();
    await subscriber.punsubscribe();
    t.tracker.removeAllListeners();
  };
  try {
    // A warm-up run: connections, the script and the code paths reach their steady size.
    const warm = target();
    await warm.start();
    await release(warm);

    const before = await retained(gc);
    let running: Target | null = target();
    const tracker = running.tracker;
    await running.start();
    // Stopped (timers cleared, state kept) so that nothing allocates while the heap is measured.
    await running.stop();
    const after = await retained(gc);
    if (tracker.size !== LOCKS) throw new Error(`inspector tracked ${tracker.size} locks, expected ${LOCKS}`);
    const checks = running.pendingExpiryChecks();
    await release(running);
    running = null;
    const trackerOnly = await retained(gc);
    return { total: (after - before) / LOCKS, inspector: (after - trackerOnly) / LOCKS, checks };
  } finally {
    redis.disconnect();
    subscriber.disconnect();
  }
}
