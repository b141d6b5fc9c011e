import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Server as SocketServer } from 'socket.io';
import { io as connectSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aclPresets, createAclUser, type AclPreset, type TestAclUser } from './support/acl';
import { startTestCluster, type TestCluster } from './support/cluster';
import { startNginx, type TestNginx } from './support/nginx';
import { canListen } from './support/ports';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';
import { startTestSentinel, type TestSentinel } from './support/sentinel';
import { startStallProxy } from './support/stall-proxy';
import { suiteTimings } from './support/timings';
import { startTestTlsRedis, type TestTlsRedis } from './support/tls';

/** Bring-up and failover times, printed at the end of the file. */
const { timings, timed } = suiteTimings('topology rig timings');

/** Every port of a stopped helper is free again: nothing it started is still running. */
async function expectAllFree(ports: number[]): Promise<void> {
  await waitFor(async () => (await Promise.all(ports.map(canListen))).every(Boolean), `ports ${ports.join(', ')} to be free`, 10_000);
}

const errorOf = (p: Promise<unknown>) => p.then(() => 'no error', (e: Error) => e.message);
const notifyEvents = async (client: Redis) => ((await client.config('GET', 'notify-keyspace-events')) as string[])[1];

describe('cluster rig: 3 masters + 3 replicas', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await timed('cluster start (6 nodes, create, settle)', () => startTestCluster());
    timings['cluster redis-cli create + settle'] = cluster.createMs;
  }, 60_000);
  afterAll(async () => {
    const ports = cluster?.nodes.map((n) => n.port) ?? [];
    await cluster?.stop();
    await expectAllFree(ports);
  }, 30_000);

  it('spreads the slots over three masters, each with one replica, on ports whose bus port is free too', () => {
    expect(cluster.masters()).toHaveLength(3);
    expect(cluster.replicas()).toHaveLength(3);
    expect(cluster.masters().flatMap((m) => m.slots).reduce((n, [a, b]) => n + b - a + 1, 0)).toBe(16384);
    for (const m of cluster.masters()) expect(cluster.replicasOf(m.port)).toHaveLength(1);
    for (const n of cluster.nodes) expect(n.port).toBeLessThan(55000);
  });

  it('writes through the Cluster client to the master that owns the slot, and the replica gets it', async () => {
    await cluster.client.set('lock:rig:a', 'owner-a', 'PX', 60_000);
    const master = cluster.masterOf('lock:rig:a');
    expect(await cluster.nodeClient(master.port).get('lock:rig:a')).toBe('owner-a');
    const replica = cluster.nodeClient(cluster.replicasOf(master.port)[0]!.port);
    await replica.call('READONLY');
    await waitFor(async () => (await replica.get('lock:rig:a')) === 'owner-a', 'the replica to have the key');
    // Another master answers MOVED for it.
    const other = cluster.masters().find((m) => m.id !== master.id)!;
    expect(await errorOf(cluster.nodeClient(other.port).get('lock:rig:a'))).toMatch(new RegExp(`^MOVED \\d+ 127\\.0\\.0\\.1:${master.port}$`));
  });

  it('migrates a slot half-way: moved keys answer ASK (EVALSHA too), mixed multi-key calls TRYAGAIN; finish() hands the slot over', async () => {
    const keys = ['{rig}1', '{rig}2', '{rig}3', '{rig}4'];
    for (const k of keys) await cluster.client.set(k, `v${k}`, 'PX', 60_000);
    const from = cluster.masterOf('{rig}1');
    const to = cluster.masters().find((m) => m.id !== from.id)!;
    const slot = Number(await cluster.client.call('CLUSTER', 'KEYSLOT', '{rig}1'));
    const migration = await timed('slot migration to half-way', () => cluster.migrateSlot(slot, to.port, { pauseAfter: 'some-keys' }));
    expect(migration.moved).toHaveLength(2);
    expect(migration.remaining).toHaveLength(2);

    const src = cluster.nodeClient(from.port);
    const moved = migration.moved[0]!.toString();
    const stayed = migration.remaining[0]!.toString();
    const ask = new RegExp(`^ASK ${slot} 127\\.0\\.0\\.1:${to.port}$`);
    expect(await errorOf(src.get(moved))).toMatch(ask);
    expect(await src.get(stayed)).toBe(`v${stayed}`);
    const sha = (await src.script('LOAD', "return redis.call('PTTL', KEYS[1])")) as string;
    expect(await errorOf(src.evalsha(sha, 1, moved))).toMatch(ask);
    expect(await src.evalsha(sha, 1, stayed)).toBeGreaterThan(0);
    expect(await errorOf(src.mget(moved, stayed))).toMatch(/^TRYAGAIN/);
    expect(await errorOf(src.eval("return redis.call('EXISTS', KEYS[1], KEYS[2])", 2, moved, stayed))).toMatch(/^TRYAGAIN/);
    // The target refuses it without ASKING; the Cluster client follows the ASK by itself.
    expect(await errorOf(cluster.nodeClient(to.port).get(moved))).toMatch(/^MOVED/);
    expect(await cluster.client.get(moved)).toBe(`v${moved}`);
    expect(cluster.nodeForSlot(slot).port).toBe(from.port);

    await timed('slot migration finish', () => migration.finish());
    expect(cluster.nodeForSlot(slot).port).toBe(to.port);
    expect(await errorOf(src.get(stayed))).toMatch(new RegExp(`^MOVED ${slot} 127\\.0\\.0\\.1:${to.port}$`));
    for (const k of keys) expect(await cluster.client.get(k)).toBe(`v${k}`);
  });

  it('fails a master over: SIGKILL, its replica serves its slots, the key survives, and the old master returns as a replica', async () => {
    await cluster.client.set('lock:rig:f', 'owner-f', 'PX', 60_000);
    const master = cluster.masterOf('lock:rig:f');
    const replica = cluster.replicasOf(master.port)[0]!;
    expect(await cluster.nodeClient(master.port).call('WAIT', 1, 2000)).toBe(1);
    const { newMaster, ms } = await cluster.failover(master.port);
    timings['cluster failover (SIGKILL to settled)'] = ms;
    expect(newMaster.port).toBe(replica.port);
    expect(cluster.masterOf('lock:rig:f').port).toBe(replica.port);
    expect(cluster.node(master.port)).toMatchObject({ failed: true, slots: [] });
    expect(await cluster.client.get('lock:rig:f')).toBe('owner-f');
    // notify-keyspace-events is per process, not replicated: this replica was started with it, so it keeps it.
    expect(await notifyEvents(cluster.nodeClient(replica.port))).toMatch(/K/);

    const back = await timed('cluster restart of the killed master', () => cluster.restartNode(master.port));
    expect(back).toMatchObject({ role: 'replica', masterId: newMaster.id, failed: false });
    const { ms: manual } = await cluster.manualFailover(master.port);
    timings['cluster manual failover (CLUSTER FAILOVER)'] = manual;
    expect(cluster.masterOf('lock:rig:f').port).toBe(master.port);
    expect(await cluster.client.get('lock:rig:f')).toBe('owner-f');
  }, 60_000);

  it('adds an empty master with CLUSTER MEET, gives it a slot, empties it and removes it', async () => {
    const added = await timed('cluster addNode', () => cluster.addNode());
    expect(added).toMatchObject({ role: 'master', slots: [] });
    await cluster.client.set('{add}x', 'x');
    const slot = Number(await cluster.client.call('CLUSTER', 'KEYSLOT', '{add}x'));
    const home = cluster.nodeForSlot(slot).port;
    await cluster.migrateSlot(slot, added.port);
    expect(cluster.node(added.port).slots).toEqual([[slot, slot]]);
    expect(await cluster.client.get('{add}x')).toBe('x');
    await expect(cluster.removeNode(added.port)).rejects.toThrow(/still serves slots/);
    await cluster.migrateSlot(slot, home);
    await timed('cluster removeNode', () => cluster.removeNode(added.port));
    expect(cluster.nodes.some((n) => n.port === added.port)).toBe(false);
    expect(await cluster.client.get('{add}x')).toBe('x');
  }, 30_000);

  it('a replica started without notifications stays without them (option replicaNotifications)', async () => {
    const quiet = await startTestCluster({ masters: 3, replicasPerMaster: 1, replicaNotifications: false });
    try {
      for (const r of quiet.replicas()) expect(await notifyEvents(quiet.nodeClient(r.port))).toBe('');
      for (const m of quiet.masters()) expect(await notifyEvents(quiet.nodeClient(m.port))).toMatch(/K/);
    } finally {
      await quiet.stop();
    }
  }, 60_000);
});

