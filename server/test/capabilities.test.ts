import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeStatus, ServerStatus } from '../../shared/status';
import { MAX_HASH_FIELDS, MAX_VALUE_BYTES, probeKeys } from '../src/targets/node/probe';
import { probeKeysByCommands } from '../src/targets/node/probe-commands';
import { aclUser, MANAGED_DEFAULT } from './support/acl-user';
import { startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const TOKEN = 'd4e2c3d4e5f60718293a4b5c6d7e8f93';

interface Health {
  ok: boolean;
  targets: { id: string; health: string; problem: string | null; nodes: { missing: string[]; blind: boolean; restartSignal: string | null }[] }[];
}

async function health(app: TestApp): Promise<{ status: number; body: Health }> {
  const res = await fetch(`${app.url}/healthz`);
  return { status: res.status, body: (await res.json()) as Health };
}

async function metrics(app: TestApp): Promise<string> {
  return (await fetch(`${app.url}/metrics`)).text();
}

/** The status a browser gets on connect. */
async function statusOf(app: TestApp): Promise<ServerStatus> {
  const client = await app.connect();
  return new Promise((resolve) => {
    client.socket.once('server:status', resolve);
    client.socket.disconnect().connect();
  });
}

const missing = (n: NodeStatus) => n.missing.map((m) => m.capability).sort();

describe('capabilities: what the Redis user may do is probed, degraded honestly and shown', () => {
  let redis: TestRedis;

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("the README's read-only ACL rule lacks nothing: notifications, run_id restarts, no fallback", async () => {
    const rule = ['+@read', '+@connection', '+time', '+eval', '+evalsha', '+info', '+config|get', '+psubscribe', '~*', '&*'];
    const url = await aclUser(redis.client, redis.port, 'readonly', rule);
    await redis.client.set('lock:readonly:a', TOKEN, 'PX', 60_000);
    const app = await startTestApp(url, {}, { configureNotifications: false });
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:readonly:a'), 'the lock');
      expect(app.node.status()).toMatchObject({ missing: [], feed: 'notifications', feedSource: 'config', restartSignal: 'run-id' });
      expect(app.target.status().health).toBe('ok');
      const t0 = Date.now();
      await redis.client.set('lock:readonly:b', TOKEN, 'PX', 60_000);
      await waitFor(() => client.byKey('lock:readonly:b'), 'a lock seen by notification', 2000);
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      await app.close();
    }
  });

  it('without SCAN lockscope is blind: status, /healthz (503), /metrics and the log say so; the table is not "no locks"', async () => {
    await redis.client.set('lock:blind:a', TOKEN, 'PX', 60_000);
    const url = await aclUser(redis.client, redis.port, 'noscan', ['+@all', '-scan', '~*', '&*']);
    const app = await startTestApp(url);
    try {
      const node = (await statusOf(app)).targets[0]!.nodes[0]!;
      expect(node.blind).toBe(true);
      expect(node.missing.find((m) => m.capability === 'scan')).toMatchObject({ blinds: true, detail: expect.stringMatching(/NOPERM.*'scan'/) });
      const { status, body } = await health(app);
      expect(status).toBe(503);
      expect(body.ok).toBe(false);
      expect(body.targets[0]).toMatchObject({ health: 'blind', problem: expect.stringMatching(/cannot list the locks.*scan/i) });
      const text = await metrics(app);
      expect(text).toMatch(/lockscope_blind\{target="default"\} 1/);
      expect(text).toMatch(/lockscope_capability_missing\{target="default",node="[^"]+",capability="scan"\} 1/);
      expect(app.tracker.size).toBe(0); // nothing is listed: the status, not the empty table, is the answer
    } finally {
      await app.close();
    }
  });

  it('without EVAL locks are still tracked, by pipelined commands: owners, renewals, releases and expiries', async () => {
    const url = await aclUser(redis.client, redis.port, 'noeval', ['+@all', '-eval', '-evalsha', '~*', '&*']);
    await redis.client.set('lock:noeval:str', TOKEN, 'PX', 60_000);
    await redis.client.hset('lock:noeval:redisson', `${randomUUID()}:1`, '2');
    await redis.client.pexpire('lock:noeval:redisson', 30_000);
    const app = await startTestApp(url);
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:noeval:str') && client.byKey('lock:noeval:redisson'), 'locks found without scripts');
      expect(client.byKey('lock:noeval:str')).toMatchObject({ library: 'redlock', owner: { text: TOKEN }, state: 'held' });
      expect(client.byKey('lock:noeval:redisson')).toMatchObject({ library: 'redisson', reentryCount: 2 });
      // A semaphore's holders are read by commands too, and one leaving by ZREM is seen.
      const now = Date.now();
      await redis.client.zadd('semaphore:noeval', now, 'holder-a', now, 'holder-b');
      await redis.client.pexpire('semaphore:noeval', 60_000);
      await app.target.resync();
      await client.until('semaphore:noeval', (v) => v.holders?.list.length === 2, 'the semaphore and its two holders');
      expect(client.byKey('semaphore:noeval')).toMatchObject({ library: 'redis-semaphore', type: 'zset', holders: { count: 2 } });
      await redis.client.zrem('semaphore:noeval', 'holder-a');
      await client.until('semaphore:noeval', (v) => v.holders?.list.map((h) => h.token.text).join() === 'holder-b', 'one holder left');
      await redis.client.pexpire('lock:noeval:str', 90_000);
      await waitFor(() => client.byKey('lock:noeval:str')?.renewals === 1, 'a renewal');
      await redis.client.del('lock:noeval:redisson');
      await waitFor(() => client.byKey('lock:noeval:redisson')?.state === 'released', 'a release');
      await redis.client.set('lock:noeval:short', 'x', 'PX', 300);
      const deadline = (await waitFor(() => client.byKey('lock:noeval:short'), 'short lock')).deadline!;
      await waitFor(() => client.byKey('lock:noeval:short')?.state === 'expired', 'expiry', 3000);
      expect(Date.now() - deadline).toBeLessThan(250);
      const node = app.target.status().nodes[0]!;
      expect(missing(node)).toEqual(['eval']);
      expect(node.blind).toBe(false);
      expect(app.target.status().health).toBe('degraded');
      expect((await health(app)).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('the pipelined probe reads what the script reads (types, TTLs, owners, bounds)', async () => {
    const c = redis.client;
    const p = 'probe-eq:';
    await c.set(`${p}str`, TOKEN, 'PX', 60_000);
    await c.set(`${p}long`, 'v'.repeat(5000), 'PX', 60_000);
    await c.set(`${p}bin`, Buffer.from([0xff, 0x00, 0x80]));
    await c.hset(`${p}hash`, 'holder:1', '3', 'mode', 'write');
    await c.pexpire(`${p}hash`, 45_000);
    await c.hset(`${p}hugevalue`, 'big', 'x'.repeat(64 * 1024), 'small', 'y');
    await c.hset(`${p}longname`, 'n'.repeat(2000), '1');
    await c.rpush(`${p}list`, 'a', 'b');
    await c.sadd(`${p}set`, 'a');
    await c.zadd(`${p}zset`, 1, 'a');
    // A redis-semaphore pool: holders by acquire time (scores), the key's TTL; a pool past MAX_HASH_FIELDS holders
    // (read in part: the first by score), fractional and negative scores, a member too long to be a holder.
    const now = Date.now();
    await c.zadd(`${p}semaphore`, now, 'holder-b', now - 5, 'holder-a', now + 0.5, 'holder-c');
    await c.pexpire(`${p}semaphore`, 30_000);
    await c.zadd(`${p}bigzset`, ...Array.from({ length: 40 }, (_, i) => [40 - i, `h${i}`]).flat());
    await c.zadd(`${p}oddzset`, -2.5, 'neg', 1e-3, 'tiny', 0, 'm'.repeat(2000), 1e20, 'huge');
    await c.xadd(`${p}stream`, '*', 'f', 'v');
    const names = ['str', 'long', 'bin', 'hash', 'hugevalue', 'longname', 'list', 'set', 'zset', 'semaphore', 'bigzset', 'oddzset', 'stream', 'missing'];
    const keys = names.map((k) => Buffer.from(p + k));
    const byScript = await probeKeys(c, keys);
    const byCommands = await probeKeysByCommands(c, keys, { hasExpireTime: true, hasNoValues: false });
    expect(byCommands.changed).toEqual([]);
    const shape = (r: (typeof byScript)[number]) => {
      const x = JSON.parse(JSON.stringify(r.result)) as { pttlMs?: number };
      // Both read the TTL at their own moment: equal to the tens of ms.
      if (x.pttlMs !== undefined && x.pttlMs > 0) x.pttlMs = Math.round(x.pttlMs / 100);
      return x;
    };
    expect(byCommands.probed.map(shape)).toEqual(byScript.map(shape));
    const long = byCommands.probed.find((r) => r.key.toString() === `${p}long`)!.result;
    expect(long.exists && long.value?.length).toBe(MAX_VALUE_BYTES);
    // The sorted sets were read (members with scores), not only counted: the comparison above covers their members.
    const members = (k: string) => {
      const r = byCommands.probed.find((x) => x.key.toString() === p + k)!.result;
      return r.exists ? { size: r.size, members: r.fields?.map(([m, score, cut]) => [m.toString(), score.toString(), cut ?? 0]) } : null;
    };
    expect(members('semaphore')).toEqual({
      size: 3,
      members: [
        ['holder-a', String(now - 5), 0],
        ['holder-b', String(now), 0],
        ['holder-c', String(now + 0.5), 0],
      ],
    });
    expect(members('bigzset')).toMatchObject({ size: 40 });
    expect(members('bigzset')!.members).toHaveLength(MAX_HASH_FIELDS);
    expect(members('bigzset')!.members![0]).toEqual(['h39', '1', 0]);
    expect(members('oddzset')!.members!.map(([m, , cut]) => [String(m).length, cut])).toEqual([[3, 0], [MAX_VALUE_BYTES, 3], [4, 0], [4, 0]]);
  });

  it('without INFO a restart is still seen (marker key): the locks it wiped end lost, not released', async () => {
    const first = await startTestRedis();
    const port = first.port;
    const url = await aclUser(first.client, port, 'managed', MANAGED_DEFAULT);
    await first.client.set('lock:noinfo:wiped', 'old-owner', 'PX', 60_000);
    const app = await startTestApp(url, {}, { configureNotifications: false });
    let second: TestRedis | null = null;
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:noinfo:wiped'), 'the lock');
      expect(app.node.identity.signal).toBe('marker');
      expect(missing(app.node.status())).toEqual(['config', 'info']);
      // CONFIG is refused, but test events prove keyspace notifications arrive.
      expect(app.node.status()).toMatchObject({ feed: 'notifications', feedSource: 'proven' });
      await first.client.call('SHUTDOWN', 'NOSAVE').catch(() => {});
      await first.stop();
      second = await startTestRedis({ port });
      await aclUser(second.client, port, 'managed', MANAGED_DEFAULT);
      await waitFor(() => client.byKey('lock:noinfo:wiped')?.state === 'lost', 'the wiped lock to end lost', 10_000);
      await waitFor(() => app.node.lastRestart?.lost === 1, 'the restart to be counted');
      expect(await metrics(app)).toMatch(/lockscope_locks_lost_total\{target="default",library="generic"\} 1/);
      expect(await metrics(app)).not.toMatch(/lockscope_lock_releases_total\{target="default",library="generic"\} [1-9]/);
    } finally {
      await app.close();
      await second?.stop();
      await first.stop();
    }
  });

  it('without INFO nor a writable lockscope:state:, a restart is seen by client ids going backwards (and said to be weaker)', async () => {
    const first = await startTestRedis();
    const port = first.port;
    const rules = ['+@all', '-@dangerous', '~lock:*', '&*'];
    const url = await aclUser(first.client, port, 'readlocks', rules);
    // An old server has numbered many connections: lockscope's own get high ids.
    for (let i = 0; i < 30; i++) await first.client.call('CLIENT', 'ID').then(() => first.client.disconnect(true));
    await first.client.set('lock:ids:wiped', 'old-owner', 'PX', 60_000);
    const app = await startTestApp(url, { POLL_MS: '200' }, { configureNotifications: false });
    let second: TestRedis | null = null;
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:ids:wiped'), 'the lock');
      expect(app.node.identity.signal).toBe('client-id');
      expect(missing(app.node.status())).toEqual(['config', 'info', 'state-write']);
      await first.stop();
      second = await startTestRedis({ port });
      await aclUser(second.client, port, 'readlocks', rules);
      await waitFor(() => client.byKey('lock:ids:wiped')?.state === 'lost', 'the wiped lock to end lost', 10_000);
    } finally {
      await app.close();
      await second?.stop();
      await first.stop();
    }
  });

  it('without CONFIG and without notifications on the server: polling, and the header says why', async () => {
    const server = await startTestRedis({ args: ['--notify-keyspace-events', ''] });
    const url = await aclUser(server.client, server.port, 'noconfig', ['+@all', '-config', '~*', '&*']);
    const app = await startTestApp(url, { POLL_MS: '100' }, { configureNotifications: true });
    try {
      expect(app.node.status()).toMatchObject({ feed: 'polling', feedSource: null });
      // Allowed to configure notifications, but CONFIG SET is refused too (ACL DRYRUN tells, with no side effect).
      expect(missing(app.node.status())).toEqual(['config', 'config-set']);
      const client = await app.connect();
      await server.client.set('lock:noconfig', 'x', 'PX', 10_000);
      await waitFor(() => client.byKey('lock:noconfig'), 'a lock found by polling', 3000);
    } finally {
      await app.close();
      await server.stop();
    }
  });

  it('"+@all -@dangerous" without channels (Redis 7 default): polling, PSUBSCRIBE named as missing, locks tracked', async () => {
    const url = await aclUser(redis.client, redis.port, 'nochannels', ['+@all', '-@dangerous', '~*']);
    await redis.client.set('lock:nochannels', TOKEN, 'PX', 60_000);
    const app = await startTestApp(url, { POLL_MS: '100' }, { configureNotifications: false });
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:nochannels'), 'the lock');
      const node = app.node.status();
      expect(node.feed).toBe('polling');
      expect(missing(node)).toEqual(['config', 'info', 'psubscribe']);
      expect(node.missing.find((m) => m.capability === 'psubscribe')?.detail).toMatch(/channel/);
      expect(app.target.status().health).toBe('degraded');
    } finally {
      await app.close();
    }
  });

  it('a read-only key permission (%R~) reads locks by commands: a script\'s keys need write permission', async () => {
    const url = await aclUser(redis.client, redis.port, 'readkeys', ['+@read', '+@connection', '+time', '+eval', '+evalsha', '+info', '+config|get', '+psubscribe', '%R~*', '&*']);
    await redis.client.set('lock:readkeys:a', TOKEN, 'PX', 60_000);
    const app = await startTestApp(url, {}, { configureNotifications: false });
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:readkeys:a'), 'the lock');
      expect(client.byKey('lock:readkeys:a')?.owner?.text).toBe(TOKEN);
      const node = app.node.status();
      expect(missing(node)).toEqual(['eval']);
      expect(node.missing[0]!.detail).toMatch(/%R~ allows reads only/);
      expect(node.unreadableKeys).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('keys the user may not read are counted, not shown, and never break the batch of those it may', async () => {
    await redis.client.set('lock:readable', TOKEN, 'PX', 60_000);
    await redis.client.set('secret:lock', TOKEN, 'PX', 60_000);
    const url = await aclUser(redis.client, redis.port, 'somekeys', ['+@all', '-@dangerous', '~lock:*', '&*']);
    const app = await startTestApp(url, {}, { configureNotifications: false });
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:readable'), 'the readable lock');
      expect(client.byKey('secret:lock')).toBeUndefined();
      const node = app.node.status();
      expect(node.unreadableKeys).toBeGreaterThanOrEqual(1);
      expect(missing(node)).toEqual(['config', 'info', 'keys', 'state-write']); // EVAL works on the keys it may touch
      expect(node.missing.find((m) => m.capability === 'keys')).toMatchObject({ blinds: false });
      expect(await metrics(app)).toMatch(/lockscope_unreadable_keys\{target="default",node="[^"]+"\} [1-9]/);
    } finally {
      await app.close();
    }
  });
});

describe('the feed upgrades itself: notifications switched on (and off) at run time, without a reconnect or a gap', () => {
  it('polling → notifications → polling, same connections, nothing missed across the switches', async () => {
    const redis = await startTestRedis({ args: ['--notify-keyspace-events', ''] });
    // Polling rarely (so only the switch can explain a fast sighting), the feed re-checked often.
    const app = await startTestApp(redis.url, { POLL_MS: '10000' }, { configureNotifications: false, app: { tuning: { feedRecheckMs: 200 } } });
    const ids = async () =>
      ((await redis.client.call('CLIENT', 'LIST')) as string)
        .split('\n')
        .filter((l) => /name=lockscope:/.test(l))
        .map((l) => /id=(\d+)/.exec(l)![1])
        .sort();
    try {
      const client = await app.connect();
      expect(app.node.mode).toBe('polling');
      const before = await ids();
      // Taken while polling, just before notifications come on: only the resync across the switch can find it
      // before the next scan (10 s away).
      await redis.client.set('lock:switch:gap', 'a', 'PX', 60_000);
      await redis.client.config('SET', 'notify-keyspace-events', 'Kg$xh');
      await waitFor(() => app.node.mode === 'notifications', 'the switch to notifications', 3000);
      await waitFor(() => client.byKey('lock:switch:gap'), 'the lock taken across the switch', 2000);
      const t0 = Date.now();
      await redis.client.set('lock:switch:live', 'b', 'PX', 60_000);
      await waitFor(() => client.byKey('lock:switch:live'), 'a lock seen by notification', 2000);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(await ids()).toEqual(before);

      await redis.client.config('SET', 'notify-keyspace-events', '');
      await waitFor(() => app.node.mode === 'polling', 'the switch back to polling', 3000);
      expect(await redis.client.pubsub('NUMPAT')).toBe(0);
      expect(await ids()).toEqual(before);
      expect(app.node.status().feed).toBe('polling');
    } finally {
      await app.close();
      await redis.stop();
    }
  });
});
