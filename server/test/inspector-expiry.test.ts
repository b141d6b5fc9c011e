import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LockView } from '../../shared/locks';
import { startTestApp, type TestApp } from './support/app';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

/**
 * A TCP proxy in front of Redis that delays requests (client → Redis) by `requestDelayMs`, replies not at all:
 * a probe's round-trip midpoint is then `requestDelayMs / 2` before Redis really read the PTTL, so deadlines
 * estimated through it come out early by that much — the case the expiry re-check must survive.
 */
class RequestDelayProxy {
  requestDelayMs = 0;
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;
  url = '';

  async start(targetPort: number): Promise<this> {
    this.server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      let last = 0;
      client.on('data', (chunk) => {
        // Order kept: a chunk never overtakes one sent earlier.
        const at = Math.max(Date.now() + this.requestDelayMs, last);
        last = at;
        const wait = at - Date.now();
        if (wait <= 0) upstream.write(chunk);
        else setTimeout(() => upstream.destroyed || upstream.write(chunk), wait);
      });
      upstream.on('data', (chunk) => client.destroyed || client.write(chunk));
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const address = this.server.address();
    this.url = `redis://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return this;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server?.close(() => r()) ?? r());
  }
}

describe('expiry re-check when a deadline was estimated early (slow requests to Redis)', () => {
  let redis: TestRedis;
  let proxy: RequestDelayProxy;
  let app: TestApp;

  beforeAll(async () => {
    // Polling with a long POLL_MS: nothing but the expiry re-check looks at a lock near its deadline.
    redis = await startTestRedis({ args: ['--notify-keyspace-events', ''] });
    proxy = await new RequestDelayProxy().start(redis.port);
    // Every request takes 84 ms to reach Redis, replies none: a probe's round trip says nothing of which half
    // was slow, so deadlines come out ~42 ms early — short of the tracker's 50 ms renewal threshold.
    proxy.requestDelayMs = 84;
    app = await startTestApp(proxy.url, { POLL_MS: '10000' }, { configureNotifications: false });
  });
  afterAll(async () => {
    await app?.close();
    await proxy?.close();
    await redis?.stop();
  });

  it('a lock still alive at its re-check is checked again, so expiry shows within 250 ms of the true deadline', async () => {
    expect(app.node.mode).toBe('polling');
    const client = await app.connect();
    const expiredSeenAt = new Map<string, number>();
    client.socket.on('lock:changes', ({ upserts }: { upserts: LockView[] }) => {
      for (const l of upserts) if (l.state === 'expired' && !expiredSeenAt.has(l.key.text)) expiredSeenAt.set(l.key.text, Date.now());
    });
    // The probe script is loaded (a first EVALSHA costs a second round trip for EVAL).
    await redis.client.set('lock:rtt:warm-up', 'x', 'PX', 60_000);
    await app.target.resync();
    const N = 30;
    const keys = Array.from({ length: N }, (_, i) => `lock:rtt:${i}`);
    const p = redis.client.pipeline();
    for (const key of keys) p.set(key, `owner-${key}`, 'PX', 60_000);
    await p.exec();
    await app.target.resync();
    // Shortened (a later PEXPIRE), they are `expiring` from the probe that sees it on: no state change near the
    // deadline gives the inspector another reason to look. Spread over the 25 ms wheel slots, so the re-checks
    // land at every phase.
    const trueDeadline = new Map<string, number>();
    const sentAt = Date.now();
    const q = redis.client.pipeline();
    keys.forEach((key, i) => q.pexpire(key, 1500 + i * 7));
    await q.exec();
    keys.forEach((key, i) => trueDeadline.set(key, sentAt + 1500 + i * 7));
    await app.target.resync();
    for (const key of keys) expect(app.tracker.views().find((v) => v.key.text === key)?.state).toBe('expiring');
    // From now on requests are fast: the re-check near each deadline finds the key alive with 0–40 ms left.
    // Whether or not the tracker moves its deadline by so little, the re-check itself must look again.
    proxy.requestDelayMs = 0;
    await waitFor(() => [...client.locks.values()].filter((l) => /^lock:rtt:\d+$/.test(l.key.text)).length === N, 'the locks to show');

    await waitFor(() => expiredSeenAt.size === N || Date.now() > sentAt + 1500 + N * 7 + 1000, 'the locks to expire', 5000);
    const late = [...trueDeadline].map(([key, deadline]) => ({ key, lateMs: (expiredSeenAt.get(key) ?? Infinity) - deadline }));
    expect(late.filter((l) => l.lateMs >= 250)).toEqual([]);
    for (const key of trueDeadline.keys()) expect(client.byKey(key)?.state).toBe('expired');
  }, 15_000);
});