describe('sentinel rig: master, replica, 3 sentinels, passwords on both', () => {
  let sentinel: TestSentinel;

  beforeAll(async () => {
    sentinel = await timed('sentinel start', () => startTestSentinel({ masterPassword: 'master-secret', sentinelPassword: 'sentinel-secret' }));
  }, 60_000);
  afterAll(async () => {
    const ports = sentinel ? [sentinel.master.port, sentinel.replica.port, ...sentinel.sentinels.map((s) => s.port)].filter(Boolean) : [];
    await sentinel?.stop();
    await expectAllFree(ports);
  }, 30_000);

  it('needs the passwords, and the replica has no keyspace notifications', async () => {
    expect(await sentinel.masterPorts()).toEqual([sentinel.master.port, sentinel.master.port, sentinel.master.port]);
    const anonymous = new Redis({ port: sentinel.sentinels[0]!.port, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0 });
    anonymous.on('error', () => {});
    await anonymous.connect();
    expect(await errorOf(anonymous.call('SENTINEL', 'get-master-addr-by-name', sentinel.masterName))).toMatch(/NOAUTH/);
    anonymous.disconnect();
    expect(await notifyEvents(sentinel.nodeClient(sentinel.master.port))).toMatch(/K/);
    expect(await notifyEvents(sentinel.nodeClient(sentinel.replica.port))).toBe('');
  });

  it('fails over: the sentinels agree on the replica, which then has no notifications; the old master comes back as its replica', async () => {
    await sentinel.client.set('lock:rig:s', 'owner-s', 'PX', 60_000);
    const { port: oldMaster } = sentinel.master;
    const { port: heir } = sentinel.replica;
    await sentinel.nodeClient(oldMaster).call('WAIT', 1, 2000);
    const { newMaster, ms } = await sentinel.failover();
    timings['sentinel failover (SIGKILL to all sentinels agreeing)'] = ms;
    expect(newMaster.port).toBe(heir);
    expect(await sentinel.masterPorts()).toEqual([heir, heir, heir]);
    expect(await notifyEvents(sentinel.nodeClient(heir))).toBe('');
    await waitFor(async () => (await sentinel.client.get('lock:rig:s').catch(() => null)) === 'owner-s', 'the sentinel client to read from the new master', 10_000);

    const { ms: back } = await sentinel.restartOld();
    timings['sentinel old master back as replica'] = back;
    expect(sentinel.replica.port).toBe(oldMaster);
    expect(await sentinel.nodeClient(oldMaster).info('replication')).toMatch(new RegExp(`role:slave[\\s\\S]*master_port:${heir}`));

    // And back again, this time restarting the killed master straight as a replica.
    expect((await sentinel.failover()).newMaster.port).toBe(oldMaster);
    await sentinel.restartOld({ asReplica: true });
    expect(sentinel.replica.port).toBe(heir);
    expect(await sentinel.nodeClient(heir).info('replication')).toMatch(new RegExp(`role:slave[\\s\\S]*master_port:${oldMaster}`));
    expect(await sentinel.client.get('lock:rig:s')).toBe('owner-s');
  }, 60_000);
});

