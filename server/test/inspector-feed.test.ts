import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerStatus } from '../../shared/status';
import { resolveConfig } from '../src/config/config';
import { startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

const TOKEN = 'b7e2c3d4e5f60718293a4b5c6d7e8f91';

async function notifyFlags(redis: TestRedis): Promise<string> {
  return ((await redis.client.config('GET', 'notify-keyspace-events')) as string[])[1] ?? '';
}

async function health(app: TestApp): Promise<{ feed: string }> {
  return (await fetch(`${app.url}/healthz`)).json() as Promise<{ feed: string }>;
}

describe('change feed: polling when keyspace notifications are off (external Redis, no --configure-notifications)', () => {
  let redis: TestRedis;
  let app: TestApp;

  beforeAll(async () => {
    redis = await startTestRedis({ args: ['--notify-keyspace-events', ''] });
    app = await startTestApp(redis.url, { POLL_MS: '100' }, { configureNotifications: false });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('says polling, and never changes notify-keyspace-events', async () => {
    expect(app.node.mode).toBe('polling');
    expect((await health(app)).feed).toBe('polling');
    const client = await app.connect();
    const status = await new Promise((resolve) => {
      client.socket.once('server:status', resolve);
      client.socket.disconnect().connect();
    });
    expect(status).toMatchObject({ targets: [{ nodes: [{ feed: 'polling', feedSource: null }] }] });
    expect(await notifyFlags(redis)).toBe('');
  });

  it('finds, renews, releases and expires locks by polling alone', async () => {
    const client = await app.connect();
    await redis.client.set('lock:poll:renewed', TOKEN, 'PX', 3_000);
    await redis.client.set('lock:poll:released', 'someone', 'PX', 30_000);
    await waitFor(() => client.byKey('lock:poll:renewed') && client.byKey('lock:poll:released'), 'polled locks to appear', 3000);

    for (let i = 0; i < 2; i++) {
      // A redlock-style extend every 250 ms: TTL back up by ~250 ms (well past the 50 ms threshold), same owner.
      await new Promise((r) => setTimeout(r, 250));
      await redis.client.pexpire('lock:poll:renewed', 3_000);
    }
    await waitFor(() => (client.byKey('lock:poll:renewed')?.renewals ?? 0) >= 2, 'renewals', 3000);
    expect(client.byKey('lock:poll:renewed')?.library).toBe('redlock');

    await redis.client.del('lock:poll:released');
    await waitFor(() => client.byKey('lock:poll:released')?.state === 'released', 'release seen by polling', 3000);

    await redis.client.set('lock:poll:short', 'x', 'PX', 300);
    const deadline = (await waitFor(() => client.byKey('lock:poll:short'), 'short lock', 3000)).deadline!;
    await waitFor(() => client.byKey('lock:poll:short')?.state === 'expired', 'expiry', 3000);
    expect(Date.now() - deadline).toBeLessThan(250);
    expect(await notifyFlags(redis)).toBe('');
  });

  it("clears a Redisson fair lock's waiter count once its queue is gone (side keys are re-probed too)", async () => {
    const client = await app.connect();
    await redis.client.hset('fair:lock', `${randomUUID()}:1`, 1);
    await redis.client.pexpire('fair:lock', 60_000);
    await redis.client.rpush('redisson_lock_queue:{fair:lock}', `${randomUUID()}:2`, `${randomUUID()}:3`);
    await waitFor(() => client.byKey('fair:lock')?.owner?.fields.waiters === '2', 'two waiters', 3000);
    await redis.client.del('redisson_lock_queue:{fair:lock}');
    await waitFor(() => client.byKey('fair:lock')?.owner?.fields.waiters === undefined, 'the waiter count to clear', 1500);
    expect(client.byKey('redisson_lock_queue:{fair:lock}')).toBeUndefined();
    await redis.client.del('fair:lock');
  });

  it('backs off (and logs it) when a probe round is slow compared with POLL_MS', async () => {
    const pipeline = redis.client.pipeline();
    for (let i = 0; i < 20_000; i++) pipeline.set(`lock:bulk:${i}`, TOKEN, 'PX', 60_000);
    await pipeline.exec();
    // A scan that ran during the inserts saw some of them, and the next waits 10× its duration (long on a busy
    // machine): find the rest now, this test is about the polling rounds that follow.
    await app.target.resync();
    await waitFor(() => app.tracker.size >= 20_000, 'the bulk locks to be tracked', 10_000);
    // 20 000 locks cannot be probed in POLL_MS/4 = 25 ms here: the interval stretches instead of saturating Redis.
    await waitFor(() => app.node.pollIntervalMs > 100, 'polling to back off', 5000);
    await redis.client.flushall();
  });
});

describe('change feed: notifications', () => {
  it('--configure-notifications / CONFIGURE_NOTIFICATIONS is off unless given', () => {
    const flag = (env: Record<string, string>, argv: string[] = []) => {
      const r = resolveConfig(env, argv);
      return r.kind === 'ok' ? r.config.configureNotifications : r;
    };
    expect(flag({})).toBe(false);
    expect(flag({}, ['--configure-notifications'])).toBe(true);
    expect(flag({ CONFIGURE_NOTIFICATIONS: '1' })).toBe(true);
    expect(flag({ CONFIGURE_NOTIFICATIONS: 'false' })).toBe(false);
    expect(flag({ CONFIGURE_NOTIFICATIONS: 'maybe' })).toMatchObject({ kind: 'error' });
  });

  it('turns notifications on with --configure-notifications, keeping flags already set', async () => {
    const redis = await startTestRedis({ args: ['--notify-keyspace-events', 'El'] });
    const app = await startTestApp(redis.url, {}, { configureNotifications: true });
    try {
      expect(app.node.mode).toBe('notifications');
      const flags = await notifyFlags(redis);
      for (const c of 'g$xhzelE') expect(flags).toContain(c);
      expect(flags).toMatch(/K|A/);
    } finally {
      await app.close();
      await redis.stop();
    }
  });

  it('completes flags that follow locks but lack `z` (sorted sets) when it may configure them, keeping the rest', async () => {
    const redis = await startTestRedis({ args: ['--notify-keyspace-events', 'Kg$xhl'] });
    const app = await startTestApp(redis.url, {}, { configureNotifications: true });
    try {
      expect(app.node.mode).toBe('notifications');
      const flags = await notifyFlags(redis);
      for (const c of 'Kg$xhlz') expect(flags).toContain(c);
      expect(app.node.feed.zsetsUnseen).toBe(false);
    } finally {
      await app.close();
      await redis.stop();
    }
  });

  it('a semaphore holder\'s bare ZREM shows at once: sorted-set locks are re-probed every POLL_MS when notifications lack `z`', async () => {
    // An external Redis with lockscope's minimum flags (no sorted-set events) that never evicts: only the
    // sorted-set locks need re-probing.
    const redis = await startTestRedis({ args: ['--notify-keyspace-events', 'Kg$xh'] });
    const app = await startTestApp(redis.url, { POLL_MS: '100' }, { configureNotifications: false });
    try {
      expect(app.node.mode).toBe('notifications');
      expect(app.node.feed).toMatchObject({ zsetsUnseen: true, evictionsUnseen: false });
      const client = await app.connect();
      const now = Date.now();
      await redis.client.zadd('semaphore:pool', now, 'holder-a', now, 'holder-b');
      await redis.client.pexpire('semaphore:pool', 60_000);
      // A new key arrives with a scan here (ZADD raises only `z`): the test triggers one rather than wait 30 s.
      await app.target.resync();
      await client.until('semaphore:pool', (v) => v.holders?.list.length === 2, 'two holders');
      await new Promise((r) => setTimeout(r, 300)); // past the first reconcile scan (the next is 30 s away)
      await redis.client.zrem('semaphore:pool', 'holder-a');
      const t0 = Date.now();
      await client.until('semaphore:pool', (v) => v.holders?.list.length === 1, 'the freed holder to go', 2000);
      expect(Date.now() - t0).toBeLessThan(1000); // not at the 30 s reconcile scan
    } finally {
      await app.close();
      await redis.stop();
    }
  });

  it('an evicted lock goes at once: re-probed every POLL_MS when notifications lack `e` on a server that evicts', async () => {
    // An external Redis with lockscope's minimum flags (no evicted events) that evicts keys with a TTL first.
    const redis = await startTestRedis({ args: ['--notify-keyspace-events', 'Kg$xh', '--maxmemory-policy', 'volatile-ttl'] });
    const app = await startTestApp(redis.url, { POLL_MS: '100' }, { configureNotifications: false });
    try {
      expect(app.node.mode).toBe('notifications');
      const client = await app.connect();
      await redis.client.set('lock:evicted', 'x', 'PX', 60_000);
      await waitFor(() => client.byKey('lock:evicted'), 'the lock');
      await new Promise((r) => setTimeout(r, 300)); // past the first reconcile scan (the next is 30 s away)
      // Just enough memory for what is there: the next big write evicts the only key with a TTL, the lock.
      const used = Number(/used_memory:(\d+)/.exec(await redis.client.info('memory'))![1]);
      await redis.client.config('SET', 'maxmemory', String(used + 256 * 1024));
      for (let i = 0; i < 8 && (await redis.client.exists('lock:evicted')); i++) {
        await redis.client.set(`filler:${i}`, 'x'.repeat(64 * 1024)).catch(() => {});
      }
      expect(await redis.client.exists('lock:evicted')).toBe(0);
      const t0 = Date.now();
      await waitFor(() => client.byKey('lock:evicted')?.state === 'released', 'the evicted lock to go', 2000);
      expect(Date.now() - t0).toBeLessThan(1000); // not at the 30 s reconcile scan
    } finally {
      await app.close();
      await redis.stop();
    }
  });

  it('a probe that Redis refuses (not a disconnect, not a permission) is logged as a warning, at most once a minute', async () => {
    const lines: { level: number; msg: string; err?: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string; err?: string });
        done();
      },
    });
    // OBJECT renamed away: the probe script needs it (on Redis < 7.4) for a hash of more than 32 fields, so every
    // probe of such a hash fails with an error reply.
    const redis = await startTestRedis({ args: ['--rename-command', 'OBJECT', ''] });
    const fields = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}`, 'x']));
    await redis.client.hset('lock:unprobed', fields);
    await redis.client.pexpire('lock:unprobed', 60_000);
    const app = await startTestApp(redis.url, {}, { logger: pino({ level: 'info' }, sink) });
    try {
      await app.target.resync();
      await app.target.resync();
      const warnings = lines.filter((l) => l.level === 40 && /probe failed/.test(l.msg));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.err).toMatch(/unknown redis command/i);
    } finally {
      await app.close();
      await redis.stop();
    }
  });

  it('falls back to polling when CONFIG is refused (managed Redis) and no test event comes back, even when allowed to configure', async () => {
    const redis = await startTestRedis({ args: ['--rename-command', 'CONFIG', '', '--notify-keyspace-events', ''] });
    const app = await startTestApp(redis.url, { POLL_MS: '100' }, { configureNotifications: true });
    try {
      expect(app.node.mode).toBe('polling');
      const client = await app.connect();
      await redis.client.set('lock:managed', 'x', 'PX', 10_000);
      await waitFor(() => client.byKey('lock:managed'), 'a lock found by polling', 3000);
    } finally {
      await app.close();
      await redis.stop();
    }
  });

  it('a dropped connection to the same server is no restart: a lock deleted meanwhile is released, none lost', async () => {
    const redis = await startTestRedis();
    await redis.client.set('lock:blip:kept', 'a', 'PX', 60_000);
    await redis.client.set('lock:blip:deleted', 'b', 'PX', 60_000);
    const app = await startTestApp(redis.url, {}, { configureNotifications: true });
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:blip:kept') && client.byKey('lock:blip:deleted'), 'the locks');
      const reconnected = new Promise((resolve) => app.target.once('scan', resolve));
      // Both of lockscope's connections dropped (our own survives), and the lock deleted before they are back.
      await redis.client.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await redis.client.client('KILL', 'TYPE', 'pubsub');
      await redis.client.del('lock:blip:deleted');
      await reconnected;
      await waitFor(() => client.byKey('lock:blip:deleted')?.state === 'released', 'the deleted lock to end');
      expect(client.byKey('lock:blip:kept')?.state).toBe('held');
      expect(app.node.lastRestart).toBeNull();
    } finally {
      await app.close();
      await redis.stop();
    }
  });

  it('after a Redis restart mid-stream: re-subscribes, resyncs, and the locks it wiped show as lost, not released', async () => {
    const first = await startTestRedis();
    const port = first.port;
    await first.client.set('lock:old:long', 'old-owner', 'PX', 60_000);
    await first.client.set('lock:old:short', 'old-short', 'PX', 1_500);
    await first.client.set('lock:old:retaken', 'old-holder', 'PX', 60_000);
    const app = await startTestApp(first.url, {}, { configureNotifications: true });
    let second: TestRedis | null = null;
    try {
      const client = await app.connect();
      await waitFor(() => client.byKey('lock:old:long') && client.byKey('lock:old:short') && client.byKey('lock:old:retaken'), 'old locks');
      expect(app.node.lastRestart).toBeNull();
      await first.stop();
      await new Promise((r) => setTimeout(r, 1_600)); // lock:old:short's deadline passes while Redis is down
      second = await startTestRedis({ port });
      await second.client.set('lock:new:a', 'new-owner', 'PX', 60_000);
      // Someone else takes a wiped lock before lockscope looks: not a takeover, a loss and a new lock.
      await second.client.set('lock:old:retaken', 'new-holder', 'PX', 60_000);

      await waitFor(
        () =>
          client.byKey('lock:old:long')?.state === 'lost' &&
          client.byKey('lock:old:short')?.state === 'expired' &&
          client.byKey('lock:new:a')?.state === 'held' &&
          client.byKey('lock:old:retaken')?.owner?.text === 'new-holder',
        'the table to resync after the restart',
        10_000,
      );
      await waitFor(() => app.node.lastRestart?.lost === 2, 'the restart to be counted');
      expect(client.byKey('lock:old:retaken')?.state).toBe('held');
      const retaken = await client.socket.emitWithAck('lock:history', client.byKey('lock:old:retaken')!.id);
      expect(retaken.ok && retaken.data.events.map((e) => e.kind)).toEqual(['acquired', 'lost', 'acquired']);
      // Browsers are told, with the count (the header banner).
      const status = await new Promise<ServerStatus>((resolve) => {
        client.socket.once('server:status', resolve);
        client.socket.disconnect().connect();
      });
      expect(status.targets[0]!.lastRestart).toMatchObject({ lost: 2 });
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      expect(metrics).toMatch(/lockscope_locks_lost_total\{target="default",library="generic"\} 2/);
      // Notifications work again (ioredis re-PSUBSCRIBEd): a lock taken now appears long before any reconcile scan.
      expect(app.node.mode).toBe('notifications');
      expect(await second.client.pubsub('NUMPAT')).toBeGreaterThanOrEqual(1);
      const t0 = Date.now();
      await second.client.set('lock:new:b', 'after-restart', 'PX', 60_000);
      await waitFor(() => client.byKey('lock:new:b'), 'a lock taken after the restart', 2000);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect([...client.locks.values()].filter((l) => l.endedAt === null).map((l) => l.key.text).sort()).toEqual(['lock:new:a', 'lock:new:b', 'lock:old:retaken']);
    } finally {
      await app.close();
      await second?.stop();
      await first.stop();
    }
  });
});
