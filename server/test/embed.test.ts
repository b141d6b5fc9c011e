import { createHook } from 'node:async_hooks';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Server as HostIO } from 'socket.io';
import { io as connectClient } from 'socket.io-client';
import type { SimState } from '../../shared/simulator';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLockscope, LockscopeOptionsError, type Lockscope } from '../src/index';
import { LiveClient } from './support/app';
import { fakeClientBuild, FAKE_INDEX_HTML } from './support/client-build';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const TOKEN = 'embed-test-token-0123456789';

/**
 * lockscope inside an Express application of its own, as a user embeds it: a host with its own middleware, route,
 * 404 page and Socket.IO server on the default path; lockscope mounted at /locks beside them. Real Redis, real HTTP
 * and WebSocket connections.
 */
describe('createLockscope: mounted into a host Express app beside its own routes and Socket.IO', () => {
  let redis: TestRedis;
  let client: ReturnType<typeof fakeClientBuild>;
  const open: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    client = fakeClientBuild();
  });
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close();
  });
  afterAll(async () => {
    await redis?.stop();
    client?.remove();
  });

  /** The host: JSON body parsing for everything, a route, a 404 page and a Socket.IO echo on /socket.io/. */
  async function startHost() {
    const app = express();
    app.use(express.json());
    app.get('/hello', (_req, res) => void res.json({ hello: 'from the host' }));
    const server = createServer(app);
    const hostIo = new HostIO(server);
    hostIo.on('connection', (s) => s.on('echo', (v: string, ack: (v: string) => void) => ack(`host:${v}`)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const host = {
      app,
      server,
      hostIo,
      url,
      /** After mounting lockscope: the host's own 404 page, last. */
      notFound: () => app.use((_req, res) => void res.status(404).type('text').send('host 404')),
      async close() {
        await hostIo.close();
        server.closeAllConnections();
      },
    };
    open.push(host);
    return host;
  }

  async function mount(host: Awaited<ReturnType<typeof startHost>>, options: Partial<Parameters<typeof createLockscope>[0]> = {}): Promise<Lockscope> {
    const ls = await createLockscope({
      redis: redis.url,
      basePath: '/locks',
      auth: { token: TOKEN },
      clientDir: client.dir,
      logger: pino({ level: 'silent' }),
      ...options,
    });
    open.push(ls);
    host.app.use(ls.basePath, ls.router);
    host.notFound();
    ls.attach(host.server);
    return ls;
  }

  async function hostEcho(url: string, transports: ('websocket' | 'polling')[] = ['websocket']): Promise<string> {
    const socket = connectClient(url, { transports, reconnection: false });
    try {
      return await new Promise<string>((resolve, reject) => {
        socket.once('connect_error', reject);
        socket.once('connect', () => socket.emit('echo', 'hi', resolve));
      });
    } finally {
      socket.disconnect();
    }
  }

  it('serves the dashboard, API, /healthz and /metrics under the mount path; the host keeps its routes, middleware, 404 and Socket.IO', async () => {
    await redis.client.set('lock:embed:orders', 'worker-1', 'PX', 60_000);
    const host = await startHost();
    await mount(host);

    const hello = await fetch(`${host.url}/hello`);
    expect(await hello.json()).toEqual({ hello: 'from the host' });
    // lockscope's helmet headers stay on its own responses.
    expect(hello.headers.get('content-security-policy')).toBeNull();
    expect((await fetch(`${host.url}/nope`)).status).toBe(404);
    expect(await (await fetch(`${host.url}/nope`)).text()).toBe('host 404');

    const bare = await fetch(`${host.url}/locks?target=default`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/locks/?target=default');
    const page = await fetch(`${host.url}/locks/`);
    expect(await page.text()).toBe(FAKE_INDEX_HTML);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${host.url}/locks/assets/index-Ab12Cd34.js`)).status).toBe(200);

    const health = await fetch(`${host.url}/locks/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, targets: [{ id: 'default', health: 'ok' }] });
    expect(await (await fetch(`${host.url}/locks/metrics`)).text()).toMatch(/^lockscope_locks\{target="default",library="[^"]+",state="held"\} 1$/m);
    const openapi = (await (await fetch(`${host.url}/locks/api/openapi.json`)).json()) as { servers?: { url: string }[] };
    expect(openapi.servers).toEqual([{ url: '/locks' }]);
    // The host's express.json() ran first and lockscope still reads the body; the session cookie is scoped to /locks.
    const login = await fetch(`${host.url}/locks/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: TOKEN }),
    });
    expect(await login.json()).toMatchObject({ ok: true, data: { admin: 'allowed', via: 'session' } });
    expect(login.headers.get('set-cookie')).toMatch(/^lockscope_session=[^;]+; Max-Age=\d+; Path=\/locks; HttpOnly; SameSite=Strict$/);

    // lockscope's Socket.IO under the base path, over WebSocket and long polling; the host's on /socket.io/.
    for (const transports of [['websocket'], ['polling']] as const) {
      const live = await LiveClient.connect(host.url, { path: '/locks/socket.io', transports: [...transports] });
      expect(live.byKey('lock:embed:orders')?.owner?.text).toBe('worker-1');
      live.socket.disconnect();
      expect(await hostEcho(host.url, [...transports])).toBe('host:hi');
    }
  });

  it('close() leaves the host as it was: its listeners, its Socket.IO, its routes; no lockscope connection, socket or timer', async () => {
    const host = await startHost();
    const listeners = () => ({ request: host.server.rawListeners('request'), upgrade: host.server.rawListeners('upgrade') });
    const before = listeners();
    const made = trackResources();
    const ls = await mount(host);
    expect(host.server.listenerCount('upgrade')).toBe(before.upgrade.length + 1);
    const live = await LiveClient.connect(host.url, { path: '/locks/socket.io' });
    expect(await lockscopeClients()).toBeGreaterThanOrEqual(2);

    const disconnected = new Promise((resolve) => live.socket.once('disconnect', resolve));
    await ls.close();
    await disconnected;
    expect(listeners()).toEqual(before);
    await waitFor(async () => (await lockscopeClients()) === 0, 'lockscope’s Redis connections to close');
    // Every timer (unref'd ones too), immediate and TCP connection made since createLockscope is gone (the host's
    // Socket.IO keeps a timer for a second after each upgrade it saw: engine.io's check of upgrades left unanswered).
    await waitFor(() => made.alive().length === 0, 'lockscope’s timers and connections to go', 3000).catch(() => {
      throw new Error(`left behind:\n${made.alive().join('\n')}`);
    });
    made.stop();
    expect(await hostEcho(host.url)).toBe('host:hi');
    expect(await (await fetch(`${host.url}/hello`)).json()).toEqual({ hello: 'from the host' });
    expect((await fetch(`${host.url}/locks/`)).status).toBe(503);
    await ls.close(); // twice is fine
  });

  it('lets go cleanly when the host attaches its own Socket.IO after lockscope: the host keeps working after close()', async () => {
    const app = express();
    app.get('/hello', (_req, res) => void res.send('hi'));
    const server: HttpServer = createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    open.push({ close: async () => void server.closeAllConnections() });
    const ls = await createLockscope({ redis: redis.url, basePath: '/locks', clientDir: null, logger: pino({ level: 'silent' }) });
    open.push(ls);
    app.use(ls.basePath, ls.router);
    ls.attach(server);
    const late = new HostIO(server);
    open.push({ close: async () => void (await late.close()) });
    late.on('connection', (s) => s.on('echo', (v: string, ack: (v: string) => void) => ack(`host:${v}`)));
    (await LiveClient.connect(url, { path: '/locks/socket.io', transports: ['polling'] })).socket.disconnect();
    await ls.close();
    expect(await hostEcho(url, ['polling'])).toBe('host:hi');
    expect(await hostEcho(url, ['websocket'])).toBe('host:hi');
    expect(await (await fetch(`${url}/hello`)).text()).toBe('hi');
  });

  it('watches through an ioredis connection of the host without using it: its own connections, closed by close()', async () => {
    const hostRedis = new Redis(redis.url, { keyPrefix: 'app:', connectionName: 'host-app' });
    open.push({ close: async () => void hostRedis.disconnect() });
    await hostRedis.set('lock:via-client', 'owner-7', 'PX', 60_000); // stored as app:lock:via-client
    const host = await startHost();
    const ls = await mount(host, { redis: hostRedis, simulator: true });
    const live = LiveClient.open(host.url, { path: '/locks/socket.io' });
    const sim = new Promise<SimState>((resolve) => live.socket.once('sim:state', resolve));
    await waitFor(() => live.byKey('app:lock:via-client'), 'the lock in the live table');
    expect(live.byKey('app:lock:via-client')?.owner?.text).toBe('owner-7');
    // The simulator's workers connect by URL: with a connection given instead, it says so rather than failing later.
    expect((await sim).availability).toEqual({ enabled: false, reason: expect.stringMatching(/by URL/) });
    live.socket.disconnect();
    expect(ls.status().targets[0]).toMatchObject({ id: 'default', health: 'ok', url: `127.0.0.1:${redis.port}` });
    const names = await clientNames();
    expect(names.filter((n) => n === 'host-app')).toHaveLength(1);
    expect(names).toEqual(expect.arrayContaining(['lockscope:commands', 'lockscope:subscriber']));
    await ls.close();
    await waitFor(async () => (await lockscopeClients()) === 0, 'lockscope’s connections to close');
    expect(await hostRedis.get('lock:via-client')).toBe('owner-7'); // the host's connection is untouched
  });

  it('two instances of the host app coordinate like lockscope replicas (one leads, one follows); `replication: false` writes no state', async () => {
    await redis.client.set('lock:embed-replicas', 'owner-r', 'PX', 60_000);
    const [a, b] = [await startHost(), await startHost()];
    const options = { stateRedisUrl: undefined, leaseMs: 2000 };
    const first = await mount(a, { ...options, replicaName: 'host-a' });
    const second = await mount(b, { ...options, replicaName: 'host-b' });
    const role = (ls: Lockscope) => ls.status().targets[0]!.replication;
    await waitFor(() => role(second)?.role === 'follower' && role(second)?.synced, 'the second instance to follow');
    expect(role(first)).toMatchObject({ role: 'leader', self: 'host-a', lease: { holder: 'host-a' } });
    expect(role(second)).toMatchObject({ role: 'follower', lease: { holder: 'host-a' } });
    const live = LiveClient.open(b.url, { path: '/locks/socket.io' });
    await waitFor(() => live.byKey('lock:embed-replicas'), 'the lock on the follower');
    live.socket.disconnect();
    await first.close();
    await second.close();
    expect((await redis.client.keys('lockscope:state:*')).length).toBeGreaterThan(0);

    await redis.client.flushdb();
    const alone = await mount(await startHost(), { replication: false });
    expect(alone.status().targets[0]!.replication).toBeNull();
    expect(await redis.client.keys('lockscope:state:*')).toEqual([]);
  });

  it("follows the host's `trust proxy` unless given its own: whose address the audit log keeps", async () => {
    const host = await startHost();
    host.app.set('trust proxy', 'loopback');
    const inherits = await createLockscope({ redis: redis.url, basePath: '/a', auth: { token: TOKEN }, clientDir: null, logger: pino({ level: 'silent' }) });
    const own = await createLockscope({ redis: redis.url, basePath: '/b', auth: { token: TOKEN }, trustProxy: false, clientDir: null, logger: pino({ level: 'silent' }) });
    open.push(inherits, own);
    host.app.use(inherits.basePath, inherits.router);
    host.app.use(own.basePath, own.router);
    const loginFrom = async (base: string) => {
      const login = await fetch(`${host.url}${base}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
        body: JSON.stringify({ token: TOKEN }),
      });
      expect(login.status).toBe(200);
      const audit = (await (await fetch(`${host.url}${base}/api/audit?count=50`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
        data: { entries: { action: string; ip: string; at: number }[] };
      };
      return audit.data.entries.find((e) => e.action === 'login')?.ip;
    };
    expect(await loginFrom('/a')).toBe('203.0.113.9');
    await redis.client.del('lockscope:audit');
    expect(await loginFrom('/b')).toBe('127.0.0.1');
  });

  it('takes declared lock formats as options: their keys scanned, labelled and decoded like a LOCK_FORMATS file says', async () => {
    await redis.client.set('billing:embed-1', 'web-3/4412/9f8e7d', 'PX', 60_000);
    const host = await startHost();
    const ls = await mount(host, {
      lockPatterns: ['lock:*'],
      lockFormats: [{ label: 'billing-locks', keyPattern: 'billing:*', owner: { from: 'regex', pattern: '^(?<host>[^/]+)/(?<pid>\\d+)/' } }],
    });
    const live = LiveClient.open(host.url, { path: '/locks/socket.io' });
    open.push({ close: async () => void live.socket.disconnect() });
    const held = await live.until('billing:embed-1', () => true, 'the declared lock in the live table');
    expect(held.library).toBe('declared:billing-locks');
    expect(held.owner?.fields).toMatchObject({ host: 'web-3', pid: '4412' });
    expect(ls.status().patterns).toEqual(['lock:*', 'billing:*']);
  });

  it('refuses options that cannot work, naming every problem', async () => {
    const attempt = createLockscope({
      redis: 'http://cache:6379',
      basePath: 'locks/',
      auth: { token: 'short' },
      trustProxy: 'everyone',
      pollMs: 1,
      lockFormats: [{ label: 'billing', keyPattern: 'billing:*', owner: { from: 'regex', pattern: '(unclosed' } }],
    });
    await expect(attempt).rejects.toBeInstanceOf(LockscopeOptionsError);
    const problems = await attempt.catch((err: LockscopeOptionsError) => err.problems.join('\n'));
    expect(problems).toMatch(/^redis: must start with redis:\/\/ or rediss:\/\//m);
    expect(problems).toMatch(/^basePath = "locks\/": must start with \//m);
    expect(problems).toMatch(/^auth\.token: must be at least 16 characters$/m);
    expect(problems).toMatch(/^trustProxy = "everyone": "everyone" is not loopback/m);
    expect(problems).toMatch(/^pollMs = 1: must be at least 50$/m);
    expect(problems).toMatch(/^lockFormats: formats\[0\]\.owner\.pattern: is not a valid regular expression/m);
    const twoUnnamed = createLockscope({ redis: [{ kind: 'url', name: null, url: redis.url }, { kind: 'url', name: null, url: redis.url }] });
    await expect(twoUnnamed).rejects.toThrow(/target 2: give each of several targets a name/);
    // A Sentinel group as a target config: checked as REDIS_URL's redis+sentinel:// is.
    const badSentinel = createLockscope({ redis: { kind: 'sentinel', name: null, sentinels: [], masterName: 'my master', db: 0 } });
    const sentinelProblems = await badSentinel.catch((err: unknown) => (err instanceof LockscopeOptionsError ? err.problems.join('\n') : String(err)));
    expect(sentinelProblems).toMatch(/^redis: name at least one sentinel/m);
    expect(sentinelProblems).toMatch(/^redis: the master name must be 1-64 letters/m);
  });

  /** Connections the lockscope under test has open on the test Redis (they are all named lockscope:*). */
  async function lockscopeClients(): Promise<number> {
    return (await clientNames()).filter((n) => n.startsWith('lockscope:')).length;
  }
  async function clientNames(): Promise<string[]> {
    const list = (await redis.client.call('CLIENT', 'LIST')) as string;
    return list.split('\n').map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '');
  }
});

/**
 * Timers (unref'd ones included, which process.getActiveResourcesInfo() leaves out), immediates and TCP sockets
 * created from now on and not yet cleared, fired or closed; each with where it was made. The test's own waits are
 * not counted.
 */
function trackResources() {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout' && type !== 'Immediate' && type !== 'TCPWRAP') return;
      const stack = new Error().stack?.split('\n').slice(2).map((l) => l.trim()) ?? [];
      const maker = stack.find((l) => /\(\/|at \//.test(l)) ?? '';
      if (!/embed\.test\.ts|support\/redis\.ts/.test(maker)) live.set(id, `${type} made at ${maker}`);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { alive: () => [...live.values()], stop: () => hook.disable() };
}
