import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplicationStatus } from '../../shared/status';
import { createLockscope, type Lockscope } from '../src/index';
import { api, b64, data } from './support/admin-http';
import { LiveClient, startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';
import { startTestSentinel, type TestSentinel } from './support/sentinel';
import { suiteTimings } from './support/timings';

const LEASE_MS = 1500;
const TOKEN = 'a3f1c2d4e5f60718293a4b5c6d7e8f90';
const ADMIN = 'replicas-topologies-admin-0123456789';

const { timings, timed } = suiteTimings('replicas-topologies timings');

/**
 * Samples `roles()` every 50 ms while `during` runs and for `afterMs` after it: every role seen, by replica, so a
 * test can say none was stuck 'alone' or 'candidate' at the end.
 */
function roleLog(roles: () => Record<string, ReplicationStatus | null>): { stop(): Record<string, string[]> } {
  const seen: Record<string, string[]> = {};
  const timer = setInterval(() => {
    for (const [name, s] of Object.entries(roles())) {
      const list = (seen[name] ??= []);
      const role = s?.role ?? 'none';
      if (list.at(-1) !== role) list.push(role);
    }
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return seen;
    },
  };
}

describe('replicas on a Sentinel group: one leader on the master the sentinels name, across a failover', () => {
  let group: TestSentinel;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    group = await timed('sentinel start', () => startTestSentinel());
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(apps.map((a) => a.close()));
    await group?.stop();
  }, 30_000);

  const start = async (name: string) => {
    const app = await startTestApp(
      '',
      { REDIS_SENTINELS: group.sentinelAddresses, REDIS_SENTINEL_MASTER: group.masterName, LEASE_MS: String(LEASE_MS) },
      { configureNotifications: true, app: { replicaName: name } },
    );
    apps.push(app);
    return app;
  };
  const role = (a: TestApp): ReplicationStatus => a.target.status().replication!;

  it('the follower shows the leader\'s locks; after SIGKILL of the master one replica leads on the new master, nothing held is shown ended, and a new lock reaches the follower', async () => {
    const oldMaster = group.master;
    const heir = group.replica;
    const master = group.nodeClient(oldMaster.port);
    await master.set('lock:topo:kept', TOKEN, 'PX', 120_000);
    await master.call('WAIT', 1, 2000);

    const s1 = await start('s1');
    const s2 = await start('s2');
    expect(s1.target.status().kind).toBe('sentinel');
    expect(role(s1)).toMatchObject({ role: 'leader', self: 's1', problem: null, store: 'the watched Redis' });
    await waitFor(() => role(s2).role === 'follower' && role(s2).synced, 's2 following s1', 5000);
    expect(role(s2).lease).toMatchObject({ holder: 's1', term: role(s1).lease!.term });
    const onFollower = await s2.connect();
    expect(onFollower.byKey('lock:topo:kept')).toMatchObject({ state: 'held', owner: { text: TOKEN } });
    // A change on the master reaches the follower through the leader's stream.
    await group.client.set('lock:topo:before', TOKEN, 'PX', 120_000);
    await onFollower.until('lock:topo:before', (v) => v.state === 'held', 'a lock taken before the failover, on the follower', 3000);
    await master.call('WAIT', 1, 2000);
    // Only the leader subscribes to the master's notifications.
    const subscribed = ((await master.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => /psub=[1-9]/.test(l));
    expect(subscribed).toHaveLength(1);
    const termBefore = role(s1).lease!.term;

    const log = roleLog(() => ({ s1: role(s1), s2: role(s2) }));
    const t0 = performance.now();
    const { ms } = await group.failover();
    timings['SIGKILL to sentinels agree'] = ms;
    const leader = await waitFor(
      () => [s1, s2].find((a) => role(a).role === 'leader' && a.target.status().nodes[0]?.address === `127.0.0.1:${heir.port}` && a.target.status().nodes[0]?.connection === 'ready'),
      'a leader watching the new master',
      15_000,
    );
    timings['SIGKILL to a leader on the new master'] = Math.round(performance.now() - t0);
    const other = leader === s1 ? s2 : s1;
    await waitFor(() => role(other).role === 'follower' && role(other).synced && role(other).lease?.holder === role(leader).self, 'the other replica following the leader', 10_000);
    timings['SIGKILL to both settled'] = Math.round(performance.now() - t0);
    expect(role(leader).lease!.term).toBeGreaterThanOrEqual(termBefore);

    // A lock taken on the new master reaches the browser on the follower (s2, whichever leads now).
    await waitFor(() => s2.target.status().nodes[0]?.address === `127.0.0.1:${heir.port}`, "the follower showing the leader's view of the new master", 5000);
    const t1 = performance.now();
    await group.nodeClient(heir.port).set('lock:topo:after', TOKEN, 'PX', 120_000);
    await onFollower.until('lock:topo:after', (v) => v.state === 'held', 'a lock taken after the failover, on the follower', 5000);
    timings['new lock to the follower after the failover'] = Math.round(performance.now() - t1);

    // Settled for good: for two lease times nobody is alone or electing.
    await new Promise((r) => setTimeout(r, 2 * LEASE_MS));
    const seen = log.stop();
    expect([role(s1).role, role(s2).role].sort()).toEqual(['follower', 'leader']);
    for (const a of [s1, s2]) expect(role(a).problem, `${role(a).self}: ${role(a).problem}`).toBeNull();
    for (const roles of Object.values(seen)) expect(roles).not.toContain('alone');
    console.info(`replicas-topologies: roles seen across the Sentinel failover ${JSON.stringify(seen)}`);

    // Held throughout: never shown anything but held on the follower's browser.
    for (const key of ['lock:topo:kept', 'lock:topo:before']) {
      const states = onFollower.batches.flatMap((b) => b.upserts.filter((l) => l.key.text === key).map((l) => l.state));
      expect(states.filter((s) => s !== 'held'), key).toEqual([]);
      expect(onFollower.byKey(key)).toMatchObject({ state: 'held', endedAt: null });
    }
    // The lease lives on the new master, with its term; exactly one holder.
    const leases = await group.nodeClient(heir.port).keys('lockscope:state:*:lease');
    expect(leases).toHaveLength(1);
    expect(await group.nodeClient(heir.port).hget(leases[0]!, 'holder')).toBe(role(leader).self);
    // Only the leader subscribes on the new master.
    const after = ((await group.nodeClient(heir.port).call('CLIENT', 'LIST')) as string).split('\n').filter((l) => /psub=[1-9]/.test(l));
    expect(after).toHaveLength(1);
  }, 60_000);
});

