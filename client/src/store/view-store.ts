import { create } from 'zustand';
import type { LibraryId, LockState } from '../../../shared/locks';
import { FIRST_DIR, type LockFilter, type SortKey, type SortSpec } from './lock-model';
import { continueModelWork, lockModel, publishNow } from './lock-store';
import { formatUrlState, parseUrlState, type View } from './url-state';

/**
 * What the user is looking at: filter, sort, selected lock, whether its details are open. Each change is applied
 * to `lockModel` at once (the new rows show in the same render) and written to the URL, so a link reproduces it.
 */
export interface ViewState {
  /** The target asked for (URL `target`), or null for the first; the table shows it once its snapshot arrives. */
  target: string | null;
  q: string;
  states: ReadonlySet<LockState>;
  libraries: ReadonlySet<LibraryId>;
  sort: SortSpec;
  /** The row under the keyboard/mouse cursor (base64 key); in the URL as `lock` while its details are open. */
  selected: string | null;
  /** Whether the detail panel shows the selected lock. */
  detailOpen: boolean;
  /** The page's tab (locks table or audit log), in the URL as `view`. */
  view: View;
  setQuery(q: string): void;
  toggleState(state: LockState): void;
  setStates(states: Iterable<LockState>): void;
  setLibraries(libraries: Iterable<LibraryId>): void;
  clearFilters(): void;
  /** Sort by a column: a new column starts in its natural direction, the current one flips. */
  sortBy(key: SortKey): void;
  select(id: string | null, open?: boolean): void;
  openDetail(): void;
  closeDetail(): void;
  setView(view: View): void;
  /** Shows another target: the selection and details close (its locks are another table). */
  setTarget(target: string): void;
  /** Show a lock in the table with its details open (e.g. from the audit log). */
  reveal(id: string): void;
}

function initial() {
  const u = parseUrlState(typeof location === 'undefined' ? '' : location.search);
  return {
    target: u.target,
    q: u.q,
    states: u.states,
    libraries: u.libraries,
    sort: u.sort,
    selected: u.lock,
    detailOpen: u.lock !== null,
    view: u.view,
  };
}

export const useViewStore = create<ViewState>()((set, get) => ({
  ...initial(),
  setQuery: (q) => set({ q }),
  toggleState: (state) => {
    const states = new Set(get().states);
    if (!states.delete(state)) states.add(state);
    set({ states });
  },
  setStates: (states) => set({ states: new Set(states) }),
  setLibraries: (libraries) => set({ libraries: new Set(libraries) }),
  clearFilters: () => set({ q: '', states: new Set(), libraries: new Set() }),
  sortBy: (key) => {
    const { sort } = get();
    set({ sort: sort.key === key ? { key, dir: sort.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: FIRST_DIR[key] } });
  },
  select: (selected, open) => set((s) => ({ selected, detailOpen: selected !== null && (open ?? s.detailOpen) })),
  openDetail: () => set((s) => ({ detailOpen: s.selected !== null })),
  closeDetail: () => set({ detailOpen: false }),
  setView: (view) => set({ view }),
  setTarget: (target) => set((s) => (s.target === target ? s : { target, selected: null, detailOpen: false })),
  reveal: (id) => set({ view: 'locks', selected: id, detailOpen: true }),
}));

export function filterOf(s: Pick<ViewState, 'q' | 'states' | 'libraries'>): LockFilter {
  return { text: s.q, states: s.states, libraries: s.libraries };
}

/** Keeps the model and the address bar in step with the view state. Call once, before the first render. */
export function connectViewState(): () => void {
  const s = useViewStore.getState();
  lockModel.setSort(s.sort);
  lockModel.setFilter(filterOf(s));
  continueModelWork();
  return useViewStore.subscribe((next, prev) => {
    let changed = false;
    if (next.sort !== prev.sort) {
      lockModel.setSort(next.sort);
      changed = true;
    }
    if (next.q !== prev.q || next.states !== prev.states || next.libraries !== prev.libraries) {
      lockModel.setFilter(filterOf(next));
      changed = true;
    }
    if (changed) {
      publishNow();
      continueModelWork();
    }
    // A closed panel leaves the link: reloading it must not reopen what Esc closed (the selection stays in memory).
    const lock = next.detailOpen ? next.selected : null;
    const search = formatUrlState(
      { target: next.target, q: next.q, states: next.states, libraries: next.libraries, sort: next.sort, lock, view: next.view },
      location.search,
    );
    if (search !== location.search) history.replaceState(history.state, '', `${location.pathname}${search}${location.hash}`);
  });
}
