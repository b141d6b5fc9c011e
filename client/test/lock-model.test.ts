import { describe, expect, it } from 'vitest';
import type { LibraryId, LockState, LockView } from '../../shared/locks';
import { LOCK_STATES } from '../../shared/locks';
import { comparator, LockModel, NO_FILTER, predicate, SORT_KEYS, type LockFilter, type SortSpec } from '../src/store/lock-model';
import { SortedList } from '../src/store/sorted-list';
import { formatUrlState, parseUrlState } from '../src/store/url-state';

/** Small deterministic PRNG, so a failure reproduces. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const LIBS: LibraryId[] = ['redisson', 'bullmq', 'redlock', 'generic', 'shedlock'];

function makeView(rand: () => number, n: number, version = 0): LockView {
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const state = pick(LOCK_STATES);
  const ended = state === 'released' || state === 'expired';
  const noTtl = state === 'no-ttl' || rand() < 0.05;
  const key = `lock:${pick(['orders', 'users', 'jobs'])}:${Math.floor(rand() * 50)}`; // collisions in text on purpose
  const id = btoa(`${key}#${n}`);
  return {
    id,
    key: { text: key, base64: id, binary: false },
    type: 'string',
    library: pick(LIBS),
    owner: rand() < 0.1 ? null : { text: `worker-${Math.floor(rand() * 20)}@host`, base64: '', binary: false, truncated: false, sizeBytes: 10, fields: {} },
    reentryCount: null,
    pttlMs: noTtl ? -1 : 1000,
    // Few distinct values, so ties on the sort column are common.
    deadline: noTtl ? null : 1_000_000 + Math.floor(rand() * 20) * 1000 + version,
    acquiredAt: 500_000 + Math.floor(rand() * 20) * 1000,
    renewals: Math.floor(rand() * 5),
    lastRenewalAt: null,
    renewalIntervalMs: null,
    expectedRenewalMs: null,
    state,
    endedAt: ended ? 900_000 : null,
  };
}

function expectConsistent(model: LockModel, truth: Map<string, LockView>, sort: SortSpec, filter: LockFilter) {
  const all = [...truth.values()].sort(comparator(sort));
  expect(model.sorted.toArray().map((v) => v.id)).toEqual(all.map((v) => v.id));
  const pred = predicate(filter);
  const shown = pred ? all.filter(pred) : all;
  expect(model.rows.toArray().map((v) => v.id)).toEqual(shown.map((v) => v.id));
  const states = Object.fromEntries(LOCK_STATES.map((s) => [s, 0])) as Record<LockState, number>;
  const libs = new Map<LibraryId, number>();
  for (const v of truth.values()) {
    states[v.state]++;
    libs.set(v.library, (libs.get(v.library) ?? 0) + 1);
  }
  expect(model.stateCounts).toEqual(states);
  expect(new Map([...model.libraryCounts].sort())).toEqual(new Map([...libs].sort()));
  expect(model.size).toBe(truth.size);
}

describe('LockModel', () => {
  it('keeps the same order as a full sort after random upserts and removals, for every sort and filter', () => {
    const filters: LockFilter[] = [
      NO_FILTER,
      { text: 'orders', states: new Set(), libraries: new Set() },
      { text: '', states: new Set<LockState>(['no-ttl', 'renewal-overdue']), libraries: new Set() },
      { text: 'WORKER-1 users', states: new Set(), libraries: new Set<LibraryId>(['redlock', 'bullmq']) },
    ];
    for (const key of SORT_KEYS) {
      for (const dir of ['asc', 'desc'] as const) {
        const sort = { key, dir };
        const filter = filters[(SORT_KEYS.indexOf(key) + (dir === 'asc' ? 0 : 1)) % filters.length]!;
        const rand = rng(SORT_KEYS.indexOf(key) * 2 + (dir === 'asc' ? 1 : 2));
        // Tiny blocks: every batch splits, merges and crosses block boundaries.
        const model = new LockModel(8);
        model.setSort(sort);
        model.setFilter(filter);
        const truth = new Map<string, LockView>();
        let n = 0;
        const initial = Array.from({ length: 300 }, () => makeView(rand, n++));
        model.replaceAll(initial);
        for (const v of initial) truth.set(v.id, v);
        expectConsistent(model, truth, sort, filter);
        for (let batch = 0; batch < 40; batch++) {
          const ids = [...truth.keys()];
          const known = new Map(truth);
          const upserts: LockView[] = [];
          const removed: string[] = [];
          for (let i = 0; i < 25; i++) {
            const r = rand();
            if (r < 0.55 && ids.length) {
              // A change to an existing lock: same id and key, new everything else.
              const old = known.get(ids[Math.floor(rand() * ids.length)]!)!;
              const next = { ...makeView(rand, n++, batch), id: old.id, key: old.key };
              upserts.push(next);
              truth.set(next.id, next);
            } else if (r < 0.8) {
              const v = makeView(rand, n++);
              upserts.push(v);
              truth.set(v.id, v);
            } else if (ids.length) {
              const id = ids[Math.floor(rand() * ids.length)]!;
              removed.push(id);
              truth.delete(id);
            }
          }
          // A removal of an unknown id is ignored.
          removed.push('bm90LWEtbG9jaw==');
          // Removals apply after upserts: an id upserted then removed in one batch is gone.
          for (const id of removed) if (upserts.some((u) => u.id === id)) truth.delete(id);
          model.apply(upserts, removed);
          expectConsistent(model, truth, sort, filter);
        }
      }
    }
  });

  it('re-sorts on a sort change and refilters on a filter change', () => {
    const rand = rng(42);
    const model = new LockModel(16);
    const truth = new Map<string, LockView>();
    const views = Array.from({ length: 500 }, (_, i) => makeView(rand, i));
    model.replaceAll(views);
    for (const v of views) truth.set(v.id, v);
    for (const sort of [
      { key: 'ttl', dir: 'desc' },
      { key: 'owner', dir: 'asc' },
      { key: 'state', dir: 'asc' },
    ] as SortSpec[]) {
      model.setSort(sort);
      expectConsistent(model, truth, sort, NO_FILTER);
      const filter: LockFilter = { text: 'jobs', states: new Set<LockState>(['held']), libraries: new Set() };
      model.setFilter(filter);
      expectConsistent(model, truth, sort, filter);
      model.setFilter(NO_FILTER);
      expect(model.rows).toBe(model.sorted);
    }
  });

  it('orders by urgency by default: stuck locks first, ended ones last, keys alphabetical within a state', () => {
    const rand = rng(7);
    const model = new LockModel();
    model.replaceAll(Array.from({ length: 200 }, (_, i) => makeView(rand, i)));
    const rows = model.rows.toArray();
    expect(rows[0]!.state).toBe('no-ttl');
    expect(['released', 'expired']).toContain(rows[rows.length - 1]!.state);
    for (let i = 1; i < rows.length; i++) {
      if (rows[i]!.state === rows[i - 1]!.state) expect(rows[i - 1]!.key.text <= rows[i]!.key.text).toBe(true);
    }
  });

  it('finds a lock’s row by binary search, and -1 when filtered out or unknown', () => {
    const rand = rng(3);
    const model = new LockModel(4);
    const views = Array.from({ length: 100 }, (_, i) => makeView(rand, i));
    model.replaceAll(views);
    for (const v of views) expect(model.rows.at(model.indexOf(v.id))).toBe(v);
    const held = views.find((v) => v.state === 'held')!;
    const other = views.find((v) => v.state !== 'held')!;
    model.setFilter({ text: '', states: new Set<LockState>(['held']), libraries: new Set() });
    expect(model.rows.at(model.indexOf(held.id))).toBe(held);
    expect(model.indexOf(other.id)).toBe(-1);
    expect(model.indexOf('nope')).toBe(-1);
  });

  it('applies a 100k snapshot and a 1,000-change batch quickly', () => {
    const rand = rng(11);
    const model = new LockModel();
    const views = Array.from({ length: 100_000 }, (_, i) => makeView(rand, i));
    let t = performance.now();
    model.replaceAll(views);
    const snapshotMs = performance.now() - t;
    const changes = Array.from({ length: 1000 }, (_, i) => {
      const old = views[Math.floor(rand() * views.length)]!;
      return { ...makeView(rand, 200_000 + i, 1), id: old.id, key: old.key };
    });
    t = performance.now();
    model.apply(changes, []);
    const batchMs = performance.now() - t;
    // Generous bounds (shared CI machines); the point is "no full re-sort per change".
    expect(snapshotMs).toBeLessThan(2000);
    expect(batchMs).toBeLessThan(500);
  });
});

describe('URL state', () => {
  it('round-trips filter, sort and selection, with readable commas and defaults left out', () => {
    const id = btoa('lock:orders:7?&=');
    const search = formatUrlState({
      q: 'orders 7',
      states: new Set<LockState>(['renewal-overdue', 'no-ttl']),
      libraries: new Set<LibraryId>(['redisson']),
      sort: { key: 'ttl', dir: 'asc' },
      lock: id,
      view: 'locks',
    });
    expect(search).toBe(`?q=orders%207&state=renewal-overdue,no-ttl&lib=redisson&sort=ttl&dir=asc&lock=${encodeURIComponent(id)}`);
    const back = parseUrlState(search);
    expect(back).toEqual({
      q: 'orders 7',
      states: new Set(['renewal-overdue', 'no-ttl']),
      libraries: new Set(['redisson']),
      sort: { key: 'ttl', dir: 'asc' },
      lock: id,
      view: 'locks',
    });
    expect(formatUrlState(parseUrlState(''))).toBe('');
  });

  it('ignores unknown values and keeps parameters that are not its own', () => {
    const s = parseUrlState('?state=no-ttl,bogus&lib=nope&sort=weird&dir=up');
    expect([...s.states]).toEqual(['no-ttl']);
    expect(s.libraries.size).toBe(0);
    expect(s.sort).toEqual({ key: 'state', dir: 'asc' });
    expect(formatUrlState(s, '?debug=1&q=old')).toBe('?state=no-ttl&debug=1');
  });

  it('carries the audit-log view, and only that one (the lock table is the default)', () => {
    const s = parseUrlState('?view=audit&q=x');
    expect(s.view).toBe('audit');
    expect(formatUrlState(s)).toBe('?q=x&view=audit');
    expect(parseUrlState('?view=bogus').view).toBe('locks');
    expect(formatUrlState({ ...s, view: 'locks' })).toBe('?q=x');
  });
});

describe('SortedList', () => {
  it('stays sorted and indexable through inserts, removals and in-place replacements across many blocks', () => {
    const rand = rng(99);
    const cmp = (a: { v: number; id: number }, b: { v: number; id: number }) => a.v - b.v || a.id - b.id;
    const list = new SortedList(cmp, [], 4);
    const truth: { v: number; id: number }[] = [];
    for (let step = 0; step < 3000; step++) {
      const r = rand();
      if (r < 0.5 || truth.length < 5) {
        const item = { v: Math.floor(rand() * 100), id: step };
        list.insert(item);
        truth.push(item);
      } else if (r < 0.8) {
        const i = Math.floor(rand() * truth.length);
        expect(list.remove(truth[i]!)).toBe(true);
        truth.splice(i, 1);
      } else {
        const i = Math.floor(rand() * truth.length);
        const next = { v: Math.floor(rand() * 100), id: truth[i]!.id };
        list.replace(truth[i]!, next);
        truth[i] = next;
      }
      if (step % 100 === 0 || step === 2999) {
        const expected = [...truth].sort(cmp);
        expect(list.toArray()).toEqual(expected);
        expect(list.length).toBe(expected.length);
        for (let i = 0; i < expected.length; i += 7) {
          expect(list.at(i)).toBe(expected[i]);
          expect(list.indexOf(expected[i]!)).toBe(i);
        }
        expect(list.at(expected.length)).toBeUndefined();
      }
    }
    expect(list.blockCount).toBeGreaterThan(10);
    expect(list.remove({ v: 1, id: -1 })).toBe(false);
  });
});
