import { describe, expect, it } from 'vitest';
import type { LibraryId, LockState, LockView } from '../../shared/locks';
import { LOCK_STATES } from '../../shared/locks';
import { comparator, LockModel, NO_FILTER, predicate, SORT_KEYS, sortKeyOrdered, type LockFilter, type SortSpec } from '../src/store/lock-model';
import { SortedList } from '../src/store/sorted-list';
import { formatUrlState, parseUrlState } from '../src/store/url-state';

/** Cluster masters a lock may live on (null: not a cluster); 10.0.0.10 sorts after 10.0.0.2 as a person reads it. */
const NODES = ['10.0.0.2:7000', '10.0.0.10:7000', null];

/** Small deterministic PRNG, so a failure reproduces. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// Declared formats too: they sort after the built-in libraries, by label.
const LIBS: LibraryId[] = ['redisson', 'bullmq', 'redlock', 'generic', 'shedlock', 'declared:billing-locks', 'declared:Aardvark', 'declared:billing-locks-2'];

function makeView(rand: () => number, n: number, version = 0): LockView {
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const state = pick(LOCK_STATES);
  const ended = state === 'released' || state === 'expired' || state === 'lost';
  const noTtl = state === 'no-ttl' || rand() < 0.05;
  const key = `lock:${pick(['orders', 'users', 'jobs'])}:${Math.floor(rand() * 50)}`; // collisions in text on purpose
  const id = btoa(`${key}#${n}`);
  return {
    id,
    key: { text: key, base64: id, binary: false, escaped: false },
    type: 'string',
    library: pick(LIBS),
    owner: rand() < 0.1 ? null : { text: `worker-${Math.floor(rand() * 20)}@host`, base64: '', binary: false, escaped: false, truncated: false, sizeBytes: 10, fields: {} },
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
    node: pick(NODES),
    slot: Math.floor(rand() * 3) * 5000,
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
              // A change to an existing lock: same id and key (a new object, as from JSON), new everything else.
              const old = known.get(ids[Math.floor(rand() * ids.length)]!)!;
              const next = { ...makeView(rand, n++, batch), id: old.id, key: { ...old.key } };
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

  it('filters on the text as shown: hidden characters typed or pasted match their escapes, nothing else does', () => {
    const rand = rng(3);
    const shown = (raw: string, text: string): LockView => {
      const v = makeView(rand, 0);
      return { ...v, id: raw, key: { text, base64: raw, binary: false, escaped: text !== raw } };
    };
    const plain = shown('lock:orders:42', 'lock:orders:42');
    const zwsp = shown('lock:orders:4\u200b2', 'lock:orders:4\\u{200B}2');
    const rlo = shown('lock:orders:\u202e24', 'lock:orders:\\u{202E}24');
    const found = (text: string) => [plain, zwsp, rlo].filter(predicate({ text, states: new Set(), libraries: new Set() })!).map((v) => v.id);
    expect(found('orders:42')).toEqual([plain.id]);
    expect(found('lock:orders:4\u200b2')).toEqual([zwsp.id]); // pasted after "Copy key": the exact characters
    expect(found('\\u{202e}')).toEqual([rlo.id]); // typed out, any case
    expect(found('lock:orders')).toEqual([plain.id, zwsp.id, rlo.id]);
  });

  it('orders by urgency by default: stuck locks first, ended ones last, keys alphabetical within a state', () => {
    const rand = rng(7);
    const model = new LockModel();
    model.replaceAll(Array.from({ length: 200 }, (_, i) => makeView(rand, i)));
    const rows = model.rows.toArray();
    expect(rows[0]!.state).toBe('no-ttl');
    expect(['released', 'expired', 'lost']).toContain(rows[rows.length - 1]!.state);
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

  it('sorting from key order by column values alone matches the comparator, on every path (counting, packed, fallback)', () => {
    const rand = rng(5);
    const base = Array.from({ length: 400 }, (_, i) => makeView(rand, i));
    const datasets: [string, LockView[]][] = [
      // Few distinct values: counting sort.
      ['ties', base],
      // Deadlines and acquisitions spread over days: packed into doubles.
      ['wide', base.map((v, i) => ({ ...v, deadline: v.deadline === null ? null : 1.7e12 + i * 86_400_123, acquiredAt: 1.6e12 + i * 7_777_777, renewals: i * 1_000_003 }))],
      // Fractions and a range too wide to pack: the comparator over the typed array.
      ['fallback', base.map((v, i) => ({ ...v, deadline: v.deadline === null ? null : i % 2 ? 1e15 + i : 1000.5 + i, acquiredAt: i % 3 ? -1e15 : 0.25 * i }))],
      // Every lock its own owner, some without one.
      ['owners', base.map((v, i) => ({ ...v, owner: i % 7 === 0 ? null : { ...(v.owner ?? { base64: '', binary: false, escaped: false, truncated: false, sizeBytes: 1, fields: {} }), text: `o${(i * 37) % 400}` } }))],
      ['empty', []],
    ];
    for (const [name, views] of datasets) {
      const keyOrder = [...views].sort(comparator({ key: 'key', dir: 'asc' }));
      for (const key of SORT_KEYS) {
        for (const dir of ['asc', 'desc'] as const) {
          const expected = [...views].sort(comparator({ key, dir })).map((v) => v.id);
          expect(sortKeyOrdered(keyOrder, { key, dir }).map((v) => v.id), `${name}: ${key} ${dir}`).toEqual(expected);
        }
      }
    }
  });

  it('a snapshot in parts, with changes between them, ends as the server’s table; what it did not mention is dropped', () => {
    for (const [stale, filter] of [
      [100, NO_FILTER],
      [600, { text: 'jobs', states: new Set<LockState>(), libraries: new Set<LibraryId>() }],
    ] as const) {
      const rand = rng(stale);
      const model = new LockModel(8);
      model.setSort({ key: 'ttl', dir: 'asc' });
      model.setFilter(filter);
      let n = 0;
      // Shown before: some locks the snapshot will carry again (changed), some it will not (gone meanwhile).
      const kept = Array.from({ length: 300 }, () => makeView(rand, n++));
      const gone = Array.from({ length: stale }, () => makeView(rand, n++));
      model.replaceAll([...kept, ...gone]);
      const truth = new Map<string, LockView>();
      const server = [...kept.map((v) => ({ ...makeView(rand, n++), id: v.id, key: { ...v.key } })), ...Array.from({ length: 500 }, () => makeView(rand, n++))];
      model.beginSnapshot();
      for (let at = 0; at < server.length; at += 64) {
        const part = server.slice(at, at + 64);
        model.apply(part, []);
        for (const v of part) truth.set(v.id, v);
        // A change between parts: a lock from a part already sent, one not sent yet (its part will carry the
        // same state), a new lock, a removal.
        const sent = server[Math.floor(rand() * (at + part.length))]!;
        const later = server[at + part.length + 3];
        const changed = { ...makeView(rand, n++), id: sent.id, key: { ...sent.key } };
        const added = makeView(rand, n++);
        const upserts = [changed, added];
        if (later) {
          const next = { ...makeView(rand, n++), id: later.id, key: { ...later.key } };
          upserts.push(next);
          server[at + part.length + 3] = next;
        }
        const removed = server[Math.floor(rand() * at)]?.id;
        model.apply(upserts, removed ? [removed] : []);
        for (const v of upserts) truth.set(v.id, v);
        if (removed) truth.delete(removed);
        if (removed) for (let i = at + part.length; i < server.length; i++) if (server[i]!.id === removed) server.splice(i, 1);
      }
      model.endSnapshot();
      expectConsistent(model, truth, { key: 'ttl', dir: 'asc' }, filter);
      for (const v of gone) expect(model.byId.has(v.id)).toBe(false);
    }
  });

  it('a new order and a filter applied in slices: rows stay current, matching and in order, and end exact', () => {
    const rand = rng(77);
    const filter: LockFilter = { text: 'orders', states: new Set(), libraries: new Set() };
    const model = new LockModel(8, { filter: 37, sort: 53 });
    let sort: SortSpec = { key: 'ttl', dir: 'asc' };
    model.setSort(sort);
    let n = 0;
    const truth = new Map<string, LockView>();
    const initial = Array.from({ length: 600 }, () => makeView(rand, n++));
    model.replaceAll(initial);
    for (const v of initial) truth.set(v.id, v);
    const pred = predicate(filter)!;
    const inOrder = (rows: LockView[], spec: SortSpec) => rows.every((v, i) => i === 0 || comparator(spec)(rows[i - 1]!, v) < 0);
    const sorts: SortSpec[] = [
      { key: 'heldFor', dir: 'asc' },
      { key: 'owner', dir: 'asc' },
      { key: 'state', dir: 'desc' },
    ];
    let slices = 0;
    for (let round = 0; round < 6; round++) {
      const before = sort;
      if (round % 2 === 0) model.setSort((sort = sorts[round / 2]!));
      if (round % 2 === 1 || round === 0) model.setFilter(filter);
      expect(model.busy).toBe(true);
      for (let step = 0; model.busy; step++) {
        // What is shown meanwhile: current views only, each a match, in the old order or the new one.
        const rows = model.rows.toArray();
        for (const v of rows) expect(truth.get(v.id)).toBe(v);
        expect(rows.every(pred)).toBe(true);
        expect(inOrder(rows, before) || inOrder(rows, sort)).toBe(true);
        const ids = [...truth.keys()];
        const upserts: LockView[] = [];
        for (let i = 0; i < 6; i++) {
          const old = truth.get(ids[Math.floor(rand() * ids.length)]!)!;
          upserts.push({ ...makeView(rand, n++, round), id: old.id, key: { ...old.key } });
        }
        upserts.push(makeView(rand, n++));
        const removed = [ids[Math.floor(rand() * ids.length)]!];
        for (const v of upserts) truth.set(v.id, v);
        for (const id of removed) truth.delete(id);
        model.apply(upserts, removed);
        if (step === 2) {
          // A snapshot that drops 300 locks at once (the bulk path) in the middle of it all.
          model.beginSnapshot();
          const kept = [...truth.values()].slice(300);
          model.apply(kept, []);
          model.endSnapshot();
          truth.clear();
          for (const v of kept) truth.set(v.id, v);
          for (let i = 0; i < 300; i++) {
            const v = makeView(rand, n++);
            truth.set(v.id, v);
            model.apply([v], []);
          }
        }
        model.work();
        slices++;
        // Every lock once, as it is now, whatever is half done.
        const all = model.sorted.toArray();
        expect(all.length).toBe(truth.size);
        for (const v of all) expect(truth.get(v.id)).toBe(v);
      }
      expectConsistent(model, truth, sort, filter);
    }
    expect(slices).toBeGreaterThan(30);
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
      return { ...makeView(rand, 200_000 + i, 1), id: old.id, key: { ...old.key } };
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
      target: null,
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
      target: null,
      q: 'orders 7',
      states: new Set(['renewal-overdue', 'no-ttl']),
      libraries: new Set(['redisson']),
      sort: { key: 'ttl', dir: 'asc' },
      lock: id,
      view: 'locks',
    });
    expect(formatUrlState(parseUrlState(''))).toBe('');
    // The target comes first, so links to one deployment read as such.
    const onStaging = formatUrlState({ ...back, target: 'staging', q: '', lock: null, states: new Set(), libraries: new Set() });
    expect(onStaging).toBe('?target=staging&sort=ttl&dir=asc');
    expect(parseUrlState(onStaging).target).toBe('staging');
  });

  it('carries a declared format\'s library id (its label after `declared:`)', () => {
    const s = parseUrlState('?lib=declared:billing-locks,declared:,redisson');
    expect([...s.libraries].sort()).toEqual(['declared:billing-locks', 'redisson']);
    expect(formatUrlState(s)).toBe('?lib=declared%3Abilling-locks,redisson');
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
