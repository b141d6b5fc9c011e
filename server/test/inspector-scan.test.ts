import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanKeys } from '../src/targets/node/scan';
import { startTestRedis, type TestRedis } from './support/redis';

async function collect(redis: TestRedis, pattern: string, ways: number, during?: () => Promise<void>): Promise<Set<string>> {
  const seen = new Set<string>();
  let calls = 0;
  for await (const keys of scanKeys(redis.client, pattern, 100, ways)) {
    for (const k of keys) seen.add(k.toString());
    if (during && ++calls % 5 === 0) await during();
  }
  return seen;
}

describe('scanKeys: parallel cursors over disjoint shares of the keyspace (real Redis)', () => {
  let redis: TestRedis;

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('finds exactly what a single cursor finds, for 1, 2, 4 and 8 cursors', async () => {
    const p = redis.client.pipeline();
    for (let i = 0; i < 20_000; i++) p.set(i % 10 ? `other:${i}` : `lock:${i}`, 'v');
    await p.exec();
    const one = await collect(redis, 'lock:*', 1);
    expect(one.size).toBe(2000);
    for (const ways of [2, 4, 8]) expect(await collect(redis, 'lock:*', ways), `${ways} cursors`).toEqual(one);
    await redis.client.flushall();
  });

  it('misses nothing that exists throughout, while the table grows (rehashing) under the scan', async () => {
    const p = redis.client.pipeline();
    for (let i = 0; i < 5000; i++) p.set(`lock:stable:${i}`, 'v');
    await p.exec();
    let added = 0;
    const grow = async () => {
      const q = redis.client.pipeline();
      for (let i = 0; i < 2000; i++) q.set(`lock:new:${added++}`, 'v');
      await q.exec();
    };
    const seen = await collect(redis, 'lock:*', 4, grow);
    expect(added).toBeGreaterThan(10_000);
    for (let i = 0; i < 5000; i++) expect(seen.has(`lock:stable:${i}`)).toBe(true);
    await redis.client.flushall();
  });

  it('works on a tiny keyspace (fewer buckets than cursors) and an empty one', async () => {
    expect((await collect(redis, '*', 8)).size).toBe(0);
    await redis.client.mset('a', '1', 'b', '2', 'c', '3');
    expect([...(await collect(redis, '*', 8))].sort()).toEqual(['a', 'b', 'c']);
  });
});
