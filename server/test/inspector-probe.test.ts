import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockTracker } from '../src/model/lock-tracker';
import { clockOffset, CUT_NAME, CUT_VALUE, MAX_HASH_FIELDS, MAX_VALUE_BYTES, probeKeys, type ProbedKey } from '../src/targets/node/probe';
import { startTestRedis, type TestRedis } from './support/redis';

/**
 * The probe script against a real Redis: what it reads is bounded whatever a key holds, and the clock it reports
 * lets deadlines be judged on Redis's own time — on this server (PEXPIRETIME) and as an older one is read (PTTL).
 */

/** Bytes the probe brought back for one key (names and values of hash fields, or the string prefix). */
function replyBytes(p: ProbedKey): number {
  if (!p.result.exists) return 0;
  if (p.result.fields) return p.result.fields.reduce((n, [f, v]) => n + f.length + v.length, 0);
  return p.result.value?.length ?? 0;
}

describe('probe script', () => {
  let redis: TestRedis;
  const k = (s: string) => Buffer.from(s);

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('an 8 MB hash value and a 1 MB field name: a quick call, a small reply, the owner shown truncated', async () => {
    const holder = `${randomUUID()}:1`;
    await redis.client.hset('lock:big-value', holder, 'x'.repeat(8_000_000));
    await redis.client.pexpire('lock:big-value', 30_000);
    await redis.client.hset('lock:big-name', 'y'.repeat(1_000_000), '1');
    await redis.client.pexpire('lock:big-name', 30_000);
    // Big values among more fields than are read at all.
    const many: string[] = [];
    for (let i = 0; i <= MAX_HASH_FIELDS * 2; i++) many.push(`f${i}`, i % 8 === 3 ? 'z'.repeat(4_000_000) : 'v');
    await redis.client.hset('lock:big-many', ...many);
    await redis.client.config('SET', 'slowlog-log-slower-than', '5000');
    const keys = [k('lock:big-value'), k('lock:big-name'), k('lock:big-many')];
    for (const asIfVersion of [0, 0x060200]) {
      // Values are never read whole: not one call takes 5 ms (reading the 8 MB value took 80). No command reads
      // part of a field name, so the 1 MB name is copied into the script (never sent): it is timed on its own.
      await redis.client.slowlog('RESET');
      const [value, many] = await probeKeys(redis.client, [keys[0]!, keys[2]!], Date.now, { asIfVersion });
      const slow = (await redis.client.slowlog('GET', 20)) as unknown[][];
      expect(slow.map((e) => `${String((e[3] as unknown[])[0])} ${String(e[2])} µs`)).toEqual([]);
      const [name] = await probeKeys(redis.client, [keys[1]!], Date.now, { asIfVersion });
      const probed = [value!, name!, many!];
      for (const p of probed) expect(replyBytes(p)).toBeLessThanOrEqual(MAX_HASH_FIELDS * 2 * MAX_VALUE_BYTES);
      expect(replyBytes(value!) + replyBytes(name!)).toBeLessThan(3 * MAX_VALUE_BYTES);

      expect(value!.result).toMatchObject({ exists: true, type: 'hash', size: 1 });
      const [vf] = value!.result.exists ? value!.result.fields! : [];
      expect(vf![0].toString()).toBe(holder);
      expect(vf![1].length).toBeLessThanOrEqual(MAX_VALUE_BYTES);
      expect(vf![2]).toBe(CUT_VALUE);

      const [nf] = name!.result.exists ? name!.result.fields! : [];
      expect(nf![0].length).toBe(MAX_VALUE_BYTES);
      expect(nf![2]! & CUT_NAME).toBe(CUT_NAME);

      // A big hash of big values is sampled (names only), and names no owner that would change at every probe.
      expect(many!.result).toMatchObject({ exists: true, type: 'hash', size: MAX_HASH_FIELDS * 2 + 1, sampled: true });
      expect(many!.result.exists && many!.result.fields!.length).toBeLessThanOrEqual(MAX_HASH_FIELDS + 1);

      const tracker = new LockTracker({ heldTooLongMs: 3_600_000 });
      for (const p of probed) tracker.apply(p);
      const big = tracker.get(keys[0]!.toString('base64'))!;
      expect(big).toMatchObject({ library: 'redisson', reentryCount: null });
      expect(big.owner).toMatchObject({ text: holder, truncated: true });
      const long = tracker.get(keys[1]!.toString('base64'))!;
      expect(long.owner?.truncated).toBe(true);
      expect(long.owner?.text).toBe('y'.repeat(MAX_VALUE_BYTES));
      expect(tracker.get(keys[2]!.toString('base64'))).toMatchObject({ library: 'unknown', owner: null });
    }
  });

  it('a read lock with more readers than are read: mode is still read, every reader counted, the same part read each time', async () => {
    for (const readers of [MAX_HASH_FIELDS + 8, 300]) {
      const key = `lock:readers-${readers}`;
      const fields: string[] = [];
      for (let i = 0; i < readers; i++) fields.push(`${randomUUID()}:${i}`, '1');
      await redis.client.hset(key, ...fields, 'mode', 'read');
      for (const asIfVersion of [0, 0x060200]) {
        const [p, again] = await probeKeys(redis.client, [k(key), k(key)], Date.now, { asIfVersion });
        const names = (x: ProbedKey) => (x.result.exists ? x.result.fields!.map(([f]) => f.toString()) : []);
        expect(names(p!)).toEqual(names(again!));
        expect(p!.result.exists && p!.result.sampled).toBeFalsy();
        const tracker = new LockTracker({ heldTooLongMs: 3_600_000 });
        tracker.apply(p!);
        const v = tracker.get(k(key).toString('base64'))!;
        expect(v.library).toBe('redisson-rw');
        expect(v.owner?.fields).toMatchObject({ mode: 'read', holders: String(readers) });
      }
    }
  });

  it("reports Redis's clock, and deadlines on it agree whether read by PEXPIRETIME or (older servers) PTTL", async () => {
    await redis.client.set('lock:clocked', 'a', 'PX', 45_000);
    await redis.client.set('lock:forever', 'b');
    const [time] = (await redis.client.time()) as unknown as [string, string];
    const keys = [k('lock:clocked'), k('lock:forever'), k('lock:absent')];
    const now7 = await probeKeys(redis.client, keys);
    const now6 = await probeKeys(redis.client, keys, Date.now, { asIfVersion: 0x060200 });
    for (const probed of [now7, now6]) {
      const [clocked, forever, absent] = probed;
      expect(clocked!.redisAt).toBeGreaterThanOrEqual(Number(time) * 1000);
      expect(clocked!.result).toMatchObject({ exists: true, type: 'string' });
      expect(forever!.result).toMatchObject({ exists: true, pttlMs: -1 });
      expect(absent!.result).toEqual({ exists: false });
    }
    const deadline = (p: ProbedKey) => p.redisAt! + (p.result.exists ? p.result.pttlMs : 0);
    expect(Math.abs(deadline(now7[0]!) - deadline(now6[0]!))).toBeLessThanOrEqual(2);
    // Redis runs on this machine: its clock is ours, and the offset estimate knows it within a few ms.
    expect(Math.abs(clockOffset(redis.client).estimate(Date.now())!)).toBeLessThanOrEqual(3);
    expect(Math.abs(now7[0]!.observedAt - now7[0]!.redisAt!)).toBeLessThanOrEqual(3);
  });
});
