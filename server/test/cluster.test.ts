import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReleaseResponse, SetTtlResponse } from '../../shared/admin';
import type { LockView } from '../../shared/locks';
import type { NodeStatus } from '../../shared/status';
import { keySlot } from '../src/targets/node/scan';
import { api, auditEntries, data } from './support/admin-http';
import { startTestApp, type TestApp } from './support/app';
import { startTestCluster, type ClusterNode, type TestCluster } from './support/cluster';
import { suiteTimings } from './support/timings';
import { waitFor } from './support/redis';

const TOKEN = 'test-admin-token-0123456789';

/** Scenario times, printed at the end of the file. */
const { timings, timed } = suiteTimings('cluster suite timings');

/** `count` key names `<prefix>:<n>` whose slots `master` serves. */
function keysOn(cluster: TestCluster, master: ClusterNode, prefix: string, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) if (cluster.masterOf(`${prefix}:${i}`).id === master.id) keys.push(`${prefix}:${i}`);
  return keys;
}

const idOf = (key: string) => Buffer.from(key).toString('base64');
const addressOf = (n: ClusterNode) => `127.0.0.1:${n.port}`;

/** Every change the tracker emits from now on, as the wire sees it. */
function recordChanges(app: TestApp) {
  const views: LockView[] = [];
  const listener = (view: LockView) => views.push(JSON.parse(JSON.stringify(view)) as LockView);
  app.tracker.on('change', listener);
  return {
    views,
    of: (key: string) => views.filter((v) => v.id === idOf(key)),
    stop: () => app.tracker.off('change', listener),
  };
}

