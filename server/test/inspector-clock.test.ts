import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LockEvent } from '../../shared/locks';
import { DEADLINE_SHIFT_MS, LockTracker } from '../src/model/lock-tracker';
import { probeKeys, PROBE_BATCH } from '../src/targets/node/probe';
import { startTestRedis, type TestRedis } from './support/redis';

/*
 * A renewal is "the deadline moved out by more than 50 ms". When lockscope's own event loop is busy (many
 * sockets, a big fold), replies wait in the socket before they are read: a deadline derived from local receive
 * times then jumps by the wait, and an untouched lock looks renewed. Deadlines must be judged on Redis's clock.
 */

const LOCKS = 4000;
const RENEWED = 200;

/** Blocks the event loop for a random 10–30 ms stretch. */
function block(): void {
  const until = performance.now() + 10 + Math.random() * 20;
  while (performance.now() < until);
}

/** Blocks this process's event loop for random 10–30 ms stretches, a few ms apart, until stopped. */
function busyLoop(): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout;
  const tick = () => {
    if (stopped) return;
    block();
    timer = setTimeout(tick, Math.random() * 8);
  };
  timer = setTimeout(tick, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

describe('renewals are judged on Redis’s clock, not on when replies were read', () => {
  let redis: TestRedis;
  const keys: Buffer[] = [];
  /** The locks' deadlines lie between these (this machine's clock, which Redis shares). */
  let earliest = 0;
  let latest = 0;

  beforeAll(async () => {
    redis = await startTestRedis();
    const p = redis.client.pipeline();
    for (let i = 0; i < LOCKS; i++) {
      const key = Buffer.from(`lock:clock:${i}`);
      keys.push(key);
      p.set(key, randomBytes(16).toString('hex'), 'PX', 600_000);
    }
    earliest = Date.now() + 600_000;
    await p.exec();
    latest = Date.now() + 600_000;
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('never-renewed locks probed over and over while the event loop is blocked: no renewal; a real one counts once', async () => {
    const tracker = new LockTracker({ heldTooLongMs: 3_600_000 });
    const events: LockEvent[] = [];
    const renewedIds = new Set(keys.slice(0, RENEWED).map((k) => k.toString('base64')));
    tracker.on('event', (id, e) => {
      if (e.kind === 'renewed' && !renewedIds.has(id)) events.push(e);
    });
    const stop = busyLoop();
    try {
      for (let round = 0; round < 12; round++) {
        if (round === 6) {
          // The one real renewal: every lock of the first RENEWED gets a longer lease.
          const p = redis.client.pipeline();
          for (const k of keys.slice(0, RENEWED)) p.pexpire(k, 700_000);
          await p.exec();
        }
        const order = shuffle([...keys]);
        if (round % 2) {
          // As polling does: one call, every batch pipelined.
          for (const p of await probeKeys(redis.client, order)) tracker.apply(p);
        } else {
          // As a discovery scan does: batches sent one after another, each folded in as it arrives — and the work a
          // fold sets off (listeners, sockets) sometimes holds the loop while further replies wait to be read.
          const probes: Promise<void>[] = [];
          for (let i = 0; i < order.length; i += PROBE_BATCH) {
            probes.push(
              probeKeys(redis.client, order.slice(i, i + PROBE_BATCH)).then((probed) => {
                for (const p of probed) tracker.apply(p);
                if (Math.random() < 0.5) block();
              }),
            );
          }
          await Promise.all(probes);
        }
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
      }
    } finally {
      stop();
    }
    expect(tracker.size).toBe(LOCKS);
    expect(events.length, `false renewals: ${events.length}`).toBe(0);
    for (const id of renewedIds) expect(tracker.get(id)?.renewals).toBe(1);
    for (const v of tracker.views()) {
      if (renewedIds.has(v.id)) continue;
      expect(v.lastRenewalAt).toBeNull();
      // Shown on this server's clock (which Redis shares here), as closely as a deadline shown follows the estimate.
      expect(v.deadline).toBeGreaterThanOrEqual(earliest - DEADLINE_SHIFT_MS - 5);
      expect(v.deadline).toBeLessThanOrEqual(latest + DEADLINE_SHIFT_MS + 5);
    }
  }, 60_000);
});
