/**
 * The lock table as a data structure built for 100k locks and thousands of changes a second. Plain TypeScript,
 * no React: `lock-store.ts` wraps it and tells React about changes at most once per animation frame.
 *
 * - `byId` holds the current view of every lock.
 * - `all` holds every view in display order, in a block list (`sorted-list.ts`). Each upsert removes the old
 *   view and inserts the new one by binary search (or replaces it in place when its position does not change),
 *   so nothing is ever re-sorted because of a change; only a change of sort order sorts everything again.
 * - `byKey` holds every lock's `key` in key order (the tie-break of every sort). A lock keeps one `key` object
 *   for life: an upsert's view takes over its predecessor's (same id, so the same bytes) before anything sees
 *   it, so upserts leave `byKey` alone; only new and removed locks touch it. A change of sort order starts
 *   from it and sorts by the column's values alone, in typed arrays (`sortKeyOrdered`), looking the views up
 *   and reading their values in slices of SORT_SLICE rows (`busy`, `work`); the rows keep their order until
 *   the new one is ready, and changes made meanwhile are replayed onto it.
 * - With a filter active, `shown` is the matching subset, also in order and maintained the same way; without
 *   one, `rows` is `all` itself. A new filter (or a new order under a filter) is applied in slices of
 *   FILTER_SLICE rows (`filtering`): a big table shows the matches found so far, in order; changes meanwhile
 *   apply as usual.
 * - So no change of sort or filter holds the page for long: reading 100k views in display order costs tens of
 *   ms in Chromium (each a few cache misses from the last), and a slice is ~10 ms.
 * - Counts per state and per library are updated by difference.
 * - A snapshot arrives in parts (`beginSnapshot`, `apply` per part, `endSnapshot`): the table shows each part as
 *   it comes, and locks that were in it before and turned up neither in a part nor in a change go at the end.
 *
 * Views are never mutated once in the table (each change from the server is a new object; the only write is
 * the `key` hand-over above, before it goes in), and every sort key is a function of the view alone (TTL order
 * is deadline order, held-for order is acquisition order), so an order stays valid while time passes.
 * Comparisons avoid `localeCompare`: plain code-unit order is stable and ~50× cheaper.
 */
import type { BytesView, LibraryId, LockState, LockView } from '../../../shared/locks';
import { LOCK_STATES } from '../../../shared/locks';
import { BUILTIN_LIBRARIES, type BuiltinLibraryId } from '../../../shared/libraries';
import { libraryLabel } from '../lib/format';
import { escapeHiddenChars } from '../../../shared/visible-text';
import { SortedList, type RowList } from './sorted-list';

export type SortKey = 'key' | 'library' | 'owner' | 'ttl' | 'heldFor' | 'renewals' | 'state' | 'node';
export type SortDir = 'asc' | 'desc';
export interface SortSpec {
  key: SortKey;
  dir: SortDir;
}

export const SORT_KEYS: readonly SortKey[] = ['key', 'library', 'owner', 'ttl', 'heldFor', 'renewals', 'state', 'node'];
/** Most urgent first: what an operator came to find is at the top. */
export const DEFAULT_SORT: SortSpec = { key: 'state', dir: 'asc' };
/** The direction a column sorts in when first clicked: the interesting end first. */
export const FIRST_DIR: Record<SortKey, SortDir> = {
  key: 'asc',
  library: 'asc',
  owner: 'asc',
  ttl: 'asc',
  heldFor: 'desc',
  renewals: 'desc',
  state: 'asc',
  node: 'asc',
};

export interface LockFilter {
  /**
   * Case-insensitive; every whitespace-separated term must occur in the key, the owner (as shown, `text`: hidden
   * characters escaped) or, in a cluster, the node. A hidden character typed or pasted matches its escape: a key
   * copied exactly finds itself, and so does `\u{200B}` typed out.
   */
  text: string;
  /** Empty = every state. */
  states: ReadonlySet<LockState>;
  /** Empty = every library. */
  libraries: ReadonlySet<LibraryId>;
}

export const NO_FILTER: LockFilter = { text: '', states: new Set(), libraries: new Set() };

export function isFilterActive(f: LockFilter): boolean {
  return f.text.trim() !== '' || f.states.size > 0 || f.libraries.size > 0;
}

