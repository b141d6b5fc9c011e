import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LockView } from '../../shared/locks';
import { LiveClient, startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

type Tcp = { pause(): void; resume(): void };

describe('snapshots and change sets are encoded once for the browsers in the same state (real app, real Redis)', () => {
  let redis: TestRedis;
  let app: TestApp;
  /** `lock:snapshot` / `lock:changes` packets Socket.IO encoded. */
  const encoded = { snapshot: 0, changes: 0 };

  beforeAll(async () => {
    redis = await startTestRedis();
    app = await startTestApp(redis.url);
    const encoder = app.app.io.encoder;
    const encode = encoder.encode.bind(encoder);
    encoder.encode = (packet) => {
      const event = (packet.data as unknown[] | undefined)?.[0];
      if (event === 'lock:snapshot') encoded.snapshot++;
      if (event === 'lock:changes') encoded.changes++;
      return encode(packet);
    };
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  /** The client's table is the server's (`pttlMs`, refreshed without a change, left out). */
  function matchesServer(client: LiveClient): boolean {
    const shown = (v: LockView | undefined) => JSON.stringify({ ...(JSON.parse(JSON.stringify(v ?? null)) as LockView), pttlMs: 0 });
    const views = app.tracker.views();
    return client.locks.size === views.length && views.every((v) => shown(client.locks.get(v.id)) === shown(v));
  }

  it('browsers connecting together share one snapshot; one that stops reading is left behind, not waited for, and resynced', async () => {
    // ~1.5 KB of JSON a lock: ~15 MB in ~30 parts, more than the kernel buffers of a client that stops reading hold.
    const N = 10_000;
    // Once a client that was there before them has every lock, their discovery has left the server as change sets
    // (MBs of them): none is still queued when the clients under test connect, to push one over the slow-client
    // limit (which parks it: another way of leaving it behind).
    const watcher = await app.connect();
    for (let from = 0; from < N; from += 2000) {
      const p = redis.client.pipeline();
      for (let i = from; i < from + 2000; i++) p.set(`lock:shared:${i}`, `${i}:`.padEnd(512, 'o'), 'PX', 120_000);
      await p.exec();
    }
    await waitFor(() => watcher.locks.size === N, 'every lock to be streamed', 20_000);
    watcher.socket.disconnect();

    const clients = Array.from({ length: 8 }, () => LiveClient.open(app.url));
    // The last one stops reading at the TCP level as soon as its connection is open.
    const straggler = clients.at(-1)!;
    const engine = straggler.socket.io.engine;
    const tcp = await new Promise<Tcp>((resolve) =>
      engine.once('open', () => {
        const raw = (engine as unknown as { transport: { ws: { _socket: Tcp } } }).transport.ws._socket;
        raw.pause();
        resolve(raw);
      }),
    );
    const readers = clients.slice(0, -1);
    try {
      // Nobody waits for the one that does not read (it is left behind after 1 s).
      await waitFor(() => readers.every((c) => c.snapshots === 1), 'every reading client to have the whole table', 30_000);
      expect(straggler.snapshots).toBe(0);
    } finally {
      tcp.resume();
    }
    const parts = readers[0]!.received.filter((r) => r.kind === 'part').length;
    expect(parts).toBeGreaterThan(10);
    for (const c of readers) expect(matchesServer(c)).toBe(true);
    // Encoded per snapshot, not per browser: one train (two on a slow machine, if the handshakes are more than
    // 50 ms apart), plus the straggler's own snapshot — against 8 × parts, one per browser.
    expect(encoded.snapshot).toBeLessThanOrEqual(3 * parts + 2);

    // The straggler catches up: a new snapshot (seq 0 again) once it has read what it was sent.
    await waitFor(() => straggler.snapshots === 1, 'the straggler to get a whole snapshot', 30_000);
    const seqs = straggler.received.filter((r) => r.kind === 'part').map((r) => (r.kind === 'part' ? r.seq : -1));
    expect(seqs.lastIndexOf(0)).toBeGreaterThan(0);
    await waitFor(() => matchesServer(straggler), 'the straggler to match the server');

    // A change set: one encoding for all eight.
    const before = encoded.changes;
    await redis.client.set('lock:shared:after', 'x', 'PX', 60_000);
    await waitFor(() => clients.every((c) => c.byKey('lock:shared:after')), 'the change to reach everyone');
    expect(encoded.changes - before).toBe(1);
    for (const c of clients) c.socket.disconnect();
  }, 90_000);
});
