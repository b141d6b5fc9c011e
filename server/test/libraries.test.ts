import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
// redlock 5.0.0-beta.2's package.json "exports" has no "types" entry, so TypeScript cannot reach dist/index.d.ts.
// @ts-expect-error -- the module is fine at run time; the part of its API used here is typed below.
import RedlockUntyped from 'redlock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LockView } from '../../shared/locks';
import { startTestApp, type LiveClient, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

interface RedlockLock {
  value: string;
  release(): Promise<unknown>;
}
interface RedlockApi {
  acquire(resources: string[], duration: number): Promise<RedlockLock>;
  using<T>(resources: string[], duration: number, routine: (signal: AbortSignal) => Promise<T>): Promise<T>;
}
const Redlock = RedlockUntyped as new (clients: Redis[], settings?: { retryCount?: number }) => RedlockApi;

/**
 * Real lock libraries from the registry, taking and renewing real locks, watched by the real app. What the
 * table shows must match what the library did: its name, the owner it wrote, each renewal, release vs expiry.
 */
describe('real clients: node-redlock v5 and BullMQ', () => {
  let redis: TestRedis;
  let app: TestApp;
  let client: LiveClient;
  const connections: Redis[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    app = await startTestApp(redis.url);
    client = await app.connect();
  });
  afterAll(async () => {
    for (const c of connections) c.disconnect();
    await app?.close();
    await redis?.stop();
  });

  /** Every view the browser received for one key, in order (snapshots and change sets). */
  function timeline(key: string): LockView[] {
    return client.batches.flatMap((b) => b.upserts.filter((u) => u.key.text === key));
  }

  it('redlock.using() auto-extends: renewals counted at its cadence, then released', async () => {
    const conn = new Redis(redis.url);
    connections.push(conn);
    const redlock = new Redlock([conn], { retryCount: 0 });
    let token = '';
    const started = Date.now();
    await redlock.using(['redlock:using:report'], 1000, async () => {
      await new Promise((r) => setTimeout(r, 3000));
      token = (await conn.get('redlock:using:report')) ?? '';
    });
    const released = await waitFor(() => (client.byKey('redlock:using:report')?.state === 'released' ? client.byKey('redlock:using:report') : undefined), 'release');
    expect(released.library).toBe('redlock');
    expect(released.owner?.text).toBe(token);
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    // Extends 500 ms (+ 1% + 2 ms drift) before its 1 s lease ends: about every 488 ms for 3 s.
    expect(released.renewals).toBeGreaterThanOrEqual(4);
    expect(released.renewals).toBeLessThanOrEqual(7);
    expect(released.expectedRenewalMs).toBe(488);
    expect(released.renewalIntervalMs).toBeGreaterThan(400);
    expect(released.renewalIntervalMs).toBeLessThan(600);
    expect(released.acquiredAt).toBeGreaterThanOrEqual(started - 5);
    expect(timeline('redlock:using:report').some((v) => v.state === 'renewal-overdue')).toBe(false);
    const history = await client.socket.emitWithAck('lock:history', released.id);
    expect(history.ok && history.data.events.map((e) => e.kind)).toEqual(['acquired', ...Array<string>(released.renewals).fill('renewed'), 'released']);
  });

  it('redlock.acquire() never released: expired, shown within 250 ms of the deadline', async () => {
    const conn = new Redis(redis.url);
    connections.push(conn);
    const redlock = new Redlock([conn], { retryCount: 0 });
    const lock = await redlock.acquire(['redlock:acquire:forgotten'], 600);
    const held = await waitFor(() => client.byKey('redlock:acquire:forgotten'), 'lock');
    expect(held).toMatchObject({ library: 'redlock', renewals: 0, state: 'held' });
    expect(held.owner?.text).toBe(lock.value);
    await waitFor(() => client.byKey('redlock:acquire:forgotten')?.state === 'expired', 'expiry', 3000);
    expect(Date.now() - held.deadline!).toBeLessThan(250);
    expect(client.byKey('redlock:acquire:forgotten')?.endedAt).toBe(held.deadline);
  });

  it('BullMQ: a Worker processing a job holds bull:<queue>:<id>:lock, renews it every lockDuration/4, releases it', async () => {
    const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
    // A queue whose name contains "lock", so all its internal keys match the default pattern: none may show as a lock.
    const queue = new Queue('locktest', { connection });
    let seen: { workerId: string; jobId: string; token: string } | null = null;
    const worker = new Worker(
      'locktest',
      async (job: Job, token?: string) => {
        seen = { workerId: worker.id, jobId: job.id!, token: token ?? '' };
        await new Promise((r) => setTimeout(r, 3000));
      },
      { connection, lockDuration: 2000 },
    );
    try {
      const job = await queue.add('render', { n: 1 });
      const key = `bull:locktest:${job.id}:lock`;
      const held = await waitFor(() => client.byKey(key), 'the job lock');
      expect(held.library).toBe('bullmq');
      expect(held.owner?.fields).toMatchObject({ queue: 'locktest', jobId: job.id, worker: worker.id });
      expect(held.expectedRenewalMs).toBe(500);
      await waitFor(() => client.byKey(key)?.state === 'released', 'release when the job completes', 6000);
      const ended = client.byKey(key)!;
      expect(ended.owner?.text).toBe(seen!.token);
      expect(seen!.token.startsWith(`${seen!.workerId}:`)).toBe(true);
      // The extender runs every lockRenewTime/2 = 500 ms; the first extension comes 0.5–1 s in.
      expect(ended.renewals).toBeGreaterThanOrEqual(3);
      expect(ended.renewals).toBeLessThanOrEqual(6);
      expect(ended.renewalIntervalMs).toBeGreaterThan(350);
      expect(ended.renewalIntervalMs).toBeLessThan(800);
      const live = [...client.locks.values()].filter((l) => l.key.text.startsWith('bull:'));
      expect(live.map((l) => l.key.text)).toEqual([key]);
    } finally {
      await worker.close();
      await queue.close();
    }
  });

  it('BullMQ: a worker that dies mid-job leaves its lock to expire (expired, not released)', async () => {
    const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
    const queue = new Queue('crashy', { connection });
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const worker = new Worker(
      'crashy',
      async () => {
        started();
        await new Promise((r) => setTimeout(r, 5000));
      },
      { connection, lockDuration: 1000, stalledInterval: 60_000 },
    );
    try {
      const job = await queue.add('x', {});
      await running;
      const key = `bull:crashy:${job.id}:lock`;
      await waitFor(() => client.byKey(key), 'the job lock');
      await worker.close(true); // force: no waiting for the job, no more lock extensions
      await waitFor(() => client.byKey(key)?.state === 'expired', 'expiry of the orphaned lock', 4000);
      const ended = client.byKey(key)!;
      expect(ended.library).toBe('bullmq');
      expect(ended.endedAt).toBe(ended.deadline);
    } finally {
      await worker.close(true);
      await queue.close();
    }
  });
});
