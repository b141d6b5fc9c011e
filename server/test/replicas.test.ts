import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { io as connectClient } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../shared/admin';
import type { LockView } from '../../shared/locks';
import type { SimState, SimStats } from '../../shared/simulator';
import type { ReplicationStatus } from '../../shared/status';
import type { ProbedKey } from '../src/targets/node/probe';
import { api, auditEntries, b64, data } from './support/admin-http';
import { startTestApp, type LiveClient, type TestApp, type TestSocket } from './support/app';
import { createAclUser } from './support/acl';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';
import { startStallProxy } from './support/stall-proxy';
import { startTestCluster, type TestCluster } from './support/cluster';
import { stringResult } from './support/probe-results';

const ADMIN = 'replicas-test-admin-token-0123456789';
const LEASE_MS = 1500;

/** What a browser compares between replicas: everything but the times each replica stamps on its own. */
const shown = (v: LockView | undefined) =>
  v && { key: v.key.text, owner: v.owner?.text, state: v.state, renewals: v.renewals, library: v.library, deadline: v.deadline, acquiredAt: v.acquiredAt };

describe('several lockscope replicas act as one (real Redis, in-process replicas)', () => {
  let redis: TestRedis;
  const apps: TestApp[] = [];

  const start = async (name: string, env: Record<string, string> = {}, url = redis.url) => {
    const app = await startTestApp(url, { LEASE_MS: String(LEASE_MS), ADMIN_TOKEN: ADMIN, ...env }, { app: { replicaName: name } });
    apps.push(app);
    return app;
  };
  const role = (a: TestApp): ReplicationStatus => a.target.status().replication!;
  const stop = async (a: TestApp) => {
    apps.splice(apps.indexOf(a), 1);
    await a.close();
  };

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await Promise.allSettled(apps.map((a) => a.close()));
    await redis?.stop();
  });

  describe('one elected inspector, every replica live', () => {
    let r1: TestApp;
    let r2: TestApp;
    let r3: TestApp;
    const clients: LiveClient[] = [];

    beforeAll(async () => {
      await redis.client.set('lock:before', 'owner-before', 'PX', 60_000);
      r1 = await start('r1');
      [r2, r3] = await Promise.all([start('r2'), start('r3')]);
      for (const a of [r1, r2, r3]) clients.push(await a.connect());
    });
    afterAll(async () => {
      for (const a of [r1, r2, r3]) if (apps.includes(a)) await stop(a);
    });

    it('the first replica leads (holder, term, renew time in its status); the others follow it, synced', async () => {
      expect(role(r1)).toMatchObject({ role: 'leader', self: 'r1', synced: true, store: 'the watched Redis', problem: null, lease: { holder: 'r1', ttlMs: LEASE_MS } });
      for (const f of [r2, r3]) {
        await waitFor(() => role(f).synced && role(f).role === 'follower', `${role(f).self} synced`);
        expect(role(f).lease).toMatchObject({ holder: 'r1', term: role(r1).lease!.term });
      }
      // The lease renews (a third of the lease) and followers hear it.
      const renewed = role(r1).lease!.renewedAt;
      await waitFor(() => role(r2).lease!.renewedAt > renewed, 'a renewal reaching a follower', 3000);
      // Followers show the leader's view of the node (not their own idle watchers).
      expect(r2.target.status().nodes[0]).toMatchObject({ connection: 'ready', feed: 'notifications', synced: true });
      expect(r2.target.status().health).toBe('ok');
    });

    it('only the leader subscribes and probes: one keyspace subscription, followers issue no probes', async () => {
      const list = (await redis.client.call('CLIENT', 'LIST')) as string;
      const subscribed = list.split('\n').filter((l) => /psub=[1-9]/.test(l));
      expect(subscribed).toHaveLength(1);
      const before = await probeCalls();
      await redis.client.set('lock:probe-count', 'p', 'PX', 60_000);
      await waitFor(() => clients.every((c) => c.byKey('lock:probe-count')), 'the lock everywhere');
      // One replica probes a change, not three.
      const probes = (await probeCalls()) - before;
      expect(probes).toBeGreaterThanOrEqual(1);
      expect(probes).toBeLessThanOrEqual(2);
    });

    it('a change reaches browsers on every replica within 1 s with the same owner, state and counters; histories match', async () => {
      const t0 = Date.now();
      await redis.client.set('lock:orders:1', 'a3f1c2d4e5f60718293a4b5c6d7e8f90', 'PX', 10_000);
      await waitFor(() => clients.every((c) => c.byKey('lock:orders:1')), 'the lock on every replica', 1000);
      expect(Date.now() - t0).toBeLessThan(1000);
      await redis.client.pexpire('lock:orders:1', 20_000); // a renewal
      await waitFor(() => clients.every((c) => c.byKey('lock:orders:1')?.renewals === 1), 'the renewal everywhere', 1000);
      const id = b64('lock:orders:1');
      for (const c of clients.slice(1)) expect(shown(c.byKey('lock:orders:1'))).toEqual(shown(clients[0]!.byKey('lock:orders:1')));
      // History requests are answered by each replica from its own copy: events and TTL samples alike.
      const histories = await Promise.all(clients.map((c) => c.socket.emitWithAck('lock:history', id)));
      for (const h of histories) expect(h).toEqual(histories[0]);
      expect(histories[0]!.ok && histories[0]!.data.events.map((e) => e.kind)).toEqual(['acquired', 'renewed']);
      expect(histories[0]!.ok && histories[0]!.data.ttl.length).toBeGreaterThanOrEqual(3);
      // Same counts in /metrics on any replica.
      const counts = await Promise.all([r1, r2, r3].map(async (a) => /lockscope_lock_renewals_total\{target="default",library="redlock"\} (\d+)/.exec(await (await fetch(`${a.url}/metrics`)).text())?.[1]));
      expect(new Set(counts).size).toBe(1);
    });

    it('a replica that joins late gets the table with its history', async () => {
      const r4 = await start('r4');
      await waitFor(() => role(r4).synced, 'r4 synced');
      const id = b64('lock:orders:1');
      expect(r4.tracker.history(id)).toEqual(r1.tracker.history(id));
      expect(shown(r4.tracker.get(id))).toEqual(shown(r1.tracker.get(id)));
      expect(r4.tracker.get(b64('lock:before'))?.owner?.text).toBe('owner-before');
      await stop(r4);
    });

    it('a follower\'s copy equals the leader\'s view: a semaphore\'s holders, binary and hidden-character keys and owners', async () => {
      const [h1, h2] = [randomUUID(), randomUUID()];
      await redis.client.zadd('semaphore:pool', Date.now(), h1, Date.now(), h2);
      await redis.client.pexpire('semaphore:pool', 30_000);
      const binary = Buffer.from([0x6c, 0x6f, 0x63, 0x6b, 0x3a, 0x00, 0xff]); // "lock:\0\xff"
      await redis.client.set(binary, Buffer.from([0xd2, 0x23, 0xef, 0x00]), 'PX', 60_000);
      await redis.client.set('lock:zw\u200bkey', 'own\u202eer', 'PX', 60_000);
      const ids = [b64('semaphore:pool'), binary.toString('base64'), b64('lock:zw\u200bkey')];
      const wire = (a: TestApp, id: string) => JSON.parse(JSON.stringify(a.tracker.get(id) ?? null)) as LockView | null;
      await waitFor(() => ids.every((id) => [r2, r3].every((f) => wire(f, id)?.owner !== undefined && wire(f, id) !== null)), 'the locks on every replica');
      expect(wire(r1, ids[0]!)).toMatchObject({ library: 'redis-semaphore', holders: { count: 2, expectedRenewalMs: 24_000 } });
      expect(wire(r1, ids[1]!)).toMatchObject({ key: { binary: true, escaped: true }, owner: { binary: true, escaped: true } });
      expect(wire(r1, ids[2]!)).toMatchObject({ key: { escaped: true }, owner: { escaped: true } });
      for (const id of ids) for (const f of [r2, r3]) expect(wire(f, id), `${role(f).self} ${id}`).toEqual(wire(r1, id));
      // A holder leaving reaches the followers as a change of the group, and the state derived from it is the same.
      await redis.client.zrem('semaphore:pool', h2);
      await waitFor(() => [r2, r3].every((f) => wire(f, ids[0]!)?.holders?.count === 1), 'one holder left everywhere');
      for (const f of [r2, r3]) expect(wire(f, ids[0]!)).toEqual(wire(r1, ids[0]!));
      await redis.client.del('semaphore:pool', binary, 'lock:zw\u200bkey');
    });

    it('a force-release sent to a follower runs once, is audited once, and every replica shows it force-released', async () => {
      await redis.client.set('lock:orders:2', 'owner-two', 'PX', 60_000);
      await waitFor(() => clients.every((c) => c.byKey('lock:orders:2')), 'the lock everywhere');
      const reply = await api(r3.url, '/api/locks/release', { token: ADMIN, json: { key: 'lock:orders:2', expectedOwner: 'owner-two', reason: 'replica test' } });
      expect(data(reply)).toMatchObject({ result: 'released' });
      await waitFor(() => clients.every((c) => c.byKey('lock:orders:2')?.state === 'released'), 'released everywhere');
      const id = b64('lock:orders:2');
      await waitFor(() => [r1, r2, r3].every((a) => a.tracker.history(id)?.events.at(-1)?.kind === 'force-released'), 'force-released in every history');
      const entries = (await auditEntries(r1.url, ADMIN, 50)).filter((e) => e.key?.text === 'lock:orders:2');
      expect(entries).toHaveLength(1);
      expect(await redis.client.exists('lock:orders:2')).toBe(0);
    });

    it('the leader leaving hands over at once; nothing held is shown ended, and the next change still reaches everyone', async () => {
      const heldBefore = clients[1]!.byKey('lock:orders:1');
      const gone = clients.shift()!;
      gone.socket.disconnect();
      const t0 = Date.now();
      await stop(r1);
      const next = await waitFor(() => [r2, r3].find((a) => role(a).role === 'leader'), 'a new leader', LEASE_MS + 1000);
      expect(Date.now() - t0).toBeLessThan(LEASE_MS + 1000);
      expect(role(next).lease!.term).toBeGreaterThan(1);
      for (const c of clients) {
        expect(c.byKey('lock:orders:1')?.state).toBe('held');
        expect(c.byKey('lock:before')?.state).toBe('held');
      }
      const other = next === r2 ? r3 : r2;
      await waitFor(() => role(other).role === 'follower' && role(other).lease?.holder === role(next).self, 'the other following the new leader');
      await redis.client.del('lock:orders:1');
      await waitFor(() => clients.every((c) => c.byKey('lock:orders:1')?.state === 'released'), 'the release everywhere');
      expect(clients[0]!.byKey('lock:orders:1')?.renewals).toBe(heldBefore?.renewals);
    });
  });

  it('a leader cut off from Redis steps down before its lease ends; its late writes are refused; no follower applies them', async () => {
    const env = { LOCK_PATTERNS: 'part:*' }; // a group of its own
    const proxy = await startStallProxy(redis.url);
    try {
      await redis.client.set('part:a', 'owner-a', 'PX', 60_000);
      const p = await start('p', env, proxy.url);
      const q = await start('q', env);
      const r = await start('r', env);
      await waitFor(() => role(q).synced && role(r).synced && role(p).role === 'leader', 'p leading, q and r synced');
      const keys = await redis.client.keys('lockscope:state:{default.*}:lease');
      let pLease = '';
      for (const k of keys) if ((await redis.client.hget(k, 'holder')) === 'p') pLease = k;
      expect(pLease).not.toBe('');
      const pTerm = role(p).lease!.term;

      const pLeaseObj = p.app.replication!.replicaOf('default')!.lease;
      const deposed = new Promise<{ validUntil: number; at: number }>((resolve) => pLeaseObj.once('deposed', (term) => resolve({ validUntil: term.validUntil, at: Date.now() })));
      proxy.pause();
      // No renewal of p's reaches Redis from now on: the lease ends in Redis at its last renewal plus the lease time.
      const endsAt = Number(await redis.client.hget(pLease, 'renewed_at')) + LEASE_MS;
      // While it still believes it leads, p publishes a change: it is held up in the partition.
      const fake: ProbedKey = { key: Buffer.from('part:ghost'), observedAt: Date.now(), result: stringResult('nobody', 60_000) };
      p.tracker.apply(fake);
      const { validUntil, at } = await deposed;
      // It stopped trusting its lease before Redis could hand it to anyone (same machine: one clock).
      expect(validUntil).toBeLessThan(endsAt);
      expect(at).toBeLessThan(endsAt + 100); // its timer fired on time (a loaded machine may delay it a little)
      await waitFor(() => role(p).role !== 'leader', 'p to step down', 500);

      const next = await waitFor(() => [q, r].find((a) => role(a).role === 'leader'), 'q or r to lead', LEASE_MS + 1500);
      expect(role(next).lease!.term).toBe(pTerm + 1);
      // The next term was granted only after p had let go.
      expect(role(next).lease!.acquiredAt).toBeGreaterThan(validUntil);
      const follower = next === q ? r : q;
      await waitFor(() => role(follower).lease?.term === pTerm + 1, 'the other to follow the new term');

      proxy.resume();
      const publisher = p.app.replication!.replicaOf('default')!.publisher;
      await waitFor(() => publisher.fencedWrites > 0, "p's held-up write to reach Redis and be refused", 5000);
      // Nothing of p's after the new term began, on any replica or in the stream.
      expect(follower.tracker.get(b64('part:ghost'))).toBeUndefined();
      expect(next.tracker.get(b64('part:ghost'))).toBeUndefined();
      const stream = (await redis.client.xrange(pLease.replace(/:lease$/, ':changes'), '-', '+')) as [string, string[]][];
      const terms = stream.map(([, f]) => Number(f[f.indexOf('term') + 1]));
      const firstNew = terms.indexOf(pTerm + 1);
      expect(firstNew).toBeGreaterThan(-1);
      expect(terms.slice(firstNew).every((t) => t === pTerm + 1)).toBe(true);
      // p comes back as a follower of the new leader, with its copy of the table.
      await waitFor(() => role(p).role === 'follower' && role(p).synced, 'p following again', 5000);
      expect(p.tracker.get(b64('part:ghost'))).toBeUndefined();
      expect(p.tracker.get(b64('part:a'))?.state).toBe('held');
      for (const a of [p, q, r]) await stop(a);
    } finally {
      proxy.resume();
      await proxy.close();
    }
  });

  describe('shared state: sessions, the audit feed and the simulator are the same on every replica', () => {
    const env = { LOCK_PATTERNS: 'shared:*', SIMULATOR: '1' }; // groups of their own
    let a: TestApp;
    let b: TestApp;
    const sockets: TestSocket[] = [];
    /** An admin browser's socket (token at the handshake) that records what it is sent. */
    const admin = (app: TestApp) => {
      const socket: TestSocket = connectClient(app.url, { transports: ['websocket'], reconnection: false, auth: { token: ADMIN } });
      sockets.push(socket);
      const seen = { audit: [] as AuditEntry[], states: [] as SimState[], stats: [] as SimStats[] };
      socket.on('admin:audit', (e) => seen.audit.push(e));
      socket.on('sim:state', (st) => seen.states.push(st));
      socket.on('sim:stats', (st) => seen.stats.push(st));
      return { socket, seen, connected: new Promise((r) => socket.once('connect', () => r(undefined))) };
    };

    beforeAll(async () => {
      a = await start('shared-a', env);
      b = await start('shared-b', env);
      await waitFor(() => role(b).synced, 'b following a');
    });
    afterAll(async () => {
      for (const s of sockets) s.disconnect();
      for (const x of [a, b]) if (apps.includes(x)) await stop(x);
    });

    it('a login on one replica is a login on the other (the load balancer may send the next request anywhere); a logout ends it on both', async () => {
      const login = await fetch(`${a.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: ADMIN }) });
      expect(login.status).toBe(200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      await waitFor(async () => data(await api<{ admin: string }>(b.url, '/api/session', { cookie })).admin === 'allowed', 'the session on b');
      // A replica that starts later knows it too.
      const c = await start('shared-c', env);
      expect(data(await api<{ admin: string }>(c.url, '/api/session', { cookie })).admin).toBe('allowed');
      await stop(c);
      const logout = await api(b.url, '/api/session', { method: 'DELETE', cookie });
      expect(logout.status).toBe(200);
      await waitFor(async () => data(await api<{ admin: string }>(a.url, '/api/session', { cookie })).admin !== 'allowed', 'the logout on a');
    });

    it('an admin action on one replica reaches the admin browsers of the other, live, once', async () => {
      const watcher = admin(a);
      await watcher.connected;
      await redis.client.set('shared:lock', 'holder-1', 'PX', 60_000);
      await waitFor(() => b.tracker.get(b64('shared:lock')), 'the lock on b');
      const reply = await api(b.url, '/api/locks/release', { token: ADMIN, json: { key: 'shared:lock', expectedOwner: 'holder-1', reason: 'audit feed test' } });
      expect(reply.status).toBe(200);
      await waitFor(() => watcher.seen.audit.some((e) => e.key?.text === 'shared:lock'), 'the entry on a');
      await new Promise((r) => setTimeout(r, 200));
      expect(watcher.seen.audit.filter((e) => e.key?.text === 'shared:lock')).toHaveLength(1);
    });

    it('one simulation per deployment: started on one replica, shown running on the other with its live stats, refused there, stopped from there', async () => {
      const onA = admin(a);
      const onB = admin(b);
      await Promise.all([onA.connected, onB.connected]);
      const started = await onA.socket.emitWithAck('sim:start', { strategy: 'safe', workers: 4, resources: 2, durationMs: 60_000, ttlMs: 2000, holdMs: 50 });
      expect(started).toMatchObject({ ok: true, data: { status: 'running' } });
      // b's browsers see the run and its stats; b says it is running.
      await waitFor(() => onB.seen.stats.length >= 2, 'stats on b', 5000);
      await waitFor(() => b.app.simulator.state().status === 'running', 'b to know of the run');
      const late = admin(b);
      await waitFor(() => late.seen.states.at(-1)?.status === 'running', 'a browser connecting to b later sees it running');
      // A second run is refused, wherever it is asked for.
      expect(await onB.socket.emitWithAck('sim:start', {})).toMatchObject({ ok: false, error: { code: 'sim_running' } });
      // Stopped from b: a stops it and b answers with its summary.
      const stopped = await onB.socket.emitWithAck('sim:stop');
      expect(stopped).toMatchObject({ ok: true, data: { endReason: 'stopped', violations: 0 } });
      await waitFor(() => a.app.simulator.state().status === 'idle' && b.app.simulator.state().status === 'idle', 'both idle');
      expect(b.app.simulator.state().lastSummary?.runId).toBe(started.ok ? started.data.runId : '');
      // Audited once each (on the replica asked).
      const entries = await auditEntries(a.url, ADMIN, 50);
      expect(entries.filter((e) => e.action === 'sim-start' && e.result === 'started')).toHaveLength(1);
      expect(entries.filter((e) => e.action === 'sim-stop' && e.result === 'stopped')).toHaveLength(1);
    });
  });

  describe('where the state lives', () => {
    /**
     * The README's rule for replicas on a watched Redis (`ACL SETUSER lockscope-replicas on >PASSWORD …`): read-only
     * on users' keys, lockscope:state:* writable. What is tested is what users copy; a selector `(…)` is one argument.
     */
    const readmeReplicaRule = (): string[] => {
      const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
      const rule = /^ACL SETUSER lockscope-replicas on >PASSWORD (.+)$/m.exec(readme)?.[1];
      if (!rule) throw new Error('README.md lacks the replicas ACL rule');
      return rule.match(/\([^)]*\)|\S+/g)!;
    };

    it('a single replica stopped gracefully and started again (a rolling restart) leads at once: its resignation is not waited out', async () => {
      const env = { LOCK_PATTERNS: 'rolling:*' };
      await redis.client.set('rolling:lock', 'owner-r', 'PX', 60_000);
      await stop(await start('rolling-1', env));
      const t0 = Date.now();
      const again = await start('rolling-2', env);
      // Started means ready: leading, its first scan done.
      expect(role(again)).toMatchObject({ role: 'leader', lease: { holder: 'rolling-2' } });
      expect(Date.now() - t0).toBeLessThan(LEASE_MS);
      expect(again.tracker.get(b64('rolling:lock'))?.state).toBe('held');
      await stop(again);
    });

    it("the README's replica rule: replicas coordinate in the watched Redis, read-only for users' keys, and Redis refuses them nothing", async () => {
      const user = await createAclUser(redis.client, 'replicas', 'pw-replicas-0123456789', readmeReplicaRule());
      // The default lock patterns, as the rule's key and channel rules are; read-only: no admin, no simulator.
      const env = { READ_ONLY: '1' };
      try {
        expect(await user.dryRun('SET', 'acl:lock:x', 'v')).toMatch(/no permissions/);
        expect(await user.dryRun('DEL', 'acl:lock:x')).toMatch(/no permissions/);
        expect(await user.dryRun('PUBLISH', 'redisson_lock__channel:{acl:x}', '0')).toMatch(/no permissions/);
        expect(await user.dryRun('GET', 'user:1')).toMatch(/no permissions/);
        await redis.client.call('ACL', 'LOG', 'RESET');
        await redis.client.set('acl:lock', 'acl-owner', 'PX', 60_000);
        const a = await start('acl-a', env, user.url);
        const b = await start('acl-b', env, user.url);
        await waitFor(() => role(b).synced && role(b).role === 'follower', 'b following a');
        expect(role(a)).toMatchObject({ role: 'leader', problem: null });
        expect(b.tracker.get(b64('acl:lock'))?.owner?.text).toBe('acl-owner');
        await redis.client.set('acl:lock2', 'acl-owner-2', 'PX', 60_000);
        await waitFor(() => b.tracker.get(b64('acl:lock2')), 'a change through the stream');
        await stop(a);
        await waitFor(() => role(b).role === 'leader', 'b leading');
        const log = (await redis.client.call('ACL', 'LOG')) as unknown[][];
        const refused = log
          .map((e) => Object.fromEntries(Array.from({ length: e.length / 2 }, (_, i) => [String(e[2 * i]), e[2 * i + 1]])))
          // ACL WHOAMI is the capability check asking on purpose (it then knows ACL DRYRUN is not for it either).
          .filter((e) => e.username === 'replicas' && e.object !== 'acl|whoami');
        expect(refused.map((e) => `${e.context} ${e.object}`)).toEqual([]);
        await stop(b);
      } finally {
        await user.remove();
      }
    });

    it('a Redis user that may not write lockscope:state: → each replica watches alone and says so', async () => {
      const user = await createAclUser(redis.client, 'ro', 'pw-ro-0123456789', ['+@read', '+@connection', '+time', '+eval', '+evalsha', '+info', '+config|get', '+psubscribe', '~*', '&*']);
      const env = { LOCK_PATTERNS: 'alone:*' };
      try {
        await redis.client.set('alone:lock', 'owner', 'PX', 60_000);
        const [a, b] = [await start('alone-a', env, user.url), await start('alone-b', env, user.url)];
        for (const x of [a, b]) {
          expect(role(x)).toMatchObject({ role: 'alone', problem: expect.stringMatching(/cannot keep shared state.*watches every target by itself/) });
          expect(x.tracker.get(b64('alone:lock'))?.state).toBe('held');
          expect(x.target.status().health).toBe('ok');
        }
        for (const x of [a, b]) await stop(x);
      } finally {
        await user.remove();
      }
    });

    it('STATE_REDIS_URL moves the state: replicas of a read-only user coordinate through another Redis, and nothing is written to the watched one', async () => {
      const state = await startTestRedis();
      const user = await createAclUser(redis.client, 'ro2', 'pw-ro2-0123456789', ['+@read', '+@connection', '+time', '+eval', '+evalsha', '+info', '+config|get', '+psubscribe', '~*', '&*']);
      const env = { LOCK_PATTERNS: 'moved:*', STATE_REDIS_URL: state.url, READ_ONLY: '1' };
      try {
        await redis.client.set('moved:lock', 'owner-m', 'PX', 60_000);
        // KEYS answers in no particular order.
        const before = (await redis.client.keys('lockscope:*')).sort();
        const a = await start('moved-a', env, user.url);
        const b = await start('moved-b', env, user.url);
        await waitFor(() => role(b).synced && role(b).role === 'follower', 'b following a');
        expect(role(a)).toMatchObject({ role: 'leader', store: state.url });
        expect(b.tracker.get(b64('moved:lock'))?.owner?.text).toBe('owner-m');
        expect((await state.client.keys('lockscope:state:*')).length).toBeGreaterThan(0);
        expect((await redis.client.keys('lockscope:*')).sort()).toEqual(before);
        for (const x of [a, b]) await stop(x);
      } finally {
        await user.remove();
        await state.stop();
      }
    });
  });

  describe('on a Redis Cluster (3 masters): the state keys carry a hash tag, the bus rides the cluster client', () => {
    let cluster: TestCluster;
    beforeAll(async () => {
      cluster = await startTestCluster({ replicasPerMaster: 0 });
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    }, 30_000);

    it('two replicas elect one leader; the follower shows every master\'s locks as the leader does; only the leader subscribes; a force-release on the follower is noted by the leader', async () => {
      const masters = cluster.masters();
      const keys = masters.map((m) => {
        for (let i = 0; ; i++) if (cluster.masterOf(`lock:c:${i}`).id === m.id) return `lock:c:${i}`;
      });
      for (const k of keys) await cluster.client.set(k, `owner-${k}`, 'PX', 60_000);
      const url = masters[1]!.url;
      const c1 = await start('c1', {}, url);
      const c2 = await start('c2', {}, url);
      expect(c1.target.status().kind).toBe('cluster');
      expect(role(c1)).toMatchObject({ role: 'leader', synced: true, problem: null });
      await waitFor(() => role(c2).role === 'follower' && role(c2).synced, 'c2 following c1');
      const wire = (a: TestApp, key: string) => JSON.parse(JSON.stringify(a.tracker.get(b64(key)) ?? null)) as LockView | null;
      for (const k of keys) {
        expect(wire(c1, k)).toMatchObject({ state: 'held', node: expect.stringMatching(/^127\.0\.0\.1:/), slot: expect.any(Number) });
        expect(wire(c2, k)).toEqual(wire(c1, k));
      }
      // The follower shows the leader's view of the three masters.
      expect(c2.target.status()).toMatchObject({ kind: 'cluster', health: 'ok' });
      expect(c2.target.status().nodes.map((n) => n.address).sort()).toEqual(c1.target.status().nodes.map((n) => n.address).sort());
      // One keyspace subscription per master: the leader's.
      for (const m of masters) {
        const list = (await cluster.nodeClient(m.port).call('CLIENT', 'LIST')) as string;
        expect(list.split('\n').filter((l) => /psub=[1-9]/.test(l)), `${m.port}`).toHaveLength(1);
      }
      // A new lock on any master reaches the follower; a force-release sent to it runs once and both show it.
      const fresh = keys[2]!.replace('lock:c:', 'lock:c:new:');
      await cluster.client.set(fresh, 'owner-new', 'PX', 60_000);
      await waitFor(() => wire(c2, fresh)?.owner?.text === 'owner-new', 'the new lock on the follower', 3000);
      const reply = await api(c2.url, '/api/locks/release', { token: ADMIN, json: { key: keys[0], expectedOwner: `owner-${keys[0]}`, reason: 'cluster replicas' } });
      expect(data(reply)).toMatchObject({ result: 'released' });
      await waitFor(() => [c1, c2].every((a) => a.tracker.history(b64(keys[0]!))?.events.at(-1)?.kind === 'force-released'), 'force-released in both histories');
      // Everything lockscope keeps about the replicas lives under lockscope:state: (the group's keys in one slot).
      const stateKeys = (await Promise.all(masters.map((m) => cluster.nodeClient(m.port).keys('lockscope:state:{default.*')))).flat();
      expect(new Set(stateKeys.map((k) => /\{[^}]+\}/.exec(k)![0])).size).toBe(1);
      for (const x of [c2, c1]) await stop(x);
    });
  });

  async function probeCalls(): Promise<number> {
    const stats = await redis.client.info('commandstats');
    const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    return calls('evalsha') + calls('eval') - 0;
  }
});