describe('replicas on a Sentinel group whose master hangs (SIGSTOP): the bus moves to the new master too', () => {
  let group: TestSentinel;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    group = await startTestSentinel();
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(apps.map((a) => a.close()));
    await group?.stop();
  }, 30_000);

  const role = (a: TestApp): ReplicationStatus => a.target.status().replication!;

  it('with the old master frozen, one replica leads on the new one and an admin action sent to the follower reaches the leader', async () => {
    const oldMaster = group.master;
    const heir = group.replica;
    const pid = Number(/process_id:(\d+)/.exec(await group.nodeClient(oldMaster.port).info('server'))![1]);
    await group.nodeClient(oldMaster.port).set('lock:frozen:kept', TOKEN, 'PX', 120_000);
    await group.nodeClient(oldMaster.port).call('WAIT', 1, 2000);
    const env = { REDIS_SENTINELS: group.sentinelAddresses, REDIS_SENTINEL_MASTER: group.masterName, LEASE_MS: String(LEASE_MS), ADMIN_TOKEN: ADMIN };
    for (const name of ['f1', 'f2']) apps.push(await startTestApp('', env, { configureNotifications: true, app: { replicaName: name } }));
    const [f1, f2] = apps as [TestApp, TestApp];
    await waitFor(() => role(f1).role === 'leader' && role(f2).role === 'follower' && role(f2).synced, 'f1 leading, f2 following', 5000);
    await waitFor(() => [f1, f2].every((a) => a.target.status().sentinel?.sentinels.every((s) => s.listening)), 'every sentinel listened to', 5000);
    const onFollower = await f2.connect();
    await onFollower.until('lock:frozen:kept', (v) => v.state === 'held', 'the lock on the follower');

    const t0 = performance.now();
    process.kill(pid, 'SIGSTOP');
    try {
      await waitFor(async () => (await group.masterPorts()).every((p) => p === heir.port), 'the sentinels to promote the replica', 15_000);
      const leader = await waitFor(
        () => [f1, f2].find((a) => role(a).role === 'leader' && a.target.status().nodes[0]?.address === `127.0.0.1:${heir.port}`),
        'a leader on the new master',
        15_000,
      );
      const other = leader === f1 ? f2 : f1;
      await waitFor(() => role(other).role === 'follower' && role(other).synced && role(other).lease?.holder === role(leader).self, 'the other following it', 10_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify([role(leader), role(other)])}`);
      });
      timings['SIGSTOP to leader and follower on the new master'] = Math.round(performance.now() - t0);
      await group.nodeClient(heir.port).set('lock:frozen:after', 'owner-after', 'PX', 120_000);
      const browser = other === f2 ? onFollower : await other.connect();
      await browser.until('lock:frozen:after', (v) => v.state === 'held', 'a lock on the new master, on the follower', 5000);
      // A force-release sent to the follower: executed there, noted by the leader through the bus.
      const reply = await api(other.url, '/api/locks/release', { token: ADMIN, json: { key: 'lock:frozen:after', expectedOwner: 'owner-after', reason: 'frozen master' } });
      expect(data(reply)).toMatchObject({ result: 'released' });
      const id = b64('lock:frozen:after');
      await waitFor(() => [f1, f2].every((a) => a.tracker.history(id)?.events.at(-1)?.kind === 'force-released'), 'force-released in both histories (the bus on the new master)', 5000);
      expect(browser.byKey('lock:frozen:kept')).toMatchObject({ state: 'held' });
      const states = onFollower.batches.flatMap((b) => b.upserts.filter((l) => l.key.text === 'lock:frozen:kept').map((l) => l.state));
      expect(states.filter((s) => s !== 'held')).toEqual([]);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }, 60_000);
});

describe('createLockscope({ redis: <the host\'s ioredis connection> }) in two instances of an application', () => {
  let redis: TestRedis;
  let hostRedis: Redis;
  const open: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    // The host's own connection, with a key prefix and a name of its own: lockscope must not use it.
    hostRedis = new Redis(redis.url, { keyPrefix: 'host:', connectionName: 'host-app' });
  });
  afterAll(async () => {
    for (const o of open.reverse()) await o.close().catch(() => {});
    hostRedis?.disconnect();
    await redis?.stop();
  });

  async function instance(name: string): Promise<{ ls: Lockscope; url: string }> {
    const app = express();
    const server = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    open.push({
      close: async () => {
        server.closeAllConnections();
        server.close();
      },
    });
    const ls = await createLockscope({ redis: hostRedis, basePath: '/locks', clientDir: null, logger: pino({ level: 'silent' }), leaseMs: LEASE_MS, replicaName: name });
    open.push(ls);
    app.use(ls.basePath, ls.router);
    ls.attach(server);
    return { ls, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }
  const role = (ls: Lockscope): ReplicationStatus => ls.status().targets[0]!.replication!;

  it('one leads, the other follows and shows its locks; the host connection is never used and its key prefix never applied', async () => {
    await hostRedis.ping();
    // Written by the host through its prefix: the key is `host:lock:embed:a` on the server.
    await hostRedis.set('lock:embed:a', 'worker-a', 'PX', 60_000);
    const e1 = await instance('e1');
    const e2 = await instance('e2');
    expect(role(e1.ls)).toMatchObject({ role: 'leader', self: 'e1', problem: null });
    await waitFor(() => role(e2.ls).role === 'follower' && role(e2.ls).synced, 'e2 following e1', 5000);
    expect(role(e2.ls).lease).toMatchObject({ holder: 'e1' });

    const browser = await LiveClient.connect(e2.url, { path: '/locks/socket.io' });
    open.push({ close: async () => void browser.socket.disconnect() });
    expect(browser.byKey('host:lock:embed:a')).toMatchObject({ state: 'held', owner: { text: 'worker-a' } });
    await redis.client.set('lock:embed:b', 'worker-b', 'PX', 60_000);
    await browser.until('lock:embed:b', (v) => v.owner?.text === 'worker-b', 'a new lock on the follower', 3000);

    // Coordination state under lockscope:state:, not under the host's prefix.
    const stateKeys = await redis.client.keys('lockscope:state:*');
    expect(stateKeys.some((k) => k.endsWith(':lease'))).toBe(true);
    expect(await redis.client.keys('host:lockscope*')).toEqual([]);
    // Every lockscope connection is its own (named lockscope:…); the host's was last used by the host (its PING,
    // SET), and it is still the only connection named host-app.
    const clients = ((await redis.client.call('CLIENT', 'LIST')) as string).split('\n').filter(Boolean);
    const named = (n: string) => clients.filter((l) => new RegExp(` name=${n} `).test(l));
    const host = named('host-app');
    expect(host).toHaveLength(1);
    expect(host[0]).toMatch(/ cmd=set /);
    // Each instance's lease/publishing connection and its bus; the follower's blocking reader (the leader's opens
    // only should it follow). Nothing else but the test's own connection (asking CLIENT LIST).
    for (const [part, least] of [['state', 2], ['bus', 2], ['state-reader', 1]] as const) expect(named(`lockscope:${part}`).length, part).toBeGreaterThanOrEqual(least);
    expect(clients.filter((l) => !/ name=(host-app|lockscope:\S+) /.test(l)).map((l) => / cmd=(\S+)/.exec(l)?.[1])).toEqual(['client|list']);
    // Stopping the leader hands over to the other; the host connection stays untouched throughout.
    const t0 = performance.now();
    await e1.ls.close();
    await waitFor(() => role(e2.ls).role === 'leader', 'e2 leading', LEASE_MS + 2000);
    timings['embedded: leader closed to the other leading'] = Math.round(performance.now() - t0);
    await redis.client.set('lock:embed:c', 'worker-c', 'PX', 60_000);
    await browser.until('lock:embed:c', () => true, 'a lock after the handover', 3000);
    expect(browser.byKey('lock:embed:b')?.state).toBe('held');
    expect(hostRedis.status).toBe('ready');
    const hostLine = ((await redis.client.call('CLIENT', 'LIST')) as string).split('\n').find((l) => / name=host-app /.test(l));
    expect(hostLine).toMatch(/ cmd=set /);
  }, 30_000);
});