/** Problems first; ended locks last. */
export const URGENCY: Record<LockState, number> = {
  'no-ttl': 0,
  'renewal-overdue': 1,
  'holder-stuck': 2,
  'held-too-long': 3,
  expiring: 4,
  'unexpected-type': 5,
  held: 6,
  released: 7,
  expired: 8,
  lost: 9,
};

/** States an operator is looking for in an incident: the "Needs attention" quick filter. */
export const PROBLEM_STATES: readonly LockState[] = ['no-ttl', 'renewal-overdue', 'holder-stuck', 'held-too-long'];

type Cmp = (a: LockView, b: LockView) => number;

const str = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Built-in libraries ranked by their label, case-insensitively, computed once. */
const LIBRARY_RANK = Object.fromEntries(
  (Object.keys(BUILTIN_LIBRARIES) as BuiltinLibraryId[])
    .sort((a, b) => str(libraryLabel(a).toLowerCase(), libraryLabel(b).toLowerCase()))
    .map((id, i) => [id, i]),
) as Record<string, number>;
const BUILTIN_COUNT = Object.keys(LIBRARY_RANK).length;

/**
 * Declared formats (and libraries a newer server knows) sort after the built-in ones, by label: the rank is a
 * fraction from the label's first characters, so it needs no table of labels seen and never changes.
 */
function labelFraction(label: string): number {
  let f = 0;
  let scale = 1;
  for (let i = 0; i < 4; i++) {
    scale /= 65_536;
    f += (label.toLowerCase().charCodeAt(i) || 0) * scale;
  }
  return f;
}
const libraryRank = (v: LockView): number => LIBRARY_RANK[v.library] ?? BUILTIN_COUNT + labelFraction(libraryLabel(v.library));

/** Deadline order = remaining-TTL order at any instant; no TTL counts as infinite, an ended lock as beyond that. */
const NO_TTL_RANK = 1e16;
const ENDED_RANK = 2e16;
function ttlRank(v: LockView): number {
  if (v.endedAt !== null) return ENDED_RANK;
  return v.deadline ?? NO_TTL_RANK;
}

/** Slots per cluster: a node's rank and a lock's slot make one number (rank × SLOTS + slot). */
const SLOTS = 16384;
const nodeTexts = new Map<string, string>();
/**
 * A cluster node's address as it sorts: every run of digits padded to 10, so that 10.0.0.2:7000 comes before
 * 10.0.0.10:7000 and port 7002 before 17000 (few distinct addresses: each is made once).
 */
function nodeText(address: string): string {
  let t = nodeTexts.get(address);
  if (t === undefined) nodeTexts.set(address, (t = address.replace(/\d+/g, (d) => d.padStart(10, '0'))));
  return t;
}
/** By node, then slot; locks outside a cluster (no node) after every node. */
const byNode: Cmp = (a, b) =>
  a.node === null ? (b.node === null ? 0 : 1) : b.node === null ? -1 : str(nodeText(a.node), nodeText(b.node)) || (a.slot ?? 0) - (b.slot ?? 0);

/** Key order: the key text, then the id (unique). Every sort's tie-break. */
const byKeyText: Cmp = (a, b) => str(a.key.text, b.key.text) || str(a.id, b.id);
/** The same order on keys alone (`base64` is the id: both are the key's bytes in base64). The order of `byKey`. */
const keyOrder = (a: BytesView, b: BytesView): number => str(a.text, b.text) || str(a.base64, b.base64);

function primary(key: SortKey): Cmp {
  switch (key) {
    case 'key':
      return () => 0; // the key is the tie-break anyway
    case 'library':
      return (a, b) => libraryRank(a) - libraryRank(b);
    case 'owner':
      // No owner sorts after every owner.
      return (a, b) => (a.owner === null ? (b.owner === null ? 0 : 1) : b.owner === null ? -1 : str(a.owner.text, b.owner.text));
    case 'ttl':
      return (a, b) => ttlRank(a) - ttlRank(b);
    case 'heldFor':
      // Held longer = acquired earlier.
      return (a, b) => b.acquiredAt - a.acquiredAt;
    case 'renewals':
      return (a, b) => a.renewals - b.renewals;
    case 'state':
      return (a, b) => URGENCY[a.state] - URGENCY[b.state];
    case 'node':
      return byNode;
  }
}

