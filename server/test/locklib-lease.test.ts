import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLockClient, Lease, LockLostError, type LeaseTerm } from '../src/locklib';
import { createAclUser } from './support/acl';
import { startStallProxy } from './support/stall-proxy';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

describe('lease (lock library, real Redis)', () => {
  let redis: TestRedis;
  const connections: Redis[] = [];
  const leases: Lease[] = [];
  let n = 0;
  const freshKey = () => `lease:{t${++n}}:lease`;

  const connect = (url = redis.url) => {
    const c = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    c.on('error', () => {});
    connections.push(c);
    return c;
  };
  const lease = (key: string, holder: string, options: { ttlMs?: number; url?: string } = {}) => {
    const l = new Lease(createLockClient(connect(options.url), { commandTimeoutMs: 300 }), key, { holder, ttlMs: options.ttlMs ?? 1000 });
    leases.push(l);
    return l;
  };
  const elected = (l: Lease) => once(l, 'elected') as Promise<[LeaseTerm]>;

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await Promise.all(leases.map((l) => l.stop()));
    for (const c of connections) c.disconnect();
    await redis?.stop();
  });

  it('one of three candidates holds it; its record shows holder, term and renewals; a resignation hands it on with the next term', async () => {
    const key = freshKey();
    const candidates = ['a', 'b', 'c'].map((h) => lease(key, h));
    const holders: string[] = [];
    candidates.forEach((l, i) => l.on('elected', () => holders.push(['a', 'b', 'c'][i]!)));
    for (const l of candidates) l.start();
    await waitFor(() => holders.length > 0, 'a first holder');
    await new Promise((r) => setTimeout(r, 700)); // two renewals; nobody else may win meanwhile
    expect(holders).toHaveLength(1);
    const first = candidates[['a', 'b', 'c'].indexOf(holders[0]!)]!;
    const record = (await first.read())!;
    expect(record).toMatchObject({ holder: holders[0], term: 1, ttlMs: 1000, transitions: 0 });
    expect(record.renewedAt).toBeGreaterThan(record.acquiredAt);
    expect(record.remainingMs).toBeGreaterThan(0);
    expect(first.current?.term).toBe(1);

    const deposed = once(first, 'deposed');
    await first.stop();
    expect((await deposed)[1]).toBeNull();
    await waitFor(() => holders.length === 2, 'a second holder', 3000);
    expect(holders[1]).not.toBe(holders[0]);
    const next = (await first.read())!;
    expect(next).toMatchObject({ holder: holders[1], term: 2, transitions: 1 });
  });

  it('renewal is owner-checked: a lease someone else overwrote is lost at the next renewal, with its signal', async () => {
    const key = freshKey();
    const l = lease(key, 'solo');
    l.start();
    const [term] = await elected(l);
    const deposed = once(l, 'deposed') as Promise<[LeaseTerm, LockLostError | null]>;
    await redis.client.hset(key, 'token', 'ls1:someone-else');
    const [, reason] = await deposed;
    expect(reason).toBeInstanceOf(LockLostError);
    expect(reason!.reason).toBe('taken');
    expect(term.signal.aborted).toBe(true);
    expect(l.current).toBeNull();
  });

  it('a holder cut off from Redis steps down before its lease runs out, and another takes the next term once it has', async () => {
    const key = freshKey();
    const proxy = await startStallProxy(redis.url);
    try {
      const cut = lease(key, 'cut-off', { url: proxy.url });
      cut.start();
      const [first] = await elected(cut);
      const other = lease(key, 'other');
      const otherElected = elected(other);
      other.start();
      proxy.pause();
      const pausedAt = Date.now();
      const [, reason] = (await once(cut, 'deposed')) as [LeaseTerm, LockLostError | null];
      // The key still lives in Redis for a while: the holder let go first.
      const left = await redis.client.pttl(key);
      expect(reason?.reason).toBe('expired');
      expect(left).toBeGreaterThan(0);
      const [second] = await otherElected;
      expect(second.term).toBe(first.term + 1);
      expect(second.epoch).toBe(first.epoch);
      expect(Date.now() - pausedAt).toBeLessThan(1000 + 1000);
      proxy.resume();
      // The old holder's late renewal cannot revive it.
      await new Promise((r) => setTimeout(r, 400));
      expect((await other.read())!.holder).toBe('other');
    } finally {
      proxy.resume();
      await proxy.close();
    }
  });

  it('a term key lost with the data starts a new epoch (terms are compared within one)', async () => {
    const key = freshKey();
    const l = lease(key, 'x');
    l.start();
    const [first] = await elected(l);
    const deposed = once(l, 'deposed');
    await redis.client.del(key, `${key}:term`);
    await deposed;
    const [second] = await elected(l);
    expect(second.term).toBe(1);
    expect(second.epoch).not.toBe(first.epoch);
  });

  it('a Redis user that may not write the lease gets `refused` (the script may not write), not a silent failure', async () => {
    const user = await createAclUser(redis.client, 'lease-ro', 'pw-lease-ro', ['+@read', '+eval', '+evalsha', '~*']);
    try {
      const l = lease(freshKey(), 'ro', { url: user.url });
      const refused = once(l, 'refused') as Promise<[Error]>;
      l.start();
      const [err] = await refused;
      // Inside a script Redis says so in its own words ("The user executing the script can't run this command").
      expect(err.message).toMatch(/NOPERM|can't run this command/);
      expect(l.current).toBeNull();
    } finally {
      await user.remove();
    }
  });
});
