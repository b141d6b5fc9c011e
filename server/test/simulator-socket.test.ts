import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimState, SimStats } from '../../shared/simulator';
import { io as connectClient } from 'socket.io-client';
import { startTestApp, type LiveClient, type TestApp, type TestSocket } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

/** Collects what a browser would see of the simulator. */
function watchSim(client: LiveClient) {
  const seen = { states: [] as SimState[], stats: [] as SimStats[] };
  client.socket.on('sim:state', (s) => seen.states.push(s));
  client.socket.on('sim:stats', (s) => seen.stats.push(s));
  return seen;
}

describe('simulator over Socket.IO (real app, real Redis)', () => {
  let redis: TestRedis;
  let app: TestApp;

  beforeAll(async () => {
    redis = await startTestRedis();
    // REDIS_URL is "external" here, so the simulator is on only because SIMULATOR=1 says so.
    app = await startTestApp(redis.url, { SIMULATOR: '1' });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('starts from one browser, streams stats to all at ≥ 1 Hz, shows its locks in the live table, and stops with a summary', async () => {
    const starter = await app.connect();
    const watcher = await app.connect();
    const seen = watchSim(watcher);
    const started = await starter.socket.emitWithAck('sim:start', {
      strategy: 'safe',
      workers: 10,
      resources: 3,
      durationMs: 60_000,
      ttlMs: 2000,
      holdMs: 100,
      holdDistribution: 'fixed',
    });
    expect(started.ok).toBe(true);
    if (!started.ok) return;
    expect(started.data).toMatchObject({ status: 'running', availability: { enabled: true } });
    expect(started.data.config?.workers).toBe(10);
    await waitFor(() => seen.states.some((s) => s.status === 'running'), 'the other browser to learn the run started');

    // The simulated locks are ordinary locks to the inspector: lockscope tokens under the simulator's prefix.
    const lock = await waitFor(() => [...watcher.locks.values()].find((l) => l.key.text.startsWith('lockscope:sim:lock:r')), 'a simulated lock');
    expect(lock.library).toBe('lockscope');

    await waitFor(() => seen.stats.length >= 3, 'three stats messages', 4000);
    const gaps = seen.stats.slice(1).map((s, i) => s.at - seen.stats[i]!.at);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1100);
    expect(seen.stats.at(-1)!.acquisitions).toBeGreaterThan(seen.stats[0]!.acquisitions);
    expect(seen.stats.at(-1)!.workersAlive).toBe(10);

    // Only one run at a time.
    const second = await watcher.socket.emitWithAck('sim:start', {});
    expect(second).toMatchObject({ ok: false, error: { code: 'sim_running' } });

    const stopped = await starter.socket.emitWithAck('sim:stop');
    expect(stopped.ok).toBe(true);
    if (!stopped.ok) return;
    expect(stopped.data.endReason).toBe('stopped');
    expect(stopped.data.violations).toBe(0);
    expect(stopped.data.acquisitions).toBeGreaterThan(0);
    await waitFor(() => seen.states.at(-1)?.status === 'idle' && seen.states.at(-1)?.lastSummary?.runId === stopped.data.runId, 'idle state with the summary');
    // Its keys are gone, and so are its locks from the table.
    await waitFor(
      () => ![...watcher.locks.values()].some((l) => l.key.text.startsWith('lockscope:sim:') && l.endedAt === null),
      'simulated locks to leave the table',
    );
    expect((await redis.client.scan('0', 'MATCH', 'lockscope:sim:*', 'COUNT', 1000))[1]).toEqual([]);
  });

  it('shows the stuck lock of a crash between SETNX and EXPIRE as no-ttl in the live table', async () => {
    const client = await app.connect();
    const started = await client.socket.emitWithAck('sim:start', {
      strategy: 'setnx-expire',
      workers: 1,
      resources: 1,
      ttlMs: 500,
      faults: { crashBetweenProb: 1, respawnDelayMs: 30_000 },
    });
    expect(started.ok).toBe(true);
    const stuck = await waitFor(() => {
      const lock = client.byKey('lockscope:sim:lock:r0');
      return lock?.state === 'no-ttl' ? lock : undefined;
    }, 'the stuck lock to show as no-ttl');
    expect(stuck.owner?.text).toMatch(/^sim-w0-\d+$/);
    expect(stuck.deadline).toBeNull();
    const stopped = await client.socket.emitWithAck('sim:stop');
    expect(stopped.ok && stopped.data.counters.stuckLocksCreated).toBe(1);
  });

  it('refuses invalid settings, naming each problem, and a stop with nothing running', async () => {
    const client = await app.connect();
    const bad = await client.socket.emitWithAck('sim:start', { workers: 100_000, strategy: 'yolo' } as never);
    expect(bad).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    if (bad.ok) return;
    expect(bad.error.message).toContain('workers');
    expect(bad.error.message).toContain('strategy');
    const renew = await client.socket.emitWithAck('sim:start', { ttlMs: 300, renewIntervalMs: 300 });
    expect(!renew.ok && renew.error.message).toContain('renewIntervalMs: must be shorter than ttlMs');
    const unknown = await client.socket.emitWithAck('sim:start', { keyPrefix: 'lock:*' } as never);
    expect(unknown).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    // The run deletes its keys at start and stop, so a browser cannot point it at anyone else's keys.
    await redis.client.set('lock:important', 'keep');
    await redis.client.set('bull:jobs:1', 'keep');
    for (const keyPrefix of ['lock:', 'bull:', 'lockscope:', 'lockscope:sim:a:b:']) {
      const refused = await client.socket.emitWithAck('sim:start', { keyPrefix, durationMs: 500 });
      expect(refused, keyPrefix).toMatchObject({ ok: false, error: { code: 'bad_request', message: expect.stringContaining('always live under lockscope:sim:') } });
    }
    expect(app.app.simulator.state().status).toBe('idle');
    expect(await redis.client.get('lock:important')).toBe('keep');
    expect(await redis.client.get('bull:jobs:1')).toBe('keep');
    await redis.client.del('lock:important', 'bull:jobs:1');
    expect(await client.socket.emitWithAck('sim:stop')).toMatchObject({ ok: false, error: { code: 'not_running' } });
  });

  it('without an admin token, refuses a page that reached lockscope through a foreign host name (DNS rebinding)', async () => {
    const port = new URL(app.url).port;
    const rebound: TestSocket = connectClient(app.url, {
      transports: ['websocket'],
      reconnection: false,
      extraHeaders: { host: `evil.example:${port}`, origin: `http://evil.example:${port}` },
    });
    try {
      const refused = await rebound.emitWithAck('sim:start', { workers: 2, resources: 1, durationMs: 1000 });
      expect(refused).toMatchObject({ ok: false, error: { code: 'host_not_allowed' } });
      expect((await redis.client.scan('0', 'MATCH', 'lockscope:sim:*', 'COUNT', 1000))[1]).toEqual([]);
    } finally {
      rebound.disconnect();
    }
  });
});

describe('simulator against an external Redis without --simulator', () => {
  let redis: TestRedis;
  let app: TestApp;

  beforeAll(async () => {
    redis = await startTestRedis();
    app = await startTestApp(redis.url);
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('is off, says why on connect, and refuses to start', async () => {
    const socket: TestSocket = connectClient(app.url, { transports: ['websocket'], reconnection: false });
    const states: SimState[] = [];
    socket.on('sim:state', (s) => states.push(s));
    const client = { socket };
    const state = await waitFor(() => states[0], 'sim:state on connect');
    expect(state.availability.enabled).toBe(false);
    expect(state.availability.enabled === false && state.availability.reason).toContain('--simulator');
    const refused = await client.socket.emitWithAck('sim:start', {});
    expect(refused).toMatchObject({ ok: false, error: { code: 'simulator_disabled' } });
    expect((await redis.client.scan('0', 'MATCH', 'lockscope:sim:*'))[1]).toEqual([]);
    socket.disconnect();
  });
});

describe('simulator behind an admin token', () => {
  const token = 'sim-admin-token-0123456789';
  let redis: TestRedis;
  let app: TestApp;

  beforeAll(async () => {
    redis = await startTestRedis();
    app = await startTestApp(redis.url, { SIMULATOR: '1', ADMIN_TOKEN: token });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('refuses start and stop from a socket that is not logged in, and writes nothing; an authenticated socket may', async () => {
    const anonymous: TestSocket = connectClient(app.url, { transports: ['websocket'], reconnection: false });
    const refused = await anonymous.emitWithAck('sim:start', { workers: 2, resources: 1, durationMs: 1000 });
    expect(refused).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    expect(await anonymous.emitWithAck('sim:stop')).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    expect((await redis.client.scan('0', 'MATCH', 'lockscope:sim:*', 'COUNT', 1000))[1]).toEqual([]);

    const admin: TestSocket = connectClient(app.url, { transports: ['websocket'], reconnection: false, auth: { token } });
    const started = await admin.emitWithAck('sim:start', { workers: 2, resources: 1, durationMs: 1000 });
    expect(started.ok).toBe(true);
    expect((await admin.emitWithAck('sim:stop')).ok).toBe(true);
    anonymous.disconnect();
    admin.disconnect();

    // Audited: who started and stopped what, and the first refusal from that address (not every one after it).
    const { entries } = await app.app.admin.audit.list(10);
    const sim = entries.filter((e) => e.action.startsWith('sim-')).reverse();
    expect(sim.map((e) => [e.action, e.result, e.actor])).toEqual([
      ['sim-start', 'refused', 'anonymous'],
      ['sim-start', 'started', 'bearer'],
      ['sim-stop', 'stopped', 'bearer'],
    ]);
    expect(sim[0]!.error?.code).toBe('unauthorized');
    expect(sim[1]!.detail).toBe('safe: 2 workers × 1 resources for 1 s, TTL 1000 ms, under lockscope:sim:; faults: none');
    expect(sim[2]!.detail).toMatch(/^safe ran \d+\.\d s: \d+ acquisitions, 0 violations \((stopped|completed)\)$/);
  });
});

describe('simulator with --read-only', () => {
  let redis: TestRedis;
  let app: TestApp;

  beforeAll(async () => {
    redis = await startTestRedis();
    // --read-only wins over SIMULATOR=1 and over the embedded Redis's default: simulations write to Redis.
    app = await startTestApp(redis.url, { SIMULATOR: '1', READ_ONLY: '1' }, { embedded: true });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('is off, tells every browser why on connect, refuses to start and writes nothing', async () => {
    const socket: TestSocket = connectClient(app.url, { transports: ['websocket'], reconnection: false });
    try {
      const states: SimState[] = [];
      socket.on('sim:state', (s) => states.push(s));
      const state = await waitFor(() => states[0], 'sim:state on connect');
      expect(state.availability).toEqual({ enabled: false, reason: expect.stringContaining('read-only (--read-only / READ_ONLY)') });
      const refused = await socket.emitWithAck('sim:start', { workers: 2, resources: 1, durationMs: 1000 });
      expect(refused).toMatchObject({ ok: false, error: { code: 'simulator_disabled', message: expect.stringContaining('read-only') } });
      expect(await socket.emitWithAck('sim:stop')).toMatchObject({ ok: false, error: { code: 'simulator_disabled' } });
      expect((await redis.client.scan('0', 'MATCH', 'lockscope:sim:*', 'COUNT', 1000))[1]).toEqual([]);
      expect(app.app.simulator.state().status).toBe('idle');
    } finally {
      socket.disconnect();
    }
  });
});

describe('simulator in open mode (embedded Redis, no admin token)', () => {
  let redis: TestRedis;
  let app: TestApp;

  beforeAll(async () => {
    redis = await startTestRedis();
    app = await startTestApp(redis.url, {}, { embedded: true });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('refuses start and stop from a page that reached lockscope through a foreign host name (DNS rebinding); loopback may', async () => {
    const port = new URL(app.url).port;
    // A rebinding page: its own name now resolves to 127.0.0.1, so Origin and Host agree (the Origin check passes).
    const rebound: TestSocket = connectClient(app.url, {
      transports: ['websocket'],
      reconnection: false,
      extraHeaders: { host: `evil.example:${port}`, origin: `http://evil.example:${port}` },
    });
    const local: TestSocket = connectClient(app.url, { transports: ['websocket'], reconnection: false });
    try {
      const refused = await rebound.emitWithAck('sim:start', { workers: 2, resources: 1, durationMs: 1000 });
      expect(refused).toMatchObject({ ok: false, error: { code: 'host_not_allowed', message: expect.stringContaining('loopback') } });
      expect((await redis.client.scan('0', 'MATCH', 'lockscope:sim:*', 'COUNT', 1000))[1]).toEqual([]);

      const started = await local.emitWithAck('sim:start', { workers: 2, resources: 1, durationMs: 5000 });
      expect(started.ok).toBe(true);
      expect(await rebound.emitWithAck('sim:stop')).toMatchObject({ ok: false, error: { code: 'host_not_allowed' } });
      expect(app.app.simulator.state().status).toBe('running');
      expect((await local.emitWithAck('sim:stop')).ok).toBe(true);
    } finally {
      rebound.disconnect();
      local.disconnect();
    }
  });
});