/**
 * A total order: the sort column in the chosen direction, then the key text, then the id (unique). Ties on
 * the column always read alphabetically, whichever the direction.
 */
export function comparator({ key, dir }: SortSpec): Cmp {
  const p = primary(key);
  const sign = dir === 'asc' ? 1 : -1;
  if (key === 'key') return (a, b) => sign * byKeyText(a, b);
  return (a, b) => sign * p(a, b) || byKeyText(a, b);
}

/**
 * Reads each view's value in the sort column as a number, ascending (the caller applies the direction), a slice
 * at a time: comparing two values as numbers orders the views as `primary(key)` does.
 */
class ColumnReader {
  private readonly values: Float64Array;
  /** 'ttl': the latest deadline so far (no TTL and ended go just past it). */
  private latest = 0;
  /** 'owner' (and 'node'): each distinct owner text's group, in order of first appearance. */
  private readonly groups = new Map<string, number>();
  private readonly texts: string[] = [];
  /**
   * 'owner': the distinct texts, as sorted runs: each `read` sorts its new ones natively and merges runs, so
   * that `finish` has little left to merge. With 100k distinct owners (random tokens), sorting them all at once
   * is a task of 60–150 ms.
   */
  private readonly runs: string[][] = [];

  /** `views` may grow while it is read (up to `capacity`); each `read` covers views already there. */
  constructor(
    private readonly views: readonly LockView[],
    private readonly key: SortKey,
    capacity = views.length,
  ) {
    this.values = new Float64Array(capacity);
  }

  read(from: number, to: number): void {
    const { views, values: out } = this;
    switch (this.key) {
      case 'key':
        // Views are read in key order: the position is the value.
        for (let i = from; i < to; i++) out[i] = i;
        break;
      case 'library':
        for (let i = from; i < to; i++) out[i] = libraryRank(views[i]!);
        break;
      case 'owner': {
        const fresh = this.texts.length;
        for (let i = from; i < to; i++) {
          const owner = views[i]!.owner;
          if (owner === null) {
            out[i] = -1;
            continue;
          }
          let g = this.groups.get(owner.text);
          if (g === undefined) {
            g = this.texts.length;
            this.groups.set(owner.text, g);
            this.texts.push(owner.text);
          }
          out[i] = g;
        }
        // The default sort orders strings by UTF-16 code units, as `str` does, without calling back into JS.
        if (this.texts.length > fresh) this.runs.push(this.texts.slice(fresh).sort());
        // Runs merged as a binary counter (two of about the same length become one), so that the merging is
        // spread over the reads and `finish` merges a few runs of very different lengths.
        const { runs } = this;
        while (runs.length > 1 && runs[runs.length - 2]!.length <= 1.5 * runs[runs.length - 1]!.length) {
          const b = runs.pop()!;
          runs.push(mergeTwo(runs.pop()!, b));
        }
        break;
      }
      case 'ttl':
        // -1 = no TTL, -2 = ended, until `finish` knows the latest deadline.
        for (let i = from; i < to; i++) {
          const v = views[i]!;
          const d = v.endedAt !== null ? -2 : (v.deadline ?? -1);
          out[i] = d;
          if (d > this.latest) this.latest = d;
        }
        break;
      case 'heldFor':
        for (let i = from; i < to; i++) out[i] = -views[i]!.acquiredAt;
        break;
      case 'renewals':
        for (let i = from; i < to; i++) out[i] = views[i]!.renewals;
        break;
      case 'state':
        for (let i = from; i < to; i++) out[i] = URGENCY[views[i]!.state];
        break;
      case 'node':
        // The node's group (ranked in `finish`) and the slot; no node: -1.
        for (let i = from; i < to; i++) {
          const { node, slot } = views[i]!;
          if (node === null) {
            out[i] = -1;
            continue;
          }
          const text = nodeText(node);
          let g = this.groups.get(text);
          if (g === undefined) {
            g = this.texts.length;
            this.groups.set(text, g);
            this.texts.push(text);
          }
          out[i] = g * SLOTS + (slot ?? 0);
        }
        break;
    }
  }

