import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlogOf } from '../src/realtime/lock-broadcaster';
import { startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

function serverBacklogBytes(app: TestApp): number[] {
  return [...app.app.io.of('/').sockets.values()].map((s) => backlogOf(s).bytes);
}

describe('change stream protocol (real app, real Redis)', () => {
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

  it('coalesces per lock, sends at most 20 change sets a second, and sends at once when quiet', async () => {
    const client = await app.connect();
    await new Promise((r) => setTimeout(r, 120));
    const t0 = Date.now();
    await redis.client.set('lock:quiet', 'a', 'PX', 30_000);
    await waitFor(() => client.byKey('lock:quiet'), 'the first change');
    expect(Date.now() - t0).toBeLessThan(40); // nothing pending: no 50 ms wait

    const start = client.batches.length;
    const deadline = Date.now() + 1000;
    let n = 0;
    while (Date.now() < deadline) {
      // 10 owners a tick for the same key, plus one new key a tick.
      const p = redis.client.pipeline();
      for (let i = 0; i < 10; i++) p.set('lock:busy', `owner-${n}-${i}`, 'PX', 30_000);
      p.set(`lock:many:${n}`, 'x', 'PX', 30_000);
      await p.exec();
      n++;
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 150));
    const batches = client.batches.slice(start);
    expect(batches.length).toBeLessThanOrEqual(22); // ≤ 20 a second (+ the edges of the window)
    for (const b of batches) expect(new Set(b.upserts.map((u) => u.id)).size).toBe(b.upserts.length);
    for (let i = 1; i < batches.length; i++) expect(batches[i]!.at - batches[i - 1]!.at).toBeGreaterThanOrEqual(45);
    expect(client.byKey('lock:busy')?.owner?.text).toBe(`owner-${n - 1}-9`);
    expect([...client.locks.values()].filter((l) => l.key.text.startsWith('lock:many:')).length).toBe(n);
  });

  it('keys of every other type and oversized hashes show (bounded reads), nothing crashes or vanishes', async () => {
    const client = await app.connect();
    await redis.client.sadd('lock:odd:set', 'a', 'b');
    await redis.client.zadd('lock:odd:zset', 1, 'a');
    await redis.client.xadd('lock:odd:stream', '*', 'f', 'v');
    const p = redis.client.pipeline();
    for (let i = 0; i < 5000; i++) p.hset('lock:odd:bighash', `field-${i}`, 'x'.repeat(100));
    await p.exec();
    await redis.client.pexpire('lock:odd:bighash', 30_000);
    // Kg$xh carries no set/zset/stream events: such keys arrive with the next reconcile scan; run it now.
    await app.app.inspector.resync();
    for (const [key, type] of [['lock:odd:set', 'set'], ['lock:odd:zset', 'zset'], ['lock:odd:stream', 'stream']] as const) {
      const v = await waitFor(() => client.byKey(key), key);
      expect(v).toMatchObject({ type, state: 'unexpected-type', library: 'unknown', owner: null });
    }
    const big = await waitFor(() => client.byKey('lock:odd:bighash'), 'big hash');
    expect(big).toMatchObject({ type: 'hash', library: 'unknown', state: 'held' });
    expect(big.owner?.sizeBytes).toBe(5000); // field count, though only a bounded number were read
  });

  it('a client that stops reading is parked (bounded server buffer), then resynced by snapshot when it drains', async () => {
    const slow = await app.connect();
    const fast = await app.connect();
    // Stop reading at the TCP level: the kernel buffers fill, then the server's.
    const engine = slow.socket.io.engine as unknown as { transport: { ws: { _socket: { pause(): void; resume(): void } } } };
    const tcp = engine.transport.ws._socket;
    tcp.pause();
    const big = 'x'.repeat(500);
    let maxBacklog = 0;
    for (let round = 0; round < 60; round++) {
      const p = redis.client.pipeline();
      for (let i = 0; i < 500; i++) p.set(`lock:flood:${i}`, `${big}${round}`, 'PX', 60_000);
      await p.exec();
      await new Promise((r) => setTimeout(r, 25));
      maxBacklog = Math.max(maxBacklog, ...serverBacklogBytes(app));
    }
    // The reading client kept up and saw the latest owners.
    await waitFor(() => fast.byKey('lock:flood:499')?.owner?.text.endsWith('59'), 'the fast client to see the last round');
    // The server never queued much more than the parking threshold (1 MiB) for anyone: one change set over it.
    expect(maxBacklog).toBeLessThan(2.5 * 1024 * 1024);
    const parked = [...app.app.io.of('/').sockets.values()].filter((s) => !s.rooms.has('locks:live'));
    expect(parked.length).toBe(1);

    let snapshots = 0;
    slow.socket.on('lock:snapshot', () => snapshots++);
    tcp.resume();
    await waitFor(() => snapshots > 0 && slow.byKey('lock:flood:499')?.owner?.text.endsWith('59'), 'the slow client to be resynced', 10_000);
    await waitFor(() => [...app.app.io.of('/').sockets.values()].every((s) => s.rooms.has('locks:live')), 'the slow client to rejoin');
    await redis.client.set('lock:after-drain', 'x', 'PX', 10_000);
    await waitFor(() => slow.byKey('lock:after-drain'), 'live changes again');
  }, 20_000);
});