describe('TLS rig', () => {
  let tls: TestTlsRedis;
  beforeAll(async () => {
    tls = await timed('TLS certificates + server', () => startTestTlsRedis({ authClients: 'yes' }));
  });
  afterAll(async () => {
    const port = tls?.port;
    await tls?.stop();
    if (port) await expectAllFree([port]);
  });

  const refused = async (t: TestTlsRedis, tlsOptions: object | undefined) => {
    const c = t.connect({ tls: tlsOptions as never, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    return errorOf(c.connect().then(() => c.ping()));
  };

  it('serves rediss:// to a client with the CA and a client certificate, and checks the server name', async () => {
    expect(tls.url).toBe(`rediss://127.0.0.1:${tls.port}`);
    expect(await tls.client.ping()).toBe('PONG');
    const byUrl = new Redis(tls.url, { tls: tls.tls, maxRetriesPerRequest: 0 });
    expect(await byUrl.ping()).toBe('PONG');
    byUrl.disconnect();
    expect(await refused(tls, { ...tls.tls, servername: 'example.com' })).not.toBe('no error');
  });

  it('refuses a client without a certificate, with a stranger certificate, or without TLS, when tls-auth-clients is yes', async () => {
    expect(await refused(tls, { ca: tls.tls.ca })).not.toBe('no error');
    const stranger = { ca: tls.tls.ca, cert: readFileSync(tls.certs.strangerCert, 'utf8'), key: readFileSync(tls.certs.strangerKey, 'utf8') };
    expect(await refused(tls, stranger)).not.toBe('no error');
    expect(await refused(tls, undefined)).not.toBe('no error');
  });

  it('accepts a client without a certificate when tls-auth-clients is optional', async () => {
    const optional = await startTestTlsRedis({ authClients: 'optional' });
    try {
      const c = optional.connect({ tls: { ca: optional.tls.ca } });
      expect(await c.ping()).toBe('PONG');
    } finally {
      await optional.stop();
    }
  });
});

describe('ACL rig: each preset denies what it names', () => {
  let redis: TestRedis;
  const users: TestAclUser[] = [];
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    for (const u of users) await u.remove();
    await redis?.stop();
  });

  /** What lockscope sends, and what each preset must refuse of it. */
  const probes: Record<string, (string | number)[]> = {
    scan: ['SCAN', 0, 'MATCH', '*lock*', 'COUNT', 500],
    eval: ['EVAL', 'return 1', 0],
    evalsha: ['EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', 0],
    script: ['SCRIPT', 'LOAD', 'return 1'],
    info: ['INFO', 'server'],
    'config get': ['CONFIG', 'GET', 'notify-keyspace-events'],
    'config set': ['CONFIG', 'SET', 'notify-keyspace-events', 'Kg$xhe'],
    psubscribe: ['PSUBSCRIBE', '__keyspace@0__:*lock*'],
    'client setname': ['CLIENT', 'SETNAME', 'lockscope'],
    'client list': ['CLIENT', 'LIST'],
    keys: ['KEYS', '*lock*'],
    role: ['ROLE'],
    'cluster nodes': ['CLUSTER', 'NODES'],
    pttl: ['PTTL', 'lock:x'],
    del: ['DEL', 'lock:x'],
  };
  const denied: Record<AclPreset, string[]> = {
    fullAccess: [],
    noScan: ['scan'],
    noEval: ['eval', 'evalsha', 'script'],
    noInfo: ['info'],
    noConfig: ['config get', 'config set'],
    noPsubscribe: ['psubscribe'],
    noChannels: ['psubscribe'],
    noClient: ['client setname', 'client list'],
    managedLike: ['info', 'config get', 'config set', 'client list', 'keys', 'role'],
  };

  it.each(Object.keys(aclPresets) as AclPreset[])('%s', async (preset) => {
    const user = await createAclUser(redis.client, `rig-${preset}`, `pw-${preset}`, aclPresets[preset]);
    users.push(user);
    for (const [name, command] of Object.entries(probes)) {
      const reply = await user.dryRun(...command);
      if (denied[preset].includes(name)) expect(reply, `${preset} must deny ${name}`).toMatch(/no permissions/);
      else expect(reply, `${preset} must allow ${name}`).toBe('OK');
    }
  });

  it('really refuses on a live connection as the user (NOPERM), and remove() deletes the user', async () => {
    const managed = await createAclUser(redis.client, 'rig-live-managed', 'pw1', aclPresets.managedLike);
    const c = managed.connect({ enableReadyCheck: false }); // ioredis's ready check sends INFO, which this user may not
    expect(await c.set('lock:acl', 'me')).toBe('OK');
    expect(await errorOf(c.info())).toMatch(/^NOPERM/);
    const noChannels = await createAclUser(redis.client, 'rig-live-nochan', 'pw2', aclPresets.noChannels);
    expect(await errorOf(noChannels.connect().psubscribe('__keyspace@0__:*'))).toMatch(/^NOPERM/);
    expect(managed.url).toBe(`redis://rig-live-managed:pw1@127.0.0.1:${redis.port}`);
    await managed.remove();
    await noChannels.remove();
    expect(await redis.client.call('ACL', 'USERS')).not.toContain('rig-live-managed');
  });

  it('@dangerous on this server covers INFO, CONFIG, CLIENT LIST, KEYS and ROLE but not SCAN, EVAL, PSUBSCRIBE, CLIENT SETNAME, CLUSTER NODES', async () => {
    const dangerous = (await redis.client.call('ACL', 'CAT', 'dangerous')) as string[];
    for (const c of ['info', 'config|get', 'config|set', 'client|list', 'client|kill', 'keys', 'role']) expect(dangerous).toContain(c);
    for (const c of ['scan', 'eval', 'evalsha', 'psubscribe', 'client|setname', 'client|id', 'cluster|nodes', 'cluster|slots', 'type', 'pttl']) expect(dangerous).not.toContain(c);
    expect(await redis.client.config('GET', 'acl-pubsub-default')).toEqual(['acl-pubsub-default', 'resetchannels']);
  });
});