  /** The values, once every view has been read. */
  finish(): Float64Array {
    const out = this.values.subarray(0, this.views.length);
    if (this.key === 'ttl') {
      // ttlRank with "no TTL" and "ended" just past the latest deadline rather than at 1e16 and 2e16: the same
      // order in small numbers (see `orderBy`).
      for (let i = 0; i < out.length; i++) if (out[i]! < 0) out[i] = this.latest - out[i]!;
    } else if (this.key === 'owner') {
      // Rank of each distinct owner text; no owner after every owner.
      const { texts, groups } = this;
      const rank = new Float64Array(texts.length);
      const order = mergeRuns(this.runs);
      for (let r = 0; r < order.length; r++) rank[groups.get(order[r]!)!] = r;
      for (let i = 0; i < out.length; i++) out[i] = out[i]! < 0 ? texts.length : rank[out[i]!]!;
    } else if (this.key === 'node') {
      // A handful of nodes: ranked directly; no node after every node.
      const { texts, groups } = this;
      const rank = new Float64Array(texts.length);
      [...texts].sort().forEach((t, r) => (rank[groups.get(t)!] = r));
      for (let i = 0; i < out.length; i++) {
        const v = out[i]!;
        out[i] = v < 0 ? texts.length * SLOTS : rank[Math.floor(v / SLOTS)]! * SLOTS + (v % SLOTS);
      }
    }
    return out;
  }
}

/** Sorted runs of distinct strings merged into one sorted array, shortest first. */
function mergeRuns(runs: string[][]): string[] {
  let merged: string[] = [];
  for (let r = runs.length - 1; r >= 0; r--) merged = mergeTwo(runs[r]!, merged);
  return merged;
}

function mergeTwo(a: string[], b: string[]): string[] {
  const out = new Array<string>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i]! < b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

/**
 * `views` reordered by (value, position) — a stable sort by value. Integer values whose range is small are
 * placed by counting (O(n)); a wider range is packed as `(value − min) × n + position` into one exact double
 * and sorted natively, with no comparator calls; anything else (fractions, huge ranges) falls back to sorting
 * positions with a comparator over the typed array.
 */
function orderBy<T>(views: readonly T[], value: Float64Array): T[] {
  const n = views.length;
  const out = new Array<T>(n);
  if (n === 0) return out;
  let min = Infinity;
  let max = -Infinity;
  let integers = true;
  for (let i = 0; i < n; i++) {
    const x = value[i]!;
    if (x < min) min = x;
    if (x > max) max = x;
    if (!Number.isInteger(x)) integers = false;
  }
  const range = max - min + 1;
  if (integers && range <= 4 * n + 1024) {
    const start = new Uint32Array(range + 1);
    for (let i = 0; i < n; i++) start[value[i]! - min + 1]!++;
    for (let r = 1; r <= range; r++) start[r]! += start[r - 1]!;
    for (let i = 0; i < n; i++) out[start[value[i]! - min]!++] = views[i]!;
  } else if (integers && range * n <= Number.MAX_SAFE_INTEGER) {
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) packed[i] = (value[i]! - min) * n + i;
    packed.sort();
    for (let k = 0; k < n; k++) out[k] = views[packed[k]! % n]!;
  } else {
    const at = new Uint32Array(n);
    for (let i = 0; i < n; i++) at[i] = i;
    at.sort((a, b) => value[a]! - value[b]! || a - b);
    for (let k = 0; k < n; k++) out[k] = views[at[k]!]!;
  }
  return out;
}

/**
 * `views`, given in key order (`byKeyText`), in `spec`'s order: the same result as sorting them with
 * `comparator(spec)`, because the comparator's tie-break is key order, which a stable sort by the column's
 * value alone keeps. No comparator runs on the views: ~10 ms for 100k locks, against ~100 ms with it.
 */
export function sortKeyOrdered(views: readonly LockView[], spec: SortSpec): LockView[] {
  const reader = new ColumnReader(views, spec.key);
  reader.read(0, views.length);
  return orderBy(views, directed(reader.finish(), spec.dir));
}

function directed(values: Float64Array, dir: SortDir): Float64Array {
  if (dir === 'desc') for (let i = 0; i < values.length; i++) values[i] = -values[i]!;
  return values;
}

const escapeRegExp = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The filter as one cheap test per lock: set lookups, then one case-insensitive regular expression per term
 * against the key, the owner and the node (no lower-cased copies: nothing is allocated per lock; measured faster than
 * `toLowerCase().includes()` in Chromium).
 */
