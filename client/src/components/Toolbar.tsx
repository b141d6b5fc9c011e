import { useEffect, useId, useRef, useState } from 'react';
import type { LibraryId, LockState } from '../../../shared/locks';
import { libraryLabel, STATE_LABEL } from '../lib/format';
import { isFilterActive, URGENCY } from '../store/lock-model';
import { lockModel, useLocksVersion, useViewedTarget } from '../store/lock-store';
import { filterOf, useViewStore } from '../store/view-store';
import { STATE_DOT } from './StateBadge';

/** The filter box, for the `/` shortcut. */
export const filterInput: { current: HTMLInputElement | null } = { current: null };

const ORDER = (Object.keys(URGENCY) as LockState[]).sort((a, b) => URGENCY[a] - URGENCY[b]);
/** Libraries in the table (and any filtered on), by label; declared formats show their own label. */
function libraryOptions(present: Iterable<LibraryId>, selected: Iterable<LibraryId>): LibraryId[] {
  const label = (l: LibraryId) => libraryLabel(l).toLowerCase();
  return [...new Set([...present, ...selected])].sort((a, b) => (label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : 0));
}

const CONTROL =
  'h-8 rounded-md border border-slate-300 bg-white px-2 text-sm text-slate-900 focus:border-sky-500 focus:outline-2 focus:outline-sky-500/40 dark:border-slate-600 dark:bg-slate-900 dark:text-slate-100';

/** Text filter over key and owner (and node, in a cluster), library and state filters, and how many rows they leave. */
export function Toolbar() {
  useLocksVersion();
  const view = useViewStore();
  const what = useViewedTarget()?.kind === 'cluster' ? 'Filter by key, owner or node' : 'Filter by key or owner';
  const active = isFilterActive(filterOf(view));
  const libs = [...view.libraries];
  const libValue = libs.length === 0 ? '' : libs.length === 1 ? libs[0]! : '*';
  return (
    <div className="flex flex-wrap items-center gap-2 px-4 py-2">
      <div className="relative w-80 max-w-full min-w-48 flex-initial">
        <svg aria-hidden viewBox="0 0 16 16" className="pointer-events-none absolute top-2 left-2 h-4 w-4 fill-none stroke-slate-400 stroke-[1.5]">
          <circle cx="7" cy="7" r="4.5" />
          <path d="m10.5 10.5 3.5 3.5" />
        </svg>
        <input
          ref={(el) => {
            filterInput.current = el;
          }}
          type="search"
          aria-label={what}
          placeholder={what}
          spellCheck={false}
          autoComplete="off"
          value={view.q}
          onChange={(e) => view.setQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key !== 'Escape') return;
            // A search field empties itself on Esc; here Esc only leaves the box (and closes the details), keeping
            // the filter. Handled here because the browser's clearing cannot be undone afterwards.
            e.preventDefault();
            e.currentTarget.blur();
            if (view.detailOpen) view.closeDetail();
          }}
          className={`${CONTROL} w-full pr-8 pl-8 font-mono`}
        />
        <kbd
          aria-hidden
          className="pointer-events-none absolute top-1.5 right-2 rounded border border-slate-300 px-1.5 font-mono text-xs text-slate-500 dark:border-slate-600 dark:text-slate-400"
        >
          /
        </kbd>
      </div>
      <label className="sr-only" htmlFor="library-filter">
        Library
      </label>
      <select
        id="library-filter"
        value={libValue}
        onChange={(e) => view.setLibraries(e.target.value ? [e.target.value as LibraryId] : [])}
        className={CONTROL}
      >
        <option value="">All libraries</option>
        {libValue === '*' && (
          <option value="*" disabled>
            {libs.length} libraries
          </option>
        )}
        {libraryOptions(lockModel.libraryCounts.keys(), view.libraries).map((l) => (
          <option key={l} value={l}>
            {libraryLabel(l)} ({(lockModel.libraryCounts.get(l) ?? 0).toLocaleString('en-US')})
          </option>
        ))}
      </select>
      <StateMenu />
      {/* Not a live region: under a stream of changes it would talk constantly. */}
      <p className="ml-1 text-xs text-slate-600 dark:text-slate-400" data-testid="shown-count">
        {active ? (
          <>
            <strong className="font-semibold text-slate-900 tabular-nums dark:text-slate-100">{lockModel.rows.length.toLocaleString('en-US')}</strong> of{' '}
            {lockModel.size.toLocaleString('en-US')} locks match
          </>
        ) : (
          <>{lockModel.size.toLocaleString('en-US')} locks</>
        )}
      </p>
      {active && (
        <button
          type="button"
          onClick={view.clearFilters}
          className="rounded px-2 py-1 text-xs font-medium text-sky-700 hover:bg-sky-50 dark:text-sky-400 dark:hover:bg-sky-950"
        >
          Clear filters
        </button>
      )}
    </div>
  );
}

/** A drop-down of state checkboxes (the summary bar's chips toggle the same filter). */
function StateMenu() {
  const states = useViewStore((s) => s.states);
  const toggleState = useViewStore((s) => s.toggleState);
  const setStates = useViewStore((s) => s.setStates);
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const id = useId();
  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent) => {
      if (!box.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', onDown);
    return () => document.removeEventListener('pointerdown', onDown);
  }, [open]);
  return (
    <div
      ref={box}
      className="relative"
      onKeyDown={(e) => {
        if (e.key === 'Escape' && open) {
          e.stopPropagation();
          setOpen(false);
          box.current?.querySelector('button')?.focus();
        }
      }}
    >
      <button
        type="button"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen((o) => !o)}
        className={`${CONTROL} inline-flex items-center gap-1.5 ${states.size ? 'border-sky-600 dark:border-sky-500' : ''}`}
      >
        State filter
        {states.size > 0 && <span className="rounded bg-sky-600 px-1.5 text-xs font-semibold text-white">{states.size}</span>}
        <span aria-hidden className="text-xs text-slate-500">▾</span>
      </button>
      {open && (
        <fieldset
          id={id}
          className="absolute top-9 left-0 z-30 w-56 rounded-md border border-slate-200 bg-white p-2 shadow-lg dark:border-slate-700 dark:bg-slate-900"
        >
          <legend className="sr-only">Show locks in these states</legend>
          {ORDER.map((s) => (
            <label key={s} className="flex cursor-pointer items-center gap-2 rounded px-2 py-1 text-sm hover:bg-slate-100 dark:hover:bg-slate-800">
              <input type="checkbox" checked={states.has(s)} onChange={() => toggleState(s)} className="accent-sky-600" />
              <span aria-hidden className={`h-2 w-2 rounded-full ${STATE_DOT[s]}`} />
              {STATE_LABEL[s]}
            </label>
          ))}
          <button
            type="button"
            disabled={states.size === 0}
            onClick={() => setStates([])}
            className="mt-1 w-full rounded px-2 py-1 text-left text-xs text-sky-700 hover:bg-sky-50 disabled:text-slate-400 dark:text-sky-400 dark:hover:bg-slate-800"
          >
            Any state
          </button>
        </fieldset>
      )}
    </div>
  );
}
