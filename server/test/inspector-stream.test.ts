import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlogOf } from '../src/realtime/backlog';
import type { LockHistory, LockView } from '../../shared/locks';
import type { Result } from '../../shared/result';
import { LiveClient, startTestApp, type TestApp } from './support/app';
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
    // When the server sent each batch (its clock): arrival times also carry delivery jitter on a busy machine.
    const sentAt: number[] = [];
    client.socket.on('lock:changes', ({ serverTime }) => sentAt.push(serverTime));
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
    for (let i = 1; i < sentAt.length; i++) expect(sentAt[i]! - sentAt[i - 1]!).toBeGreaterThanOrEqual(49);
    expect(client.byKey('lock:busy')?.owner?.text).toBe(`owner-${n - 1}-9`);
    expect([...client.locks.values()].filter((l) => l.key.text.startsWith('lock:many:')).length).toBe(n);
  });

  it('keys of every other type and oversized hashes show (bounded reads), nothing crashes or vanishes', async () => {
    const client = await app.connect();
    await redis.client.sadd('lock:odd:set', 'a', 'b');
    await redis.client.zadd('lock:odd:zset', 1, 'a');
    await redis.client.xadd('lock:odd:stream', '*', 'f', 'v');
    // One transaction: a probe between the fields and the TTL would see the hash with no TTL (state no-ttl).
    const m = redis.client.multi();
    for (let i = 0; i < 5000; i++) m.hset('lock:odd:bighash', `field-${i}`, 'x'.repeat(100));
    m.pexpire('lock:odd:bighash', 30_000);
    await m.exec();
    // Kg$xh carries no set/zset/stream events: such keys arrive with the next reconcile scan; run it now.
    await app.target.resync();
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
    const parked = [...app.app.io.of('/').sockets.values()].filter((s) => !s.rooms.has('locks:live:default'));
    expect(parked.length).toBe(1);

    const snapshots = slow.snapshots;
    tcp.resume();
    await waitFor(() => slow.snapshots > snapshots && slow.byKey('lock:flood:499')?.owner?.text.endsWith('59'), 'the slow client to be resynced', 10_000);
    await waitFor(() => [...app.app.io.of('/').sockets.values()].every((s) => s.rooms.has('locks:live:default')), 'the slow client to rejoin');
    await redis.client.set('lock:after-drain', 'x', 'PX', 10_000);
    await waitFor(() => slow.byKey('lock:after-drain'), 'live changes again');
  }, 20_000);

  it('a snapshot bigger than one part arrives complete, with the changes made meanwhile between its parts', async () => {
    // ~1.5 KB of JSON a lock (512-byte owners): ~15 MB in ~30 parts, far more than the kernel buffers hold.
    const N = 10_000;
    const owner = (i: number, v = 0) => `${v}:${i}:`.padEnd(512, 'o');
    // A client that was there before them: once it has every lock, their discovery has left the server as change
    // sets (MBs of them), so none of that is still queued when the client under test connects — with a part
    // waiting, it would push that client over the slow-client limit and restart its snapshot.
    const watcher = await app.connect();
    for (let from = 0; from < N; from += 2000) {
      const p = redis.client.pipeline();
      for (let i = from; i < from + 2000; i++) p.set(`lock:part:${i}`, owner(i), 'PX', 120_000);
      await p.exec();
    }
    const ours = () => [...watcher.locks.values()].filter((v) => v.key.text.startsWith('lock:part:'));
    await waitFor(() => ours().length === N, 'every lock to be streamed', 20_000);
    watcher.socket.disconnect();

    // Stop reading as soon as the connection is open: the server sends parts only as the socket takes them.
    const others = new Set(app.app.io.of('/').sockets.keys());
    const client = LiveClient.open(app.url);
    const engine = client.socket.io.engine;
    const tcp = await new Promise<{ pause(): void; resume(): void }>((resolve) =>
      engine.once('open', () => {
        const raw = (engine as unknown as { transport: { ws: { _socket: { pause(): void; resume(): void } } } }).transport.ws._socket;
        raw.pause();
        resolve(raw);
      }),
    );
    let server: ReturnType<typeof app.app.io.sockets.sockets.get>;
    try {
      server = await waitFor(() => [...app.app.io.of('/').sockets.values()].find((s) => !others.has(s.id)), 'the connection');
      await waitFor(() => backlogOf(server!).packets > 0, 'a part to wait in the server');
      // Meanwhile: new owners, releases and new locks — most of them in parts not sent yet.
      const p = redis.client.pipeline();
      for (let i = 0; i < N; i += 500) p.set(`lock:part:${i}`, owner(i, 1), 'PX', 120_000);
      for (let i = 250; i < N; i += 1000) p.del(`lock:part:${i}`);
      for (let i = 0; i < 5; i++) p.set(`lock:part:new:${i}`, 'late', 'PX', 120_000);
      await p.exec();
      // A change set queued behind the waiting part.
      await waitFor(() => backlogOf(server!).packets > 1, 'changes to queue up behind the part');
    } finally {
      tcp.resume();
    }
    await waitFor(() => client.snapshots === 1, 'the snapshot to complete', 15_000);
    expect(server.rooms.has('locks:live:default')).toBe(true); // never parked
    const parts = client.received.filter((r) => r.kind === 'part');
    expect(parts.length).toBeGreaterThan(5);
    expect(parts.map((r) => r.seq)).toEqual(parts.map((_, i) => i));
    const between = client.received.slice(0, client.received.findIndex((r) => r.kind === 'part' && r.done)).filter((r) => r.kind === 'changes');
    expect(between.length).toBeGreaterThan(0);

    // Every lock as the server has it (once the last changes are in): nothing lost, nothing stale. (`pttlMs`,
    // the TTL at the last probe, is refreshed without a change, so it is left out.)
    const shown = (v: LockView | undefined) => JSON.stringify({ ...(JSON.parse(JSON.stringify(v ?? null)) as LockView), pttlMs: 0 });
    await waitFor(() => {
      const views = app.tracker.views();
      return client.locks.size === views.length && views.every((v) => shown(client.locks.get(v.id)) === shown(v));
    }, 'the client table to match the server');
    expect(client.byKey('lock:part:500')?.owner?.text).toBe(owner(500, 1));
    expect(client.byKey('lock:part:250')?.state).toBe('released');
    expect(client.byKey('lock:part:new:4')?.owner?.text).toBe('late');
    client.socket.disconnect();
  }, 60_000);

  /** A lock whose history reply is ~10 KB (60 renewals: events plus sawtooth samples). */
  async function lockWithHistory(client: LiveClient, key: string): Promise<string> {
    await redis.client.set(key, 'a3f1c2d4e5f60718293a4b5c6d7e8f90', 'PX', 60_000);
    const lock = await waitFor(() => client.byKey(key), key);
    for (let i = 1; i <= 60; i++) {
      await new Promise((r) => setTimeout(r, 5));
      await redis.client.pexpire(key, 60_000 + i * 100);
    }
    await waitFor(() => (client.byKey(key)?.renewals ?? 0) >= 50, 'renewals of the history lock');
    return lock.id;
  }

  function pauseReading(client: LiveClient): { pause(): void; resume(): void } {
    const engine = client.socket.io.engine as unknown as { transport: { ws: { _socket: { pause(): void; resume(): void } } } };
    return engine.transport.ws._socket;
  }

  it('history requests from a client that stops reading: refused as busy, every request answered, buffer bounded', async () => {
    const client = await app.connect();
    const id = await lockWithHistory(client, 'lock:hist:busy');
    const server = app.app.io.of('/').sockets.get(client.socket.id!)!;
    const answers: Result<LockHistory>[] = [];
    const ask = () => client.socket.emit('lock:history', id, (r) => answers.push(r));
    const tcp = pauseReading(client);
    tcp.pause();
    let sent = 0;
    let firstPhase: number;
    try {
      // Fill the kernel's socket buffers until engine.io itself has to hold replies back.
      await waitFor(async () => {
        for (let i = 0; i < 20; i++, sent++) ask();
        await new Promise((r) => setTimeout(r, 20));
        return backlogOf(server).packets > 0;
      }, 'replies to queue up in the server', 10_000);
      firstPhase = sent;
      for (let i = 0; i < 40; i++, sent++) ask();
      await new Promise((r) => setTimeout(r, 100));
      // Held back: at most 16 history replies (≈ 10 KB each) plus 40 small refusals.
      expect(backlogOf(server).bytes).toBeLessThan(400 * 1024);
    } finally {
      tcp.resume();
    }
    await waitFor(() => answers.length === sent, `all ${sent} requests to be answered`, 10_000);
    const late = answers.slice(firstPhase);
    const busy = late.filter((a) => !a.ok && a.error.code === 'busy');
    expect(busy.length).toBeGreaterThanOrEqual(40 - 16);
    for (const a of late) if (!a.ok) expect(a.error.message).toMatch(/busy|behind/i);
    // Still connected, and answered normally again once it reads.
    expect(client.socket.connected).toBe(true);
    const again = await client.socket.emitWithAck('lock:history', id);
    expect(again.ok && again.data.events.length).toBeGreaterThan(50);
  }, 20_000);

  it('a client that floods history requests without reading is disconnected; the server never buffers much for it', async () => {
    const client = await app.connect();
    const id = await lockWithHistory(client, 'lock:hist:flood');
    const serverId = client.socket.id!;
    const tcp = pauseReading(client);
    tcp.pause();
    let maxBacklog = 0;
    try {
      for (let round = 0; round < 40; round++) {
        for (let i = 0; i < 500; i++) client.socket.emit('lock:history', id, () => {});
        await new Promise((r) => setTimeout(r, 50));
        const s = app.app.io.of('/').sockets.get(serverId);
        if (s) maxBacklog = Math.max(maxBacklog, backlogOf(s).bytes);
      }
    } finally {
      tcp.resume();
      client.socket.disconnect();
    }
    // 20 000 replies of ~10 KB would be ~200 MB; bounded, the server holds about one socket buffer's worth.
    expect(maxBacklog).toBeLessThan(2 * 1024 * 1024);
    expect(app.app.io.of('/').sockets.has(serverId)).toBe(false);
    // Other clients are unaffected.
    const other = await app.connect();
    const ok = await other.socket.emitWithAck('lock:history', id);
    expect(ok.ok).toBe(true);
  }, 30_000);
});