export function predicate(f: LockFilter): ((v: LockView) => boolean) | null {
  if (!isFilterActive(f)) return null;
  const terms = f.text
    .split(/\s+/)
    .filter(Boolean)
    .map((t) => new RegExp(escapeRegExp(escapeHiddenChars(t)), 'i'));
  const states = f.states.size ? f.states : null;
  const libs = f.libraries.size ? f.libraries : null;
  return (v) => {
    if (states && !states.has(v.state)) return false;
    if (libs && !libs.has(v.library)) return false;
    for (const re of terms) {
      if (!re.test(v.key.text) && !(v.owner !== null && re.test(v.owner.text)) && !(v.node !== null && re.test(v.node))) return false;
    }
    return true;
  };
}

/**
 * Rows a filter tests per slice: ~10 ms in Chromium, where testing 100k rows in display order is ~50–100 ms
 * (each row a few cache misses away from the last). A smaller table is filtered at once.
 */
export const FILTER_SLICE = 16_384;
/**
 * Rows whose sort value a new order looks up and reads per slice (~5–10 ms in Chromium, more the first time the
 * code runs); a table this small is sorted at once, a bigger one from the next task on (`work`).
 */
export const SORT_SLICE = 16_384;

/**
 * A new order being prepared in slices: `all` keeps the previous order (and takes changes) meanwhile; the
 * changes are replayed onto the new order when it is done.
 */
interface PendingSort {
  spec: SortSpec;
  /** `byKey` when it started; `keys[0, at)` have been looked up. */
  keys: BytesView[];
  at: number;
  /** The views of those keys still there when looked up, in key order; their values go into `reader`. */
  views: LockView[];
  reader: ColumnReader;
  /** Changes since it started, in order: [prev, next] (an upsert; no prev: new) or [prev, undefined] (removal). */
  changes: [prev: LockView | undefined, next: LockView | undefined][];
}

/** A filter being applied in slices: `shown` holds the matches among `source[0, at)`. */
interface FilterScan {
  /** `all` when the scan started. */
  source: LockView[];
  at: number;
  /** Views replaced or removed since the scan started: skipped when the scan reaches them. */
  stale: Set<LockView>;
}

const sameSort = (a: SortSpec, b: SortSpec) => a.key === b.key && a.dir === b.dir;

function emptyStateCounts(): Record<LockState, number> {
  return Object.fromEntries(LOCK_STATES.map((s) => [s, 0])) as Record<LockState, number>;
}

export class LockModel {
  readonly byId = new Map<string, LockView>();
  readonly stateCounts: Record<LockState, number> = emptyStateCounts();
  readonly libraryCounts = new Map<LibraryId, number>();
  private sortSpec: SortSpec = DEFAULT_SORT;
  private filterSpec: LockFilter = NO_FILTER;
  private cmp: Cmp = comparator(DEFAULT_SORT);
  private pred: ((v: LockView) => boolean) | null = null;
  private all: SortedList<LockView>;
  private byKey: SortedList<BytesView>;
  private shown: SortedList<LockView> | null = null;
  /** While a snapshot arrives in parts: ids shown before it that no part or change has mentioned yet. */
  private unseen: Set<string> | null = null;
  /** The order `all` is in (`sortSpec` is the one asked for; they differ while a new order is prepared). */
  private allSpec: SortSpec = DEFAULT_SORT;
  private sorting: PendingSort | null = null;
  private scan: FilterScan | null = null;

  /**
   * `blockSize`: rows per block of the sorted lists; `slice`: rows per `work` slice of a filter or a new order
   * (tests make them small, to exercise block splits and work in slices).
   */
  constructor(
    private readonly blockSize?: number,
    private readonly slice: { filter?: number; sort?: number } = {},
  ) {
    this.all = new SortedList<LockView>(this.cmp, [], blockSize);
    this.byKey = new SortedList<BytesView>(keyOrder, [], blockSize);
  }

  /** The rows to display, in order: every lock, or those matching the filter. */
  get rows(): RowList<LockView> {
    return this.shown ?? this.all;
  }

  /** Every lock, in order. */
  get sorted(): RowList<LockView> {
    return this.all;
  }

  get size(): number {
    return this.byId.size;
  }

  get sort(): SortSpec {
    return this.sortSpec;
  }

  get filter(): LockFilter {
    return this.filterSpec;
  }