describe('nginx rig: a reverse proxy with WebSocket upgrade over two upstreams', () => {
  const upstreams: { server: Server; io: SocketServer; name: string; upgrades: IncomingHttpHeaders[] }[] = [];
  let nginx: TestNginx;

  beforeAll(async () => {
    for (const name of ['one', 'two']) {
      const upgrades: IncomingHttpHeaders[] = [];
      const server = createServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ name, url: req.url, headers: req.headers }));
      });
      const io = new SocketServer(server, { path: '/ops/locks/socket.io' });
      io.on('connection', (socket) => socket.on('whoami', (ack: (n: string) => void) => ack(name)));
      server.on('upgrade', (req: { headers: IncomingHttpHeaders }) => upgrades.push(req.headers));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      upstreams.push({ server, io, name, upgrades });
    }
    const hosts = upstreams.map((u) => `127.0.0.1:${(u.server.address() as AddressInfo).port}`);
    nginx = await timed('nginx start', () => startNginx({ upstreams: hosts, locations: [{ path: '/ops/locks/' }] }));
  });
  afterAll(async () => {
    const port = nginx?.port;
    await nginx?.stop();
    if (port) await expectAllFree([port]);
    for (const u of upstreams) {
      await u.io.close();
      u.server.closeAllConnections();
    }
  });

  it('proxies HTTP under the sub-path, round-robin, with the forwarding headers', async () => {
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push((await (await fetch(`${nginx.url}/ops/locks/api/x?i=${i}`)).json()) as { name: string; url: string; headers: Record<string, string> });
    expect(new Set(replies.map((r) => r.name))).toEqual(new Set(['one', 'two']));
    expect(replies[0]!.url).toBe('/ops/locks/api/x?i=0');
    expect(replies[0]!.headers).toMatchObject({ host: '127.0.0.1', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http', connection: 'close' });
    expect((await fetch(`${nginx.url}/elsewhere`)).status).toBe(404);
    const bare = await fetch(`${nginx.url}/ops/locks`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toMatch(/\/ops\/locks\/$/);
    expect(nginx.accessLog()).toContain('GET /ops/locks/api/x?i=3');
  });

  it('upgrades a Socket.IO WebSocket through it', async () => {
    const socket = connectSocket(nginx.url, { path: '/ops/locks/socket.io', transports: ['websocket'], reconnection: false });
    try {
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
      expect(socket.io.engine.transport.name).toBe('websocket');
      expect(['one', 'two']).toContain(await socket.timeout(5000).emitWithAck('whoami'));
      const [upgrade] = upstreams.flatMap((u) => u.upgrades);
      expect(upgrade).toMatchObject({ upgrade: 'websocket', connection: 'upgrade', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http' });
    } finally {
      socket.disconnect();
    }
  });
});

describe('stall proxy rig', () => {
  it('partitions a client from Redis without closing anything, resumes in order, cuts, and spreads connections round-robin', async () => {
    const a = await startTestRedis();
    const b = await startTestRedis();
    const proxy = await startStallProxy([a.url, b.url]);
    const clients: Redis[] = [];
    const client = () => {
      const c = new Redis(proxy.url, { maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      clients.push(c);
      return c;
    };
    try {
      const first = client();
      const second = client();
      const portOf = async (c: Redis) => /tcp_port:(\d+)/.exec(await c.info('server'))?.[1];
      expect(new Set([await portOf(first), await portOf(second)])).toEqual(new Set([String(a.port), String(b.port)]));

      proxy.pause();
      const pending = first.set('lock:stall', 'x').then(() => Date.now());
      const newcomer = client().ping().then(() => Date.now());
      await new Promise((r) => setTimeout(r, 400));
      expect(first.status).toBe('ready');
      const resumedAt = Date.now();
      proxy.resume();
      expect(await pending).toBeGreaterThanOrEqual(resumedAt);
      expect(await newcomer).toBeGreaterThanOrEqual(resumedAt);
      expect(await first.get('lock:stall')).toBe('x');

      const closed = new Promise((r) => first.once('close', r));
      proxy.cutAll();
      await closed;
      expect(await first.ping()).toBe('PONG'); // reconnected through the proxy (to the next Redis in turn)
    } finally {
      for (const c of clients) c.disconnect();
      await proxy.close();
      await a.stop();
      await b.stop();
    }
  });
});
