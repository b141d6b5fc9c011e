/**
 * Lock library throughput: sequential acquire+release round trips per second of `safe` (SET NX PX with a random
 * ls1 token, then an owner-checked release) against a bare `SET NX PX` + `DEL` loop on the same Redis and
 * connection. Short rounds alternate between the loops and each round's ratio is taken against the baseline
 * round right before it, so the load of a busy shared machine hits both alike; the median round counts.
 * Target: ratio ≥ 0.8.
 */
import { Redis } from 'ioredis';
import { createLockClient } from '../server/src/locklib';
import type { BenchContext } from './run';

const ROUND_MS = 400;
const ROUNDS = 15;

async function loop(body: () => Promise<void>, ms: number): Promise<number> {
  const start = performance.now();
  const end = start + ms;
  let n = 0;
  while (performance.now() < end) {
    await body();
    n++;
  }
  return (n * 1000) / (performance.now() - start);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export default async function run({ redisUrl, log }: BenchContext): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const plain = createLockClient(redis);
    const fenced = createLockClient(redis, { fencing: true });
    const mode = (await plain.capabilities()).release;
    const bodies = {
      bare: async () => {
        await redis.set('bench:bare:lock', 'x', 'PX', 10_000, 'NX');
        await redis.del('bench:bare:lock');
      },
      safe: async () => {
        const lock = await plain.acquire('bench:safe:lock', { ttlMs: 10_000 });
        await lock.release();
      },
      fenced: async () => {
        const lock = await fenced.acquire('bench:fenced:lock', { ttlMs: 10_000 });
        await lock.release();
      },
    };
    // Warm-up: script load, JIT.
    for (const body of Object.values(bodies)) await loop(body, 300);
    const rates = { bare: [] as number[], safe: [] as number[], fenced: [] as number[] };
    const ratios = { safe: [] as number[], fenced: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      const bare = await loop(bodies.bare, ROUND_MS);
      const safe = await loop(bodies.safe, ROUND_MS);
      const fencedRate = await loop(bodies.fenced, ROUND_MS);
      rates.bare.push(bare);
      rates.safe.push(safe);
      rates.fenced.push(fencedRate);
      ratios.safe.push(safe / bare);
      ratios.fenced.push(fencedRate / bare);
    }
    const bare = median(rates.bare);
    const ratio = median(ratios.safe);
    log(`baseline SET NX PX + DEL: ${bare.toFixed(0)} round trips/s (acquire+release pairs, one connection, sequential; median of ${ROUNDS} rounds)`);
    log(
      `safe acquire+release: ${median(rates.safe).toFixed(0)} round trips/s (ratio ${ratio.toFixed(2)} vs baseline ${bare.toFixed(0)}; ` +
        `target ≥ 0.80 ${ratio >= 0.8 ? 'met' : 'NOT met'}; release via ${mode})`,
    );
    log(`safe-fenced acquire+release: ${median(rates.fenced).toFixed(0)} round trips/s (ratio ${median(ratios.fenced).toFixed(2)} vs baseline ${bare.toFixed(0)})`);
  } finally {
    redis.disconnect();
  }
}
