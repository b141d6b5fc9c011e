import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { LockEvent, LockView } from '../../shared/locks';
import { ENDED_VISIBLE_MS, HISTORY_EVENTS, HISTORY_SAMPLES, leaseOf, LockTracker } from '../src/model/lock-tracker';
import type { ProbedKey } from '../src/targets/node/probe';
import { hashResult, stringResult } from './support/probe-results';

/**
 * The lock model's rules, driven directly: probe results in, views and events out. Time is the tracker's
 * injected clock (the model has no timers of its own); Redis's TTLs are exercised by the integration suites.
 */
function setup(heldTooLongMs = 300_000, start = 1_000_000) {
  let now = start;
  const tracker = new LockTracker({ heldTooLongMs, clock: () => now });
  const events: { id: string; event: LockEvent }[] = [];
  const changes: LockView[] = [];
  tracker.on('event', (id, event) => events.push({ id, event: { ...event } }));
  tracker.on('change', (v) => changes.push({ ...v }));
  const key = (s: string) => Buffer.from(s);
  const str = (k: string, value: string | null, pttlMs = 30_000): ProbedKey => ({
    key: key(k),
    observedAt: now,
    result: value === null ? { exists: false } : stringResult(value, pttlMs),
  });
  const id = (k: string) => key(k).toString('base64');
  const hash = (k: string, fields: [string, string][], pttlMs = 30_000): ProbedKey => ({ key: key(k), observedAt: now, result: hashResult(fields, pttlMs) });
  return {
    hash,
    tracker,
    events,
    changes,
    str,
    id,
    kinds: (k: string) => events.filter((e) => e.id === id(k)).map((e) => e.event.kind),
    /** The lock's own events, without its holders coming and going. */
    lockKinds: (k: string) => events.filter((e) => e.id === id(k) && !e.event.kind.startsWith('holder-')).map((e) => e.event.kind),
    advance: (ms: number) => (now += ms),
    get now() {
      return now;
    },
  };
}

const TOKEN = 'a3f1c2d4e5f60718293a4b5c6d7e8f90';