  /** The filter is still being applied: `rows` holds the matches found so far. */
  get filtering(): boolean {
    return this.scan !== null;
  }

  /** A new order or filter is still being applied (in slices): call `work` until this is false. */
  get busy(): boolean {
    return this.sorting !== null || this.scan !== null;
  }

  /** Does the next slice of a new order (SORT_SLICE rows) or, after it, of a filter (FILTER_SLICE rows). */
  work(): void {
    if (this.sorting) this.sortSlice();
    else this.scanSlice();
  }

  private sortSlice(): void {
    const s = this.sorting!;
    const { keys, views } = s;
    const size = this.slice.sort ?? SORT_SLICE;
    if (s.at < keys.length) {
      const end = Math.min(keys.length, s.at + size);
      const from = views.length;
      for (let i = s.at; i < end; i++) {
        const v = this.byId.get(keys[i]!.base64);
        if (v) views.push(v);
      }
      s.reader.read(from, views.length);
      s.at = end;
      // A table of more than one slice gets a slice of its own for the ordering itself.
      if (end < keys.length || keys.length > size) return;
    }
    this.sorting = null;
    this.swapOrder(s.spec, orderBy(views, directed(s.reader.finish(), s.spec.dir)), s.changes);
  }

  /**
   * `all` becomes `sorted` (in `spec`'s order) with `changes` replayed on top. A view was looked up when its
   * slice came, so a change may already be in (its `next` there, its `prev` not): each step checks.
   */
  private swapOrder(spec: SortSpec, sorted: LockView[], changes: PendingSort['changes'] = []): void {
    const cmp = comparator(spec);
    const all = new SortedList(cmp, sorted, this.blockSize);
    for (const [prev, next] of changes) {
      if (prev) all.discard(prev);
      if (next && all.indexOf(next, false) < 0) all.insert(next);
    }
    this.cmp = cmp;
    this.all = all;
    this.allSpec = spec;
    // The subset in the new order: the filter again, over the new order (in slices on a big table).
    if (this.pred) this.startScan();
  }

  private scanSlice(): void {
    const { scan, pred, shown } = this;
    if (!scan || !pred || !shown) return;
    const { source, stale } = scan;
    const end = Math.min(source.length, scan.at + (this.slice.filter ?? FILTER_SLICE));
    for (let i = scan.at; i < end; i++) {
      const v = source[i]!;
      if (pred(v) && !(stale.size > 0 && stale.has(v))) shown.insert(v); // in order: appended
    }
    scan.at = end;
    if (end === source.length) this.scan = null;
  }

  /** Replaces the whole table at once (a snapshot in one piece). */
  replaceAll(locks: readonly LockView[]): void {
    this.unseen = null;
    this.sorting = null;
    this.byId.clear();
    for (const l of locks) this.byId.set(l.id, l);
    // A later entry for the same id wins, as in a change batch.
    const views = locks.length === this.byId.size ? locks.slice() : [...this.byId.values()];
    views.sort(byKeyText);
    this.byKey = new SortedList(keyOrder, views.map((v) => v.key), this.blockSize);
    this.cmp = comparator(this.sortSpec);
    this.allSpec = this.sortSpec;
    this.all = new SortedList(this.cmp, sortKeyOrdered(views, this.sortSpec), this.blockSize);
    for (const s of LOCK_STATES) this.stateCounts[s] = 0;
    this.libraryCounts.clear();
    for (const l of views) this.count(l, 1);
    this.refilter();
  }

  /**
   * A snapshot starts arriving in parts: apply each part with `apply(part, [])` (and changes as they come), then
   * call `endSnapshot`. The table keeps what it shows meanwhile.
   */
  beginSnapshot(): void {
    this.unseen = this.byId.size ? new Set(this.byId.keys()) : null;
  }

  /** The snapshot is complete: drops the locks shown before it that it did not mention (gone meanwhile). */
  endSnapshot(): void {
    const gone = this.unseen;
    this.unseen = null;
    if (!gone?.size) return;
    if (gone.size <= 256) {
      this.apply([], [...gone]);
      return;
    }
    // Many: one pass over the lists beats a binary search and a splice each.
    for (const id of gone) {
      const v = this.byId.get(id);
      if (!v) continue;
      this.byId.delete(id);
      this.count(v, -1);
      this.scan?.stale.add(v);
    }
    const kept = (v: LockView) => this.byId.get(v.id) === v;
    this.all = this.all.filter(kept);
    this.byKey = this.byKey.filter((k) => this.byId.get(k.base64)?.key === k);
    this.shown = this.shown?.filter(kept) ?? null;
    // A new order being prepared read some of them: start it again.
    if (this.sorting) this.startSort(this.sorting.spec);
  }

