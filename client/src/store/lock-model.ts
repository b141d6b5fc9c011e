/**
 * The lock table as a data structure built for 100k locks and thousands of changes a second. Plain TypeScript,
 * no React: `lock-store.ts` wraps it and tells React about changes at most once per animation frame.
 *
 * - `byId` holds the current view of every lock.
 * - `all` holds every view in display order, in a block list (`sorted-list.ts`). Each upsert removes the old
 *   view and inserts the new one by binary search (or replaces it in place when its position does not change),
 *   so nothing is ever re-sorted because of a change; only a change of sort order sorts everything again.
 * - With a filter active, `shown` is the matching subset, also in order and maintained the same way; without
 *   one, `rows` is `all` itself.
 * - Counts per state and per library are updated by difference.
 *
 * Views are never mutated (each change from the server is a new object), and every sort key is a function of
 * the view alone (TTL order is deadline order, held-for order is acquisition order), so an order stays valid
 * while time passes. Comparisons avoid `localeCompare`: plain code-unit order is stable and ~50× cheaper.
 */
import type { LibraryId, LockState, LockView } from '../../../shared/locks';
import { LOCK_STATES } from '../../../shared/locks';
import { LIBRARY_LABEL } from '../lib/format';
import { SortedList, type RowList } from './sorted-list';

export type SortKey = 'key' | 'library' | 'owner' | 'ttl' | 'heldFor' | 'renewals' | 'state';
export type SortDir = 'asc' | 'desc';
export interface SortSpec {
  key: SortKey;
  dir: SortDir;
}

export const SORT_KEYS: readonly SortKey[] = ['key', 'library', 'owner', 'ttl', 'heldFor', 'renewals', 'state'];
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
};

export interface LockFilter {
  /** Case-insensitive; every whitespace-separated term must occur in the key or the owner. */
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
  'held-too-long': 2,
  expiring: 3,
  'unexpected-type': 4,
  held: 5,
  released: 6,
  expired: 7,
};

/** States an operator is looking for in an incident: the "Needs attention" quick filter. */
export const PROBLEM_STATES: readonly LockState[] = ['no-ttl', 'renewal-overdue', 'held-too-long'];

type Cmp = (a: LockView, b: LockView) => number;

const str = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Libraries ranked by their label, case-insensitively, computed once. */
const LIBRARY_RANK = Object.fromEntries(
  (Object.keys(LIBRARY_LABEL) as LibraryId[])
    .sort((a, b) => str(LIBRARY_LABEL[a].toLowerCase(), LIBRARY_LABEL[b].toLowerCase()))
    .map((id, i) => [id, i]),
) as Record<LibraryId, number>;

/** Deadline order = remaining-TTL order at any instant; no TTL counts as infinite, an ended lock as beyond that. */
const NO_TTL_RANK = 1e16;
const ENDED_RANK = 2e16;
function ttlRank(v: LockView): number {
  if (v.endedAt !== null) return ENDED_RANK;
  return v.deadline ?? NO_TTL_RANK;
}

function primary(key: SortKey): Cmp {
  switch (key) {
    case 'key':
      return () => 0; // the key is the tie-break anyway
    case 'library':
      return (a, b) => LIBRARY_RANK[a.library] - LIBRARY_RANK[b.library];
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
  }
}

/**
 * A total order: the sort column in the chosen direction, then the key text, then the id (unique). Ties on
 * the column always read alphabetically, whichever the direction.
 */
export function comparator({ key, dir }: SortSpec): Cmp {
  const p = primary(key);
  const sign = dir === 'asc' ? 1 : -1;
  if (key === 'key') return (a, b) => sign * (str(a.key.text, b.key.text) || str(a.id, b.id));
  return (a, b) => sign * p(a, b) || str(a.key.text, b.key.text) || str(a.id, b.id);
}

const escapeRegExp = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The filter as one cheap test per lock: set lookups, then one case-insensitive regular expression per term
 * against the key and the owner (no lower-cased copies: nothing is allocated per lock).
 */
export function predicate(f: LockFilter): ((v: LockView) => boolean) | null {
  if (!isFilterActive(f)) return null;
  const terms = f.text
    .split(/\s+/)
    .filter(Boolean)
    .map((t) => new RegExp(escapeRegExp(t), 'i'));
  const states = f.states.size ? f.states : null;
  const libs = f.libraries.size ? f.libraries : null;
  return (v) => {
    if (states && !states.has(v.state)) return false;
    if (libs && !libs.has(v.library)) return false;
    for (const re of terms) if (!re.test(v.key.text) && !(v.owner !== null && re.test(v.owner.text))) return false;
    return true;
  };
}

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
  private shown: SortedList<LockView> | null = null;

  /** `blockSize`: rows per block of the sorted lists (tests make it small to exercise block splits). */
  constructor(private readonly blockSize?: number) {
    this.all = new SortedList<LockView>(this.cmp, [], blockSize);
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

  /** Replaces the whole table (a snapshot). */
  replaceAll(locks: readonly LockView[]): void {
    this.byId.clear();
    for (const l of locks) this.byId.set(l.id, l);
    // A later entry for the same id wins, as in a change batch.
    const views = locks.length === this.byId.size ? locks.slice() : [...this.byId.values()];
    views.sort(this.cmp);
    this.all = new SortedList(this.cmp, views, this.blockSize);
    for (const s of LOCK_STATES) this.stateCounts[s] = 0;
    this.libraryCounts.clear();
    for (const l of views) this.count(l, 1);
    this.refilter();
  }

  /** Applies one change batch: upserts (complete views) then removals. */
  apply(upserts: readonly LockView[], removed: readonly string[]): void {
    const { pred, all, shown } = this;
    for (const next of upserts) {
      const prev = this.byId.get(next.id);
      this.byId.set(next.id, next);
      if (prev) {
        this.count(prev, -1);
        all.replace(prev, next);
      } else {
        all.insert(next);
      }
      this.count(next, 1);
      if (shown && pred) {
        const was = prev !== undefined && pred(prev);
        const is = pred(next);
        if (was && is) shown.replace(prev, next);
        else if (was) shown.remove(prev);
        else if (is) shown.insert(next);
      }
    }
    for (const id of removed) {
      const prev = this.byId.get(id);
      if (!prev) continue;
      this.byId.delete(id);
      this.count(prev, -1);
      all.remove(prev);
      if (shown && pred?.(prev)) shown.remove(prev);
    }
  }

  /** Re-sorts everything: only when the user changes the sort. */
  setSort(spec: SortSpec): void {
    if (spec.key === this.sortSpec.key && spec.dir === this.sortSpec.dir) return;
    this.sortSpec = spec;
    this.cmp = comparator(spec);
    this.all.resort(this.cmp);
    // The subset keeps its members; sorting it is cheaper than filtering again.
    this.shown?.resort(this.cmp);
  }

  setFilter(filter: LockFilter): void {
    this.filterSpec = filter;
    this.refilter();
  }

  /** Position of a lock in `rows` (binary search), or -1 when it is not shown. */
  indexOf(id: string): number {
    const v = this.byId.get(id);
    if (!v || (this.pred && !this.pred(v))) return -1;
    return (this.shown ?? this.all).indexOf(v);
  }

  private refilter(): void {
    this.pred = predicate(this.filterSpec);
    this.shown = this.pred ? this.all.filter(this.pred) : null;
  }

  private count(v: LockView, d: 1 | -1): void {
    this.stateCounts[v.state] += d;
    const n = (this.libraryCounts.get(v.library) ?? 0) + d;
    if (n) this.libraryCounts.set(v.library, n);
    else this.libraryCounts.delete(v.library);
  }
}