describe('lock tracker', () => {
  it('acquired → renewed (only past the 50 ms threshold) → released before the deadline', () => {
    const s = setup();
    s.tracker.apply(s.str('r', TOKEN, 10_000));
    s.advance(1000);
    s.tracker.apply(s.str('r', TOKEN, 9_030)); // deadline moved 30 ms: probe jitter, not a renewal
    expect(s.tracker.get(s.id('r'))?.renewals).toBe(0);
    s.advance(1000);
    s.tracker.apply(s.str('r', TOKEN, 10_000)); // TTL back up with the same owner
    s.advance(2000);
    s.tracker.apply(s.str('r', TOKEN, 10_000));
    const v = s.tracker.get(s.id('r'))!;
    expect(v.renewals).toBe(2);
    expect(v.renewalIntervalMs).toBe(2000);
    expect(v.library).toBe('redlock');
    expect(v.expectedRenewalMs).toBe(9_398); // using(): 500 ms + drift before a 10 s lease ends
    s.advance(100);
    s.tracker.apply(s.str('r', null));
    expect(s.kinds('r')).toEqual(['acquired', 'renewed', 'renewed', 'released']);
    expect(s.tracker.get(s.id('r'))).toMatchObject({ state: 'released', endedAt: s.now, pttlMs: -2 });
  });

  it('gone at the deadline is expired, and endedAt is the deadline rather than when it was noticed', () => {
    const s = setup();
    s.tracker.apply(s.str('e', 'x', 500));
    const deadline = s.tracker.get(s.id('e'))!.deadline!;
    s.advance(520);
    s.tracker.apply(s.str('e', null));
    expect(s.tracker.get(s.id('e'))).toMatchObject({ state: 'expired', endedAt: deadline });
    expect(s.kinds('e')).toEqual(['acquired', 'expired']);
  });

  it('a new owner before the deadline is owner-changed; after it, an expiry followed by a new acquisition', () => {
    const s = setup();
    s.tracker.apply(s.str('o', 'first', 5_000));
    s.advance(1000);
    s.tracker.apply(s.str('o', 'second', 5_000));
    expect(s.kinds('o')).toEqual(['acquired', 'owner-changed']);
    s.advance(6000);
    s.tracker.apply(s.str('o', 'third', 5_000));
    expect(s.kinds('o')).toEqual(['acquired', 'owner-changed', 'expired', 'acquired']);
    expect(s.tracker.get(s.id('o'))?.owner?.text).toBe('third');
    expect(s.tracker.history(s.id('o'))?.events).toHaveLength(4);
  });

  it('TTL removed (PERSIST) makes a no-ttl lock; TTL set again is recorded', () => {
    const s = setup();
    s.tracker.apply(s.str('t', 'x', 5_000));
    s.tracker.apply(s.str('t', 'x', -1));
    expect(s.tracker.get(s.id('t'))).toMatchObject({ state: 'no-ttl', deadline: null });
    s.tracker.apply(s.str('t', 'x', 4_000));
    expect(s.kinds('t')).toEqual(['acquired', 'ttl-removed', 'ttl-set']);
    expect(s.tracker.get(s.id('t'))?.state).toBe('held');
  });

  it('after a Redis restart, a lock held before it and gone after it is lost (kept a minute); one that survived ends as usual', () => {
    const s = setup();
    for (const k of ['wiped', 'survived', 'short']) s.tracker.apply(s.str(k, TOKEN, k === 'short' ? 1_000 : 30_000));
    s.advance(2_000);
    const restart = s.tracker.serverRestarted();
    s.tracker.apply(s.str('wiped', null));
    s.tracker.apply(s.str('survived', TOKEN, 28_000));
    s.tracker.apply(s.str('short', null)); // its deadline passed during the restart: that is an expiry
    expect(restart.settle()).toBe(1);
    expect(s.kinds('wiped')).toEqual(['acquired', 'lost']);
    expect(s.tracker.get(s.id('wiped'))?.state).toBe('lost');
    expect(s.kinds('short')).toEqual(['acquired', 'expired']);
    // Settled: the next disappearance is an ordinary release.
    s.tracker.apply(s.str('survived', null));
    expect(s.kinds('survived')).toEqual(['acquired', 'released']);
    s.advance(ENDED_VISIBLE_MS);
    s.tracker.tick();
    expect(s.tracker.get(s.id('survived'))).toBeUndefined();
    expect(s.tracker.get(s.id('wiped'))?.state).toBe('lost');
    s.advance(60_000 - ENDED_VISIBLE_MS);
    s.tracker.tick();
    expect(s.tracker.get(s.id('wiped'))).toBeUndefined();
  });

  it("a restart scoped to one node's locks: its wiped locks end lost, another node's locks gone meanwhile are released", () => {
    const s = setup();
    for (const k of ['a:wiped', 'a:kept', 'b:released', 'b:kept']) s.tracker.apply(s.str(k, TOKEN, 30_000));
    const onA = (id: string) => Buffer.from(id, 'base64').toString().startsWith('a:');
    const restartA = s.tracker.serverRestarted(onA);
    // A second node restarting while the first is still being checked is followed on its own.
    const restartB = s.tracker.serverRestarted((id) => id === s.id('b:kept'));
    s.tracker.apply(s.str('a:wiped', null));
    s.tracker.apply(s.str('b:released', null));
    s.tracker.apply(s.str('a:kept', TOKEN, 29_000));
    expect(restartA.settle()).toBe(1);
    s.tracker.apply(s.str('b:kept', null));
    expect(restartB.settle()).toBe(1);
    expect(s.kinds('a:wiped')).toEqual(['acquired', 'lost']);
    expect(s.kinds('b:released')).toEqual(['acquired', 'released']);
    expect(s.kinds('b:kept')).toEqual(['acquired', 'lost']);
    expect(s.tracker.get(s.id('a:kept'))?.state).toBe('held');
  });

  it('force-release ends the lock once: the probe that then finds the key gone adds nothing', () => {
    const s = setup();
    s.tracker.apply(s.str('f', 'x', 30_000));
    s.advance(10);
    s.tracker.note(s.id('f'), 'force-released', -2);
    s.advance(5);
    s.tracker.apply(s.str('f', null));
    expect(s.kinds('f')).toEqual(['acquired', 'force-released']);
    expect(s.tracker.get(s.id('f'))?.state).toBe('released');
    // Taken again right after: a fresh acquisition, not an owner change.
    s.tracker.apply(s.str('f', 'y', 30_000));
    expect(s.kinds('f')).toEqual(['acquired', 'force-released', 'acquired']);
  });

  it('force-release noted after a probe already saw the key go relabels that release instead of adding one', () => {
    const s = setup();
    s.tracker.apply(s.str('g', 'x', 30_000));
    s.advance(10);
    s.tracker.apply(s.str('g', null));
    s.tracker.note(s.id('g'), 'force-released', -2);
    expect(s.tracker.history(s.id('g'))?.events.map((e) => e.kind)).toEqual(['acquired', 'force-released']);
  });

  it("lockscope's own TTL-set is one event, whichever of the note and the probe comes first", () => {
    const s = setup();
    s.tracker.apply(s.str('n', 'x', -1));
    s.tracker.note(s.id('n'), 'ttl-set', 60_000);
    s.advance(5);
    s.tracker.apply(s.str('n', 'x', 60_000));
    expect(s.kinds('n')).toEqual(['acquired', 'ttl-set']);
    expect(s.tracker.get(s.id('n'))?.state).toBe('held');
    s.tracker.apply(s.str('m', 'x', -1));
    s.tracker.apply(s.str('m', 'x', 60_000));
    s.tracker.note(s.id('m'), 'ttl-set', 60_000);
    expect(s.kinds('m')).toEqual(['acquired', 'ttl-set']);
  });

  it('renewal overdue when a library that always renews misses 1.5× its cadence (BullMQ: lockDuration/4)', () => {
    const s = setup();
    const token = `${randomUUID()}:1`;
    s.tracker.apply(s.str('bull:q:1:lock', token, 2_000));
    expect(s.tracker.get(s.id('bull:q:1:lock'))).toMatchObject({ library: 'bullmq', expectedRenewalMs: 500, state: 'held' });
    s.advance(500);
    s.tracker.apply(s.str('bull:q:1:lock', token, 2_000));
    s.advance(700);
    s.tracker.tick();
    expect(s.tracker.get(s.id('bull:q:1:lock'))?.state).toBe('held');
    s.advance(100);
    s.tracker.tick();
    expect(s.tracker.get(s.id('bull:q:1:lock'))?.state).toBe('renewal-overdue');
  });

  it('takes the lease as the largest PTTL seen, rounded up to two significant digits', () => {
    expect([leaseOf(1996), leaseOf(2000), leaseOf(29_993), leaseOf(999), leaseOf(60)]).toEqual([2000, 2000, 30_000, 1000, 60]);
  });

  it('expiring (under 20% and 5 s left), held too long, and dropped 10 s after ending', () => {
    const s = setup(60_000);
    s.tracker.apply(s.str('x', 'v', 10_000));
    s.advance(8_500);
    s.tracker.tick();
    expect(s.tracker.get(s.id('x'))?.state).toBe('expiring');
    s.tracker.apply(s.str('long', 'v', 3_600_000));
    s.advance(61_000);
    s.tracker.tick();
    expect(s.tracker.get(s.id('long'))?.state).toBe('held-too-long');
    s.tracker.apply(s.str('long', null));
    const removed: string[] = [];
    s.tracker.on('remove', (id) => removed.push(id));
    s.advance(ENDED_VISIBLE_MS - 1);
    s.tracker.tick();
    expect(removed).not.toContain(s.id('long'));
    s.advance(1);
    s.tracker.tick();
    expect(removed).toContain(s.id('long'));
    expect(s.tracker.get(s.id('long'))).toBeUndefined();
  });

  it('history is bounded and the TTL samples show the renewal sawtooth', () => {
    const s = setup();
    s.tracker.apply(s.str('saw', TOKEN, 1_000));
    for (let i = 0; i < 400; i++) {
      s.advance(500);
      s.tracker.apply(s.str('saw', TOKEN, 1_000));
    }
    const h = s.tracker.history(s.id('saw'))!;
    expect(h.events).toHaveLength(HISTORY_EVENTS);
    expect(h.ttl).toHaveLength(HISTORY_SAMPLES);
    // Pairs: the TTL had fallen to ~500 ms just before each renewal, then jumped back to 1000.
    const last = h.ttl.slice(-2);
    expect(last[0]!.pttlMs).toBe(500);
    expect(last[1]!.pttlMs).toBe(1000);
    expect(last[1]!.at - last[0]!.at).toBe(1);
    expect(h.ttl.every((x, i) => i === 0 || x.at >= h.ttl[i - 1]!.at)).toBe(true);
  });

  it('Redisson fair lock: waiters come from the queue side key, which never shows as a lock', () => {
    const s = setup();
    const holder = `${randomUUID()}:1`;
    s.tracker.apply({
      key: Buffer.from('fair'),
      observedAt: s.now,
      result: { exists: true, type: 'hash', pttlMs: 30_000, size: 1, value: null, fields: [[Buffer.from(holder), Buffer.from('1')]] },
    });
    const queue = (n: number): ProbedKey => ({
      key: Buffer.from('redisson_lock_queue:{fair}'),
      observedAt: s.now,
      result: n ? { exists: true, type: 'list', pttlMs: -1, size: n, value: null, fields: null } : { exists: false },
    });
    s.tracker.apply(queue(2));
    expect(s.tracker.get(s.id('fair'))?.owner?.fields.waiters).toBe('2');
    s.tracker.apply(queue(0));
    expect(s.tracker.get(s.id('fair'))?.owner?.fields.waiters).toBeUndefined();
    expect(s.tracker.size).toBe(1);
  });

  it('re-entry count changes are news; an unchanged probe emits nothing', () => {
    const s = setup();
    const holder = `${randomUUID()}:7`;
    const probe = (count: string): ProbedKey => ({
      key: Buffer.from('r'),
      observedAt: s.now,
      result: { exists: true, type: 'hash', pttlMs: 30_000, size: 1, value: null, fields: [[Buffer.from(holder), Buffer.from(count)]] },
    });
    s.tracker.apply(probe('1'));
    s.tracker.apply(probe('2'));
    expect(s.tracker.get(s.id('r'))?.reentryCount).toBe(2);
    const before = s.changes.length;
    s.advance(10);
    s.tracker.apply(probe('2'));
    expect(s.changes.length).toBe(before);
  });

  it('renewals and expiries are judged on Redis’s clock: a probe read late on ours (busy event loop) moves nothing', () => {
    const s = setup();
    const at = (p: ProbedKey, redisAt: number, lateMs: number): ProbedKey => ({ ...p, redisAt, observedAt: redisAt + lateMs });
    s.tracker.apply(at(s.str('c', TOKEN, 10_000), s.now, 0));
    for (const late of [80, 5, 140, 0, 200]) {
      // 1 s later on Redis's clock, 1 s less left; our estimate of when that was is off by up to 200 ms.
      s.advance(1000);
      s.tracker.apply(at(s.str('c', TOKEN, 10_000 - (s.now - 1_000_000)), s.now, late));
    }
    expect(s.kinds('c')).toEqual(['acquired']);
    expect(s.tracker.get(s.id('c'))?.renewals).toBe(0);
    // A real renewal moves the deadline on Redis's clock.
    s.advance(1000);
    s.tracker.apply(at(s.str('c', TOKEN, 10_000), s.now, 0));
    expect(s.kinds('c')).toEqual(['acquired', 'renewed']);
    // Gone at the deadline on Redis's clock is an expiry, even if our estimate of that moment is early.
    s.advance(10_000);
    s.tracker.apply({ ...s.str('c', null), redisAt: s.now, observedAt: s.now - 120 });
    expect(s.kinds('c')).toEqual(['acquired', 'renewed', 'expired']);
  });

  it('Redisson read lock: readers joining and leaving are one lock (no owner change, acquired-at and renewals kept); read → write is', () => {
    const s = setup(20_000);
    const a = `ffffffff-0000-4000-8000-000000000000:5`;
    const b = `00000000-0000-4000-8000-000000000000:6`;
    const c = `${randomUUID()}:7`;
    s.tracker.apply(s.hash('rw', [['mode', 'read'], [a, '1']]));
    const acquiredAt = s.now;
    s.advance(5000);
    s.tracker.apply(s.hash('rw', [['mode', 'read'], [a, '1']])); // the watchdog
    s.advance(1000);
    // B joins (its field sorts before A's): the lock is still shown by A, now with two readers.
    s.tracker.apply(s.hash('rw', [['mode', 'read'], [a, '1'], [b, '1']], 29_000));
    let v = s.tracker.get(s.id('rw'))!;
    expect(v.owner?.text).toBe(a);
    expect(v.owner?.fields).toMatchObject({ mode: 'read', holders: '2', readers: `${b}, ${a}` });
    s.advance(1000);
    // A leaves: B stands for the lock now; still no owner change.
    s.tracker.apply(s.hash('rw', [['mode', 'read'], [b, '2']], 28_000));
    v = s.tracker.get(s.id('rw'))!;
    expect(v.owner?.text).toBe(b);
    expect(v.owner?.fields).toMatchObject({ clientId: b.split(':')[0], threadId: '6', readers: b });
    expect(v.owner?.fields.holders).toBeUndefined();
    expect(v).toMatchObject({ acquiredAt, renewals: 1, reentryCount: 2 });
    expect(s.lockKinds('rw')).toEqual(['acquired', 'renewed']);
    // Each reader coming and going is in the timeline, named, as a holder of the one lock.
    const holderEvents = s.tracker.history(s.id('rw'))!.events.filter((e) => e.kind.startsWith('holder-'));
    expect(holderEvents.map((e) => [e.kind, e.holder])).toEqual([
      ['holder-joined', b],
      ['holder-left', a],
    ]);
    // Readers churning (and the watchdog renewing) for longer than HELD_TOO_LONG_MS: the lock has been held that long.
    let pttl = 28_000;
    for (let i = 0; i < 14; i++) {
      s.advance(1000);
      pttl = i % 5 === 4 ? 30_000 : pttl - 1000;
      s.tracker.apply(s.hash('rw', i % 2 ? [['mode', 'read'], [b, '1']] : [['mode', 'read'], [b, '1'], [`${randomUUID()}:${i}`, '1']], pttl));
    }
    s.tracker.tick();
    expect(s.tracker.get(s.id('rw'))).toMatchObject({ state: 'held-too-long', acquiredAt, renewals: 3 });
    expect(s.lockKinds('rw')).toEqual(['acquired', 'renewed', 'renewed', 'renewed']);
    // The read side let go and a writer took it: that is a new owner.
    s.advance(500);
    s.tracker.apply(s.hash('rw', [['mode', 'write'], [`${c}:write`, '1']]));
    v = s.tracker.get(s.id('rw'))!;
    expect(v.owner?.text).toBe(`${c}:write`);
    expect(v.owner?.fields.mode).toBe('write');
    expect(v.renewals).toBe(0);
    expect(s.lockKinds('rw')).toEqual(['acquired', 'renewed', 'renewed', 'renewed', 'owner-changed']);
    // And back to read mode: another owner change.
    s.advance(500);
    s.tracker.apply(s.hash('rw', [['mode', 'read'], [a, '1']]));
    expect(s.lockKinds('rw').slice(-2)).toEqual(['owner-changed', 'owner-changed']);
  });

  it('acquired-at decoded from the value (redis-py uuid1 token), never later than the lock was first seen', () => {
    const s = setup(300_000, Date.UTC(2026, 5, 1, 12));
    const tokenAt = (ms: number) => {
      const ticks = BigInt(ms + 12_219_292_800_000) * 10_000n;
      const low = (ticks & 0xffffffffn).toString(16).padStart(8, '0');
      const mid = ((ticks >> 32n) & 0xffffn).toString(16).padStart(4, '0');
      const hi = (((ticks >> 48n) & 0x0fffn) | 0x1000n).toString(16).padStart(4, '0');
      return `${low}${mid}${hi}9a7f02fc00000001`;
    };
    s.tracker.apply(s.str('py', tokenAt(s.now - 42_000)));
    expect(s.tracker.get(s.id('py'))).toMatchObject({ library: 'redis-py', acquiredAt: s.now - 42_000 });
    // A client clock ahead of ours: not acquired in the future.
    s.tracker.apply(s.str('py-ahead', tokenAt(s.now + 5_000)));
    expect(s.tracker.get(s.id('py-ahead'))).toMatchObject({ library: 'redis-py', acquiredAt: s.now });
  });
});