describe('a Redis Cluster of 3 masters + 3 replicas, from the URL of one node', () => {
  let cluster: TestCluster;
  let app: TestApp;
  const view = (key: string): LockView | undefined => app.tracker.get(idOf(key));
  const nodeStatus = (n: ClusterNode): NodeStatus | undefined => app.target.status().nodes.find((s) => s.address === addressOf(n));
  const until = (key: string, ok: (v: LockView) => boolean, what: string, timeoutMs = 5000) =>
    waitFor(() => {
      const v = view(key);
      return v && ok(v) ? v : undefined;
    }, `${key}: ${what}`, timeoutMs);
  const release = (body: object) => api<ReleaseResponse>(app.url, '/api/locks/release', { json: body, token: TOKEN });
  const setTtl = (body: object) => api<SetTtlResponse>(app.url, '/api/locks/ttl', { json: body, token: TOKEN });

  beforeAll(async () => {
    // Replicas come up without notifications: a promoted one has none until someone sets them (not replicated).
    cluster = await timed('cluster start', () => startTestCluster({ replicaNotifications: false }));
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
  }, 30_000);

  it('follows every master from one replica\'s URL: each lock shows its node and slot', async () => {
    const masters = cluster.masters();
    for (const m of masters) {
      for (const key of keysOn(cluster, m, 'lock:every', 5)) await cluster.client.set(key, `owner-${key}`, 'PX', 120_000);
    }
    app = await timed('app start (discovery)', () => startTestApp(cluster.replicas()[0]!.url, { ADMIN_TOKEN: TOKEN }, { configureNotifications: false }));
    expect(app.target.topology.kind).toBe('cluster');
    const status = app.target.status();
    expect(status).toMatchObject({ kind: 'cluster', health: 'ok', locks: 15 });
    expect(status.nodes.map((n) => n.address).sort()).toEqual(masters.map(addressOf).sort());
    for (const m of masters) {
      expect(nodeStatus(m)).toMatchObject({ connection: 'ready', feed: 'notifications', slots: m.slots, synced: true, restartSignal: 'run-id' });
      for (const key of keysOn(cluster, m, 'lock:every', 5)) {
        expect(view(key), key).toMatchObject({ state: 'held', owner: { text: `owner-${key}` }, node: addressOf(m), slot: keySlot(Buffer.from(key)) });
      }
    }
    // The browser gets the same, and /metrics has a series per master.
    const client = await app.connect();
    expect(client.byKey(keysOn(cluster, masters[1]!, 'lock:every', 1)[0]!)).toMatchObject({ node: addressOf(masters[1]!) });
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    for (const m of masters) expect(metrics).toContain(`lockscope_redis_up{target="default",node="${addressOf(m)}"} 1`);
  });

  it('follows each master\'s own keyspace notifications: taken, renewed, released, expired on time', async () => {
    for (const m of cluster.masters()) {
      const [held, short] = keysOn(cluster, m, `lock:feed:${m.port}`, 2) as [string, string];
      await cluster.client.set(held, 'w1', 'PX', 30_000);
      await until(held, (v) => v.state === 'held' && v.node === addressOf(m), 'taken');
      await cluster.client.pexpire(held, 60_000);
      await until(held, (v) => v.renewals === 1, 'renewed');
      await cluster.client.del(held);
      await until(held, (v) => v.state === 'released', 'released');
      await cluster.client.set(short, 'w2', 'PX', 400);
      const deadline = (await until(short, () => true, 'taken')).deadline!;
      await until(short, (v) => v.state === 'expired', 'expired', 3000);
      expect(Date.now() - deadline).toBeLessThan(500);
    }
  });

  it('force-releases, sets TTLs and wakes waiters for locks on every master, through the cluster client', async () => {
    const [a, b, c] = cluster.masters() as [ClusterNode, ClusterNode, ClusterNode];
    // A plain lock and a lock without TTL on each master.
    for (const m of [a, b, c]) {
      const [plain, stuck] = keysOn(cluster, m, `lock:admin:${m.port}`, 2) as [string, string];
      await cluster.client.set(plain, 'worker-1', 'PX', 60_000);
      await cluster.client.set(stuck, 'worker-2');
      await until(plain, (v) => v.node === addressOf(m), 'tracked');
      await until(stuck, (v) => v.state === 'no-ttl', 'tracked');
      expect(data(await release({ key: plain, expectedOwner: 'worker-1', reason: 'cluster test' }))).toMatchObject({ result: 'released', via: 'lua' });
      expect(await cluster.client.exists(plain)).toBe(0);
      await until(plain, (v) => v.state === 'released', 'released');
      expect(data(await setTtl({ key: stuck, expectedOwner: 'worker-2', ttlMs: 30_000, reason: 'cluster test' }))).toMatchObject({ result: 'ttl-set' });
      expect(await cluster.client.pttl(stuck)).toBeGreaterThan(25_000);
    }

    // Wake-ups. Redisson on a cluster subscribes to sharded channels (its shardedSubscriptionMode AUTO, Redis 7+): its
    // waiters SSUBSCRIBE on the master of the channel's slot (the lock's own), so lockscope wakes them with SPUBLISH.
    // Spring's channel is plain pub/sub: published on the lock's master, it reaches a waiter on any node.
    const waiter = new Redis(cluster.nodes.find((n) => n.role === 'replica')!.url);
    const shardWaiters: Redis[] = [];
    try {
      const messages: string[][] = [];
      waiter.on('pmessage', (_p: string, channel: string, message: string) => messages.push([channel, message]));
      await waiter.psubscribe('redisson_lock__channel:*', 'jobs:locks-channel:*');
      const shardWaiter = async (channel: string) => {
        const s = new Redis(cluster.masterOf(channel).url);
        shardWaiters.push(s);
        s.on('smessage', (ch: string, message: string) => messages.push([`sharded ${ch}`, message]));
        await s.ssubscribe(channel);
      };

      const redisson = keysOn(cluster, a, 'lock:redisson', 1)[0]!;
      await shardWaiter(`redisson_lock__channel:{${redisson}}`);
      const field = `${randomUUID()}:57`;
      await cluster.client.hset(redisson, field, '1');
      await cluster.client.pexpire(redisson, 30_000);
      await until(redisson, (v) => v.library === 'redisson', 'tracked');
      expect(data(await release({ key: redisson, expectedOwner: field, reason: 'wake' }))).toMatchObject({ result: 'released', woke: 'redisson-channel' });
      await waitFor(() => messages.find(([ch]) => ch === `sharded redisson_lock__channel:{${redisson}}`), 'the Redisson waiter to be woken');

      // A fair lock: its queue and timeouts hash with the lock (Redisson's {name}), so one script does it all.
      const fair = keysOn(cluster, b, 'lock:fair', 1)[0]!;
      const [holder, next] = [`${randomUUID()}:1`, `${randomUUID()}:8`];
      await shardWaiter(`redisson_lock__channel:{${fair}}:${next}`);
      await cluster.client.hset(fair, holder, '1');
      await cluster.client.pexpire(fair, 30_000);
      await cluster.client.rpush(`redisson_lock_queue:{${fair}}`, next);
      await cluster.client.zadd(`redisson_lock_timeout:{${fair}}`, Date.now() + 300_000, next);
      await until(fair, (v) => v.library === 'redisson', 'tracked');
      expect(data(await release({ key: fair, expectedOwner: holder, reason: 'wake' }))).toMatchObject({ result: 'released', woke: 'redisson-fair-queue' });
      await waitFor(() => messages.find(([ch]) => ch === `sharded redisson_lock__channel:{${fair}}:${next}`), 'the first fair waiter to be woken');
      // Sharded, so not on the plain channels.
      expect(messages.filter(([ch]) => ch?.startsWith('redisson_lock__channel:'))).toEqual([]);

      const spring = keysOn(cluster, c, 'jobs:locks:nightly', 1)[0]!;
      const clientId = randomUUID();
      await cluster.client.set(spring, clientId, 'PX', 60_000);
      await until(spring, (v) => v.library === 'spring', 'tracked');
      expect(data(await release({ key: spring, expectedOwner: clientId, reason: 'wake' }))).toMatchObject({ result: 'released', woke: 'spring-channel' });
      await waitFor(() => messages.find(([ch, msg]) => ch === `jobs:locks-channel:${spring}` && msg === spring), 'the Spring waiter to be woken');
    } finally {
      waiter.disconnect();
      for (const s of shardWaiters) s.disconnect();
    }
    // python-redis-lock: its signal list shares the lock's slot only under a hash tag; without one, released unwoken.
    const tagged = 'lock:{nightly-report}';
    const signal = 'lock-signal:{nightly-report}';
    const untagged = 'lock:weekly-report';
    for (const key of [tagged, untagged]) await cluster.client.set(key, randomBytes(16), 'EX', 60);
    for (const key of [tagged, untagged]) await until(key, (v) => v.library === 'python-redis-lock', 'tracked');
    const blocked = new Redis(cluster.masterOf(signal).url);
    try {
      const woken = blocked.blpop(signal, 5);
      await waitFor(async () => /cmd=blpop/.test((await cluster.nodeClient(cluster.masterOf(signal).port).client('LIST')) as string), 'the waiter to block');
      const owner = Buffer.from(view(tagged)!.owner!.base64, 'base64');
      expect(data(await release({ key: tagged, expectedOwnerBase64: owner.toString('base64'), reason: 'wake' }))).toMatchObject({ result: 'released', woke: 'python-redis-lock-signal' });
      expect(await woken).toEqual([signal, '1']);
    } finally {
      blocked.disconnect();
    }
    const other = view(untagged)!.owner!.base64;
    expect(data(await release({ key: untagged, expectedOwnerBase64: other, reason: 'no tag' }))).toMatchObject({ result: 'released', woke: null });
    expect(await cluster.client.exists(untagged)).toBe(0);

    // The audit stream lives in the cluster too (its key's own slot).
    const entries = await auditEntries(app.url, TOKEN, 50);
    expect(entries.filter((e) => e.action === 'release' && e.result === 'released').length).toBeGreaterThanOrEqual(6);
  });

  it('a slot migrated half-way with locks in it: nothing shows released or expired, moved locks show their new node, finish hands them over', async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `lock:{mig}:${i}`);
    const slot = keySlot(Buffer.from(keys[0]!));
    const from = cluster.nodeForSlot(slot);
    const to = cluster.masters().find((m) => m.id !== from.id)!;
    for (const k of keys) await cluster.client.set(k, `owner-${k}`, 'PX', 120_000);
    for (const k of keys) await until(k, (v) => v.node === addressOf(from), 'on the source');
    const changes = recordChanges(app);

    const migration = await timed('slot migration to half-way', () => cluster.migrateSlot(slot, to.port, { pauseAfter: 'some-keys' }));
    const moved = migration.moved.map((k) => k.toString());
    const stayed = migration.remaining.map((k) => k.toString());
    // MIGRATE's `del` on the source is heard there; the source answers ASK, and the importing master reads them.
    for (const k of moved) await until(k, (v) => v.node === addressOf(to), 'read where it moved');
    // A full resync reads the slot's keys together: TRYAGAIN (some here, some moved), then one by one.
    await app.target.resync();
    for (const k of moved) expect(view(k)).toMatchObject({ state: 'held', node: addressOf(to), slot });
    for (const k of stayed) expect(view(k)).toMatchObject({ state: 'held', node: addressOf(from), slot });

    // Real changes still show: a moved lock renewed and one released through the cluster client (it follows ASK).
    await cluster.client.pexpire(moved[0]!, 180_000);
    await until(moved[0]!, (v) => v.renewals === 1, 'renewed on the importing master');
    await cluster.client.del(moved[1]!);
    await until(moved[1]!, (v) => v.state === 'released', 'released on the importing master');
    await cluster.client.del(stayed[0]!);
    await until(stayed[0]!, (v) => v.state === 'released', 'released on the source');

    await timed('slot migration finish', () => migration.finish());
    // The slot map is read again within 5 s (at once on the next MOVED).
    for (const k of keys.filter((k) => k !== moved[1] && k !== stayed[0])) await until(k, (v) => v.node === addressOf(to) && v.state === 'held', 'handed over', 10_000);
    await waitFor(() => nodeStatus(to)?.slots?.some(([a, b]) => slot >= a && slot <= b), 'the new owner to show the slot', 10_000);
    changes.stop();
    const ended = changes.views.filter((v) => v.endedAt !== null && v.slot === slot).map((v) => `${Buffer.from(v.id, 'base64').toString()} ${v.state}`);
    expect(ended).toEqual([`${moved[1]} released`, `${stayed[0]} released`]);
  });

  it('a master added is watched at once; given a slot with locks it holds them; emptied, it turns replica and is no longer watched', async () => {
    const keys = ['lock:{added}:1', 'lock:{added}:2', 'lock:{added}:3'];
    for (const k of keys) await cluster.client.set(k, 'w', 'PX', 120_000);
    const slot = keySlot(Buffer.from(keys[0]!));
    const home = cluster.nodeForSlot(slot);
    for (const k of keys) await until(k, (v) => v.node === addressOf(home), 'tracked');
    const changes = recordChanges(app);

    const added = await timed('add a master', () => cluster.addNode());
    // Seen by the periodic slot-map read (every 5 s), with no slots yet.
    await waitFor(() => nodeStatus(added)?.synced, 'the new master to be watched', 10_000);
    expect(nodeStatus(added)).toMatchObject({ connection: 'ready', slots: [] });

    await timed('migrate a slot to the new master', () => cluster.migrateSlot(slot, added.port));
    for (const k of keys) await until(k, (v) => v.node === addressOf(added), 'on the new master', 10_000);
    // Back home: the new master hands over its last slot, turns into a replica, and lockscope stops watching it.
    await cluster.migrateSlot(slot, home.port);
    for (const k of keys) await until(k, (v) => v.node === addressOf(home), 'home again', 10_000);
    await waitFor(() => !nodeStatus(added), 'the emptied master to be dropped', 10_000);
    await cluster.removeNode(added.port);
    expect(app.target.status()).toMatchObject({ health: 'ok' });
    expect(app.target.status().nodes).toHaveLength(3);
    changes.stop();
    expect(changes.views.filter((v) => v.endedAt !== null)).toEqual([]);
  });

  it('a master killed: its node shows down, its shard\'s locks neither end nor move until its replica takes over; then they continue or end lost as the data says; other shards never blink', async () => {
    const [victim, ...others] = cluster.masters() as [ClusterNode, ...ClusterNode[]];
    const heir = cluster.replicasOf(victim.port)[0]!;
    const [keep, lost, short] = keysOn(cluster, victim, 'lock:failover', 3) as [string, string, string];
    await cluster.client.set(keep, 'survivor', 'PX', 120_000);
    // Asynchronous replication can lose a write in a failover: this one never reaches the replica, as if it had not
    // got there in time (a script's writes are replicated as effects, which it may turn off).
    await cluster.client.eval("redis.set_repl(redis.REPL_NONE) return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])", 1, lost, 'unlucky', 120_000);
    await cluster.client.set(short, 'brief', 'PX', 1500);
    for (const k of [keep, lost, short]) await until(k, (v) => v.node === addressOf(victim), 'tracked');
    const replica = cluster.nodeClient(heir.port);
    await replica.call('READONLY');
    await waitFor(async () => (await replica.exists(keep)) === 1, 'the replica to have the lock it got');
    expect(await replica.exists(lost)).toBe(0);
    const otherKeys = others.flatMap((m) => keysOn(cluster, m, 'lock:every', 5));
    const changes = recordChanges(app);

    const sawDown = waitFor(() => {
      const s = nodeStatus(victim);
      return s && s.connection !== 'ready' && s.lastError ? s : undefined;
    }, 'the killed master to show down', 10_000);
    const { newMaster, ms } = await timed('failover (SIGKILL → replica serving, every node agreeing)', () => cluster.failover(victim.port));
    expect(newMaster.id).toBe(heir.id);
    timings['failover reported by the rig'] = ms;
    await sawDown;
    await waitFor(() => app.target.lastRestart?.node === addressOf(heir) && app.target.lastRestart.lost !== null, 'the takeover check to settle', 10_000);
    expect(app.target.lastRestart).toMatchObject({ node: addressOf(heir), lost: 1 });
    expect(view(keep)).toMatchObject({ state: 'held', node: addressOf(heir), renewals: 0 });
    expect(view(lost)).toMatchObject({ state: 'lost' });
    // It expired while nobody could look: expired, at its deadline (never released, never lost).
    expect(view(short)).toMatchObject({ state: 'expired' });
    for (const k of [keep, lost, short]) expect(changes.of(k).filter((v) => v.endedAt !== null).length, k).toBeLessThanOrEqual(1);
    expect(changes.of(short).some((v) => v.state === 'released' || v.state === 'lost')).toBe(false);
    expect(changes.of(keep).every((v) => v.endedAt === null)).toBe(true);
    // The other shards: not one change.
    expect(changes.views.filter((v) => otherKeys.includes(Buffer.from(v.id, 'base64').toString()))).toEqual([]);

    // The failed master is no longer watched; the promoted replica has no notifications and lockscope may not set
    // them up: that shard polls, the others keep theirs.
    const status = app.target.status();
    expect(status.nodes.map((n) => n.address).sort()).toEqual([heir, ...others].map(addressOf).sort());
    expect(nodeStatus(heir)).toMatchObject({ connection: 'ready', feed: 'polling', slots: victim.slots });
    for (const m of others) expect(nodeStatus(m)).toMatchObject({ feed: 'notifications' });
    expect(status.health).toBe('ok');
    // Polling follows that shard: a release shows within POLL_MS.
    await cluster.client.del(keep);
    await until(keep, (v) => v.state === 'released', 'released (seen by polling)', 3000);

    // lockscope started now on the dead master's URL: shown down, as a server, until the node answers; back as a
    // replica it leads to the whole cluster.
    const late = await startTestApp(victim.url, {}, { configureNotifications: false, app: { version: 'late' } });
    try {
      expect(late.target.status()).toMatchObject({ kind: 'standalone', health: 'down' });
      const back = await timed('old master back (as a replica)', () => cluster.restartNode(victim.port));
      expect(back.role).toBe('replica');
      await waitFor(() => late.target.status().health === 'ok' && late.target.status().nodes.length === 3, 'the late app to follow the cluster', 10_000);
      expect(late.target.status().kind).toBe('cluster');
      expect(late.tracker.get(idOf(otherKeys[0]!))).toMatchObject({ state: 'held' });
    } finally {
      await late.close();
    }
    // The old master's return as a replica changes nothing here.
    expect(app.target.status().nodes).toHaveLength(3);
    changes.stop();
    expect(changes.views.filter((v) => otherKeys.includes(Buffer.from(v.id, 'base64').toString()))).toEqual([]);
  });

  it('a planned failover where lockscope may set notifications up: the promoted master gets them; nothing was lost, so nothing is suspect', async () => {
    // A lockscope of its own (not a replica of `app`'s deployment, which would follow `app` and configure nothing).
    const configuring = await startTestApp(cluster.nodes[0]!.url, {}, { configureNotifications: true, app: { replication: false } });
    try {
      const master = cluster.masters().find((m) => nodeStatus(m)?.feed === 'notifications')!;
      const replica = cluster.replicasOf(master.port)[0]!;
      const key = keysOn(cluster, master, 'lock:planned', 1)[0]!;
      await cluster.client.set(key, 'steady', 'PX', 120_000);
      await waitFor(() => configuring.tracker.get(idOf(key))?.node === addressOf(master), 'tracked');
      await until(key, (v) => v.node === addressOf(master), 'tracked');
      expect(((await cluster.nodeClient(replica.port).config('GET', 'notify-keyspace-events')) as string[])[1]).toBe('');
      const restarts = [app.target.lastRestart, configuring.target.lastRestart];
      await timed('manual failover', () => cluster.manualFailover(replica.port));
      const promoted = () => configuring.target.status().nodes.find((n) => n.address === addressOf(replica));
      // The old master, now a replica, still raises the events it replicates; probed there, the key answers MOVED,
      // and lockscope reads the slot map again rather than wait for its next regular read.
      await cluster.client.pexpire(key, 180_000);
      await waitFor(() => promoted()?.feed === 'notifications', 'the promoted master to be set up', 10_000);
      expect(((await cluster.nodeClient(replica.port).config('GET', 'notify-keyspace-events')) as string[])[1]).toMatch(/K/);
      for (const a of [app, configuring]) await waitFor(() => a.tracker.get(idOf(key))?.node === addressOf(replica), 'the lock on the promoted master', 10_000);
      await cluster.client.del(key);
      await waitFor(() => configuring.tracker.get(idOf(key))?.state === 'released', 'released', 3000);
      await until(key, (v) => v.state === 'released', 'released', 5000);
      expect([app.target.lastRestart, configuring.target.lastRestart]).toEqual(restarts);
    } finally {
      await configuring.close();
    }
  });

  it('the whole cluster unreachable: every node shows down and no lock is shown released', async () => {
    const held = app.tracker.views().filter((v) => v.endedAt === null).map((v) => v.id);
    expect(held.length).toBeGreaterThan(10);
    const changes = recordChanges(app);
    await cluster.stop();
    await waitFor(() => app.target.status().health === 'down', 'the target to be down', 10_000);
    expect(app.target.status().nodes.every((n) => n.connection !== 'ready')).toBe(true);
    changes.stop();
    expect(changes.views.filter((v) => v.endedAt !== null)).toEqual([]);
    for (const id of held) expect(app.tracker.get(id)?.endedAt).toBeNull();
  });
});
