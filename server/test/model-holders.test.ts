import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { LockEvent, LockView } from '../../shared/locks';
import type { ProbedKey } from '../src/targets/node/probe';
import { LockTracker } from '../src/model/lock-tracker';
import { zsetResult } from './support/probe-results';

/**
 * Locks several hold at once, in the lock model alone: holders' own expiries, renewals and departures, and the
 * states the needs-attention filter catches. Time is the tracker's injected clock.
 */
function setup(heldTooLongMs = 300_000) {
  let now = 1_800_000_000_000;
  const tracker = new LockTracker({ heldTooLongMs, clock: () => now });
  const events: LockEvent[] = [];
  tracker.on('event', (_id, e) => events.push({ ...e }));
  const zset = (key: string, members: [string | Buffer, number][], pttlMs: number): ProbedKey => ({ key: Buffer.from(key), observedAt: now, result: zsetResult(members, pttlMs) });
  return {
    tracker,
    events,
    zset,
    /** The lock as the browser gets it (JSON, holders judged at the tracker's now). */
    view: (key: string): LockView => JSON.parse(JSON.stringify(tracker.get(Buffer.from(key).toString('base64')))) as LockView,
    advance: (ms: number) => (now += ms),
    get now() {
      return now;
    },
  };
}

describe('holder groups in the lock model', () => {
  it('redis-semaphore: each holder\'s deadline is its last refresh plus the lease; a refresh is that holder\'s renewal; holders come and go without an owner change', () => {
    const s = setup();
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    s.tracker.apply(s.zset('semaphore:pool', [[a, s.now], [b, s.now]], 10_000));
    let v = s.view('semaphore:pool');
    expect(v).toMatchObject({ library: 'redis-semaphore', state: 'held', holders: { count: 2, permits: { held: 2, free: null, limit: null }, expectedRenewalMs: 8000 } });
    expect(v.holders!.list.map((h) => [h.token.text, h.deadline])).toEqual([
      [a, s.now + 10_000],
      [b, s.now + 10_000],
    ]);
    const standIn = v.owner!.text;
    s.advance(8000);
    // a refreshes (score now, key TTL back to the lease), c joins.
    s.tracker.apply(s.zset('semaphore:pool', [[a, s.now], [b, s.now - 8000], [c, s.now]], 10_000));
    v = s.view('semaphore:pool');
    expect(v.holders!.list.find((h) => h.token.text === a)).toMatchObject({ renewals: 1, lastRenewalAt: s.now, deadline: s.now + 10_000, state: 'held' });
    expect(v.holders!.list.find((h) => h.token.text === b)).toMatchObject({ renewals: 0, deadline: s.now + 2000 });
    expect(v.owner!.text).toBe(standIn);
    // b's refresh never comes: a moment past its own deadline it is stuck, and so is the lock.
    s.advance(2500);
    s.tracker.tick();
    v = s.view('semaphore:pool');
    expect(v.state).toBe('holder-stuck');
    expect(v.holders!.list.find((h) => h.token.text === b)!.state).toBe('stuck');
    // The others' next refresh drops it: it left at its expiry, the lock is well again.
    s.advance(500);
    s.tracker.apply(s.zset('semaphore:pool', [[a, s.now], [c, s.now]], 10_000));
    v = s.view('semaphore:pool');
    expect(v.state).toBe('held');
    expect(s.events.filter((e) => e.kind.startsWith('holder-')).map((e) => [e.kind, e.holder])).toEqual([
      ['holder-joined', c],
      ['holder-expired', b],
    ]);
    expect(s.events.some((e) => e.kind === 'owner-changed')).toBe(false);
  });

  it('a holder with no expiry on a key with none is "no TTL"; a holderless counter is never stuck', () => {
    const s = setup();
    const permit = randomBytes(16);
    s.tracker.apply(s.zset('{jobs-semaphore}:timeout', [[permit, 922337203685477]], -1));
    expect(s.view('{jobs-semaphore}:timeout')).toMatchObject({ state: 'no-ttl', holders: { list: [{ deadline: null, state: 'no-expiry' }] } });
    s.tracker.apply({ key: Buffer.from('jobs-semaphore'), observedAt: s.now, result: { exists: true, type: 'string', pttlMs: -1, size: 1, value: Buffer.from('0'), fields: null } });
    s.advance(400_000);
    s.tracker.tick();
    expect(s.view('jobs-semaphore')).toMatchObject({ state: 'held', owner: null, holders: { list: [], permits: { free: 0 } } });
  });

  it('"held too long" is each semaphore holder\'s own time, but a read lock\'s as a whole (its readers keep writers out together)', () => {
    const s = setup(20_000);
    const [a, b] = [randomUUID(), randomUUID()];
    s.tracker.apply(s.zset('semaphore:pool', [[a, s.now]], 10_000));
    for (let i = 0; i < 5; i++) {
      s.advance(5000);
      // a goes, b comes, and back: the semaphore is never free, but nobody holds it long.
      const who = i % 2 ? a : b;
      s.tracker.apply(s.zset('semaphore:pool', [[who, s.now]], 10_000));
    }
    s.tracker.tick();
    expect(s.view('semaphore:pool').state).toBe('held');
    s.advance(8000);
    s.tracker.apply(s.zset('semaphore:pool', [[a, s.now]], 10_000));
    for (let i = 0; i < 3; i++) {
      s.advance(8000);
      s.tracker.apply(s.zset('semaphore:pool', [[a, s.now]], 10_000));
    }
    s.tracker.tick();
    expect(s.view('semaphore:pool').state).toBe('held-too-long');
  });

  it('Symfony holders\' expiries are on Redis\'s clock: shown on ours through the probe\'s clock offset', () => {
    const s = setup();
    const token = randomBytes(32).toString('base64');
    const redisNow = s.now - 2000; // Redis's clock 2 s behind ours
    s.tracker.apply({ ...s.zset('pdf', [[token, redisNow + 300_000], ['__write__', redisNow + 300_000]], 300_000), redisAt: redisNow });
    expect(s.view('pdf').holders!.list[0]).toMatchObject({ deadline: s.now + 300_000, state: 'held' });
  });
});
