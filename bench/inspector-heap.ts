/**
 * Heap per tracked lock: 10 000 real locks of mixed libraries are probed from Redis and folded into a tracker;
 * the retained size (V8 heap + array buffers, after GC) is divided by the lock count. Then every lock gets a full
 * bounded history (64 events, 240 TTL samples) to show what the bound costs.
 * Target (issue 4): ≤ 1 KB per lock plus bounded history.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { LockTracker } from '../server/src/inspector/lock-tracker';
import { probeKeys, type ProbedKey } from '../server/src/inspector/probe';

const LOCKS = 10_000;

function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function retained(gc: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** A realistic mix: what the recogniser sees in the field. */
async function seed(redis: Redis): Promise<Buffer[]> {
  const keys: Buffer[] = [];
  const p = redis.pipeline();
  const worker = randomUUID();
  for (let i = 0; i < LOCKS; i++) {
    const kind = i % 5;
    let key: string;
    if (kind === 0) {
      key = `bull:emails:${i}:lock`;
      p.set(key, `${worker}:${i}`, 'PX', 600_000);
    } else if (kind === 1) {
      key = `lock:orders:${i}`;
      p.set(key, randomBytes(16).toString('hex'), 'PX', 600_000);
    } else if (kind === 2) {
      key = `invoice-lock:{tenant-${i % 97}}:${i}`;
      p.hset(key, `${randomUUID()}:${60 + (i % 40)}`, 1);
      p.pexpire(key, 600_000);
    } else if (kind === 3) {
      key = `job-lock:default:task-${i}`;
      p.set(key, `ADDED:${new Date().toISOString()}@host-${i % 13}:${randomUUID()}`, 'PX', 600_000);
    } else {
      key = `lock:py-${i}`;
      p.set(key, randomBytes(16), 'EX', 600);
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
    const tracker = new LockTracker({ heldTooLongMs: 3_600_000 });
    const before = await retained(gc);
    for (let i = 0; i < keys.length; i += 1000) {
      for (const probed of await probeKeys(redis, keys.slice(i, i + 1000))) tracker.apply(probed);
    }
    const after = await retained(gc);
    if (tracker.size !== LOCKS) throw new Error(`tracked ${tracker.size} locks, expected ${LOCKS}`);
    const perLock = (after - before) / LOCKS;
    log(`heap per tracked lock: ${perLock.toFixed(0)} B (target ≤ 1024 B; ratio ${(perLock / 1024).toFixed(2)} of the budget) — ${LOCKS} locks, first event and sample included`);

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