  /** Applies one change batch, or a part of a snapshot: upserts (complete views) then removals. */
  apply(upserts: readonly LockView[], removed: readonly string[]): void {
    const { pred, all, byKey, shown, unseen, scan } = this;
    const changes = this.sorting?.changes;
    for (const next of upserts) {
      const prev = this.byId.get(next.id);
      this.byId.set(next.id, next);
      changes?.push([prev, next]);
      if (prev) {
        // The lock keeps its `key` object (see the top of this file): `byKey` stays as it is.
        if (next.key !== prev.key) next.key = prev.key;
        this.count(prev, -1);
        all.replace(prev, next);
      } else {
        all.insert(next);
        byKey.insert(next.key);
      }
      this.count(next, 1);
      unseen?.delete(next.id);
      if (scan && shown && pred) {
        // Mid-scan, a matching `prev` is in `shown` only if the scan has passed it; the scan skips it otherwise.
        if (prev) {
          scan.stale.add(prev);
          if (pred(prev)) shown.discard(prev);
        }
        if (pred(next)) shown.insert(next);
      } else if (shown && pred) {
        const was = prev !== undefined && pred(prev);
        const is = pred(next);
        if (was && is) shown.replace(prev, next);
        else if (was) shown.remove(prev);
        else if (is) shown.insert(next);
      }
    }
    for (const id of removed) {
      unseen?.delete(id);
      const prev = this.byId.get(id);
      if (!prev) continue;
      this.byId.delete(id);
      this.count(prev, -1);
      all.remove(prev);
      byKey.remove(prev.key);
      changes?.push([prev, undefined]);
      scan?.stale.add(prev);
      if (shown && pred?.(prev)) {
        if (scan) shown.discard(prev);
        else shown.remove(prev);
      }
    }
  }

  /**
   * Re-sorts everything: only when the user changes the sort. Starts from key order (see `sortKeyOrdered`); on
   * a big table the sort values are read in slices (`work`), and the rows keep their order until it is done.
   */
  setSort(spec: SortSpec): void {
    if (sameSort(spec, this.sortSpec)) return;
    this.sortSpec = spec;
    if (sameSort(spec, this.allSpec)) this.sorting = null; // back to the order on screen
    else this.startSort(spec);
  }

  private startSort(spec: SortSpec): void {
    const keys = this.byKey.toArray();
    const views: LockView[] = [];
    this.sorting = { spec, keys, at: 0, views, reader: new ColumnReader(views, spec.key, keys.length), changes: [] };
    if (keys.length <= (this.slice.sort ?? SORT_SLICE)) this.sortSlice();
  }

  setFilter(filter: LockFilter): void {
    this.filterSpec = filter;
    this.refilter();
  }

  /** Position of a lock in `rows` (binary search), or -1 when it is not shown (or not found yet by the filter). */
  indexOf(id: string): number {
    const v = this.byId.get(id);
    if (!v || (this.pred && !this.pred(v))) return -1;
    return this.shown ? this.shown.indexOf(v, this.scan === null) : this.all.indexOf(v);
  }

  private refilter(): void {
    this.pred = predicate(this.filterSpec);
    if (this.pred) this.startScan();
    else {
      this.scan = null;
      this.shown = null;
    }
  }

  /** Applies `pred` to `all` afresh: the first slice now (a small table entirely), the rest in `work`. */
  private startScan(): void {
    this.shown = new SortedList<LockView>(this.cmp, [], this.blockSize);
    this.scan = { source: this.all.toArray(), at: 0, stale: new Set() };
    this.scanSlice();
  }

  private count(v: LockView, d: 1 | -1): void {
    this.stateCounts[v.state] += d;
    const n = (this.libraryCounts.get(v.library) ?? 0) + d;
    if (n) this.libraryCounts.set(v.library, n);
    else this.libraryCounts.delete(v.library);
  }
}
