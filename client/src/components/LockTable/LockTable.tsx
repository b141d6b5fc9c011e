import { elementScroll, useVirtualizer, type Virtualizer } from '@tanstack/react-virtual';
import { memo, useEffect, useMemo, useRef, useState, type MouseEvent, type ReactNode } from 'react';
import type { LockView } from '../../../../shared/locks';
import { useWidth } from '../../hooks/useWidth';
import { libraryLabel, libraryShort } from '../../lib/format';
import type { SortKey } from '../../store/lock-model';
import { lockModel, useLocksVersion, useLockStore, useViewedTarget } from '../../store/lock-store';
import { useViewStore } from '../../store/view-store';
import { LockActions } from '../Admin/LockActions';
import { useAdminStore } from '../Admin/admin-store';
import { EscapeMark, ShownBytes } from '../ShownText';
import { StateBadge } from '../StateBadge';
import { ACTIONS_FULL_WIDTH, ACTIONS_SELECT_WIDTH, FIXED_WIDTH, HEADER_HEIGHT, ROW_HEIGHT, tableLayout, type ActionsColumn } from './layout';
import { useTableKeyboard } from './useTableKeyboard';
import { HeldForCell, TtlCell } from './TtlCell';
import { holdersText, permitsText } from '../DetailPanel/Holders';

interface Column {
  key: SortKey;
  label: string;
  right?: boolean;
}

const COLUMNS: Column[] = [
  { key: 'key', label: 'Key' },
  { key: 'library', label: 'Library' },
  { key: 'owner', label: 'Owner' },
  { key: 'ttl', label: 'TTL', right: true },
  { key: 'heldFor', label: 'Held for', right: true },
  { key: 'renewals', label: 'Renewals', right: true },
  { key: 'node', label: 'Node' },
  { key: 'state', label: 'State' },
];

/** TanStack Virtual's element size, from ResizeObserver entries alone (its default reads the element first). */
function observeSize(instance: Virtualizer<HTMLDivElement, Element>, cb: (rect: { width: number; height: number }) => void) {
  const el = instance.scrollElement;
  if (!el) return;
  const observer = new ResizeObserver(([entry]) => cb({ width: Math.round(entry!.contentRect.width), height: Math.round(entry!.contentRect.height) }));
  observer.observe(el);
  return () => observer.disconnect();
}

/** Rows rendered beyond the visible ones, above and below. */
const OVERSCAN = 10;
/** The page's other parts above and below the table never take less than this (px). */
const CHROME_MIN_HEIGHT = 120;

const placed = new WeakSet<Element>();

/**
 * TanStack Virtual's scrolling, less the "scroll to 0" it does on mount: a new scroll element is at 0 already, and
 * scrolling it would force the page's first layout inside the first render.
 */
function scrollUnlessPlaced(offset: number, options: { adjustments?: number; behavior?: ScrollBehavior }, instance: Virtualizer<HTMLDivElement, Element>) {
  const el = instance.scrollElement;
  if (el && !placed.has(el)) {
    placed.add(el);
    if (offset + (options.adjustments ?? 0) === 0) return;
  }
  elementScroll(offset, options, instance);
}

/**
 * The live lock table: only the rows in view are in the DOM (TanStack Virtual), rows re-render only when their
 * lock changed (memo on the immutable view), and the data comes from `lockModel` in display order.
 */
export function LockTable() {
  useLocksVersion();
  const rows = lockModel.rows;
  const total = lockModel.size;
  const clockOffsetMs = useLockStore((s) => s.clockOffsetMs);
  const haveSnapshot = useLockStore((s) => s.snapshot !== null);
  const admin = useAdminStore((s) => s.session?.admin === 'allowed');
  const stale = useLockStore((s) => s.staleSince !== null);
  const sort = useViewStore((s) => s.sort);
  const sortBy = useViewStore((s) => s.sortBy);
  const q = useViewStore((s) => s.q);
  const states = useViewStore((s) => s.states);
  const libraries = useViewStore((s) => s.libraries);
  const selected = useViewStore((s) => s.selected);
  const detailOpen = useViewStore((s) => s.detailOpen);
  const select = useViewStore((s) => s.select);
  const clearFilters = useViewStore((s) => s.clearFilters);
  const cluster = useViewedTarget()?.kind === 'cluster';
  const scrollRef = useRef<HTMLDivElement>(null);
  const tableRef = useRef<HTMLTableElement>(null);

  // The width the columns share (scrollbar excluded): decides which columns fit. The table spans the window
  // until it is measured.
  const width = useWidth(scrollRef, () => window.innerWidth);
  const layout = useMemo(() => tableLayout(width, { admin, detailOpen, cluster }), [width, admin, detailOpen, cluster]);
  const columns = COLUMNS.filter((c) => !layout.hidden.has(c.key));
  const columnKeys = columns.map((c) => c.key).join(',');

  // The first rows to paint are the ones in view: rows beyond it (for smooth scrolling) follow in the next frame, so
  // that the page's first frame with rows styles and lays out as few as it can.
  const [overscan, setOverscan] = useState(0);
  const painted = rows.length > 0;
  useEffect(() => {
    if (!painted) return;
    const frame = requestAnimationFrame(() => setOverscan(OVERSCAN));
    return () => cancelAnimationFrame(frame);
  }, [painted]);

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    // Row positions start below the sticky header, and scrolling to a row keeps it clear of it.
    paddingStart: HEADER_HEIGHT,
    scrollPaddingStart: HEADER_HEIGHT,
    overscan,
    // Sized by a ResizeObserver only, from a first guess no smaller than it can be (the window, less the header,
    // tabs, summary, toolbar and simulator bar): never by reading the element, which would force the first layout
    // into the first render.
    initialRect: { width: window.innerWidth, height: Math.max(ROW_HEIGHT, window.innerHeight - CHROME_MIN_HEIGHT) },
    observeElementRect: observeSize,
    scrollToFn: scrollUnlessPlaced,
  });
  useTableKeyboard(virtualizer, tableRef);

  // A new filter or sort is a new list: start at its top.
  const shownFor = useRef({ sort, q, states, libraries });
  const pendingReveal = useRef<string | null>(selected);
  useEffect(() => {
    const before = shownFor.current;
    if (before.sort === sort && before.q === q && before.states === states && before.libraries === libraries) return;
    shownFor.current = { sort, q, states, libraries };
    pendingReveal.current = null;
    virtualizer.scrollToOffset(0);
  }, [sort, q, states, libraries, virtualizer]);

  // A lock selected from elsewhere (a shared link, the audit log) is brought into view once it is in the table;
  // rows picked with the mouse or the keyboard are already in view, so this does nothing for them.
  const lastSelected = useRef(selected);
  useEffect(() => {
    if (lastSelected.current !== selected) {
      lastSelected.current = selected;
      pendingReveal.current = selected;
    }
    const id = pendingReveal.current;
    if (id === null) return;
    const i = lockModel.indexOf(id);
    if (i >= 0) {
      pendingReveal.current = null;
      virtualizer.scrollToIndex(i, { align: 'auto' });
    } else if (haveSnapshot && !lockModel.byId.has(id)) {
      // Not tracked (any more): do not jump there if it is taken again minutes later.
      pendingReveal.current = null;
    }
  });

  const items = virtualizer.getVirtualItems();
  const padTop = (items[0]?.start ?? HEADER_HEIGHT) - HEADER_HEIGHT;
  const padBottom = virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? HEADER_HEIGHT);
  const tabStop = selected !== null && lockModel.indexOf(selected) >= 0 ? selected : (rows.at(0)?.id ?? null);

  const onRowClick = (e: MouseEvent<HTMLTableSectionElement>) => {
    const id = (e.target as HTMLElement).closest('tr')?.dataset.lockId;
    if (id) select(id, true);
  };

  return (
    <div ref={scrollRef} className="min-h-0 flex-1 overflow-auto" data-testid="lock-table-scroll">
      <table
        ref={tableRef}
        className="w-full table-fixed border-collapse text-sm"
        style={{ minWidth: layout.minWidth }}
        aria-label="Locks"
        aria-rowcount={rows.length + 1}
        aria-colcount={columns.length + (layout.actions ? 1 : 0)}
        data-stale={stale || undefined}
      >
        <colgroup>
          {columns.map((c) => (
            // The key column takes whatever the others leave (at least KEY_MIN: see `tableLayout`).
            <col key={c.key} style={{ width: c.key === 'key' ? undefined : c.key === 'owner' ? layout.ownerWidth : FIXED_WIDTH[c.key] }} />
          ))}
          {layout.actions && <col style={{ width: layout.actions === 'full' ? ACTIONS_FULL_WIDTH : ACTIONS_SELECT_WIDTH }} />}
        </colgroup>
        <thead className="sticky top-0 z-10 bg-slate-100 text-left text-xs text-slate-600 shadow-[0_1px_0_var(--color-slate-200)] dark:bg-slate-800 dark:text-slate-300 dark:shadow-[0_1px_0_var(--color-slate-700)]">
          <tr style={{ height: HEADER_HEIGHT }} aria-rowindex={1}>
            {columns.map((c) => {
              const active = sort.key === c.key;
              return (
                <th key={c.key} scope="col" aria-sort={active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'} className="p-0 font-semibold">
                  <button
                    type="button"
                    onClick={() => sortBy(c.key)}
                    title={`Sort by ${c.label.toLowerCase()}`}
                    className={`flex h-8 w-full items-center gap-1 px-3 whitespace-nowrap hover:bg-slate-200 hover:text-slate-900 focus-visible:outline-2 focus-visible:-outline-offset-2 focus-visible:outline-sky-500 dark:hover:bg-slate-700 dark:hover:text-white ${
                      c.right ? 'justify-end' : ''
                    } ${active ? 'text-slate-900 dark:text-white' : ''}`}
                  >
                    {c.right && <SortArrow active={active} dir={sort.dir} />}
                    {c.label}
                    {!c.right && <SortArrow active={active} dir={sort.dir} />}
                  </button>
                </th>
              );
            })}
            {layout.actions === 'full' && (
              <th scope="col" className="px-3 font-semibold">
                Actions
              </th>
            )}
            {layout.actions === 'select' && (
              <th scope="col" className="px-3 font-semibold" title="Select locks for bulk release; the detail panel has the actions">
                <span className="sr-only">Select for bulk release</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody onClick={onRowClick} className={stale ? 'opacity-70 grayscale-[40%]' : undefined}>
          {padTop > 0 && <tr aria-hidden style={{ height: padTop }} />}
          {items.map((item) => {
            const lock = rows.at(item.index)!;
            return (
              <LockRow
                key={lock.id}
                lock={lock}
                index={item.index}
                selected={lock.id === selected}
                tabStop={lock.id === tabStop}
                clockOffsetMs={clockOffsetMs}
                columns={columnKeys}
                actions={layout.actions}
              />
            );
          })}
          {padBottom > 0 && <tr aria-hidden style={{ height: padBottom }} />}
        </tbody>
      </table>
      {rows.length === 0 &&
        (total === 0 ? (
          <EmptyTable />
        ) : lockModel.filtering ? (
          // A filter on a big table is applied in slices: none found yet is not "none match".
          <p className="p-8 text-center text-slate-500 dark:text-slate-400">Filtering…</p>
        ) : (
          <p className="p-8 text-center text-slate-500 dark:text-slate-400">
            No lock matches these filters ({total.toLocaleString('en-US')} hidden).{' '}
            <button type="button" onClick={clearFilters} className="font-medium text-sky-700 underline dark:text-sky-400">
              Clear filters
            </button>
          </p>
        ))}
    </div>
  );
}

/**
 * An empty table says why it is empty: "no locks" only when lockscope could look everywhere; otherwise that it
 * cannot see (a permission), cannot reach Redis, or has not finished looking.
 */
function EmptyTable() {
  const target = useViewedTarget();
  const haveSnapshot = useLockStore((s) => s.snapshot !== null);
  const unreadable = target?.nodes.reduce((n, node) => n + node.unreadableKeys, 0) ?? 0;
  let text: string;
  let tone = 'text-slate-500 dark:text-slate-400';
  if (!target || !haveSnapshot || target.health === 'starting') text = 'Looking for locks…';
  else if (target.health === 'blind') {
    text = `This empty table says nothing about the locks in this Redis: ${target.problem ?? 'lockscope cannot list them.'}`;
    tone = 'font-medium text-red-700 dark:text-red-400';
  } else if (target.health === 'down') {
    text = `${target.problem ?? 'Redis is unreachable.'} This table is empty because lockscope cannot look, not because no lock is held.`;
    tone = 'font-medium text-red-700 dark:text-red-400';
  } else if (unreadable > 0) {
    text = `No lock that lockscope may read. ${unreadable.toLocaleString('en-US')} ${unreadable === 1 ? 'key' : 'keys'} matching the lock patterns could not be read (the Redis user has no key permission for ${unreadable === 1 ? 'it' : 'them'}).`;
    tone = 'font-medium text-amber-700 dark:text-amber-400';
  } else if (target.nodes.some((n) => n.connection !== 'ready')) {
    text = 'No locks on the nodes lockscope can reach; some nodes are unreachable (see the header).';
  } else text = 'No locks held right now. Keys matching the lock patterns appear here the moment they are taken.';
  return (
    <p className={`p-8 text-center ${tone}`} data-testid="empty-table">
      {text}
    </p>
  );
}

interface RowProps {
  lock: LockView;
  index: number;
  selected: boolean;
  /** The row whose controls are in the Tab order (roving tabindex): the selected row, else the first. */
  tabStop: boolean;
  clockOffsetMs: number;
  /** The data columns shown, comma-separated (a string, so the memo compares it by value). */
  columns: string;
  actions: ActionsColumn;
}

const LockRow = memo(function LockRow({ lock, index, selected, tabStop, clockOffsetMs, columns, actions }: RowProps) {
  const ended = lock.endedAt !== null;
  const stuck = lock.state === 'no-ttl';
  const shown = columns.split(',');
  const tone = selected
    ? 'bg-sky-100 shadow-[inset_3px_0_0_var(--color-sky-600)] dark:bg-sky-900/50 dark:shadow-[inset_3px_0_0_var(--color-sky-400)]'
    : stuck
      ? 'bg-red-50 hover:bg-red-100 dark:bg-red-950/40 dark:hover:bg-red-950/70'
      : 'hover:bg-slate-100 dark:hover:bg-slate-800/60';
  const cells: Record<string, () => ReactNode> = {
    key: () => (
      <td key="key" className="overflow-hidden px-3 font-mono" title={lock.key.text}>
        {/* A flex row, so that a narrow column shortens the key, not the mark in front of it. */}
        <div className="flex min-w-0 items-center">
          <EscapeMark view={lock.key} />
          <button type="button" tabIndex={tabStop ? 0 : -1} className="min-w-0 truncate text-left focus-visible:outline-2 focus-visible:outline-sky-500">
            <ShownBytes view={lock.key} />
          </button>
        </div>
      </td>
    ),
    library: () => (
      <td key="library" className="truncate px-3" title={libraryLabel(lock.library)}>
        {libraryShort(lock.library)}
      </td>
    ),
    owner: () =>
      lock.holders ? (
        <td key="owner" className="truncate px-3 text-xs" title={holdersTitle(lock)} data-testid="holders-summary">
          <HoldersSummary lock={lock} />
        </td>
      ) : (
        <td key="owner" className="truncate px-3 font-mono text-xs" title={lock.owner?.text}>
          {lock.owner ? (
            <>
              <EscapeMark view={lock.owner} />
              <ShownBytes view={lock.owner} />
            </>
          ) : (
            <span className="text-slate-400">—</span>
          )}
          {lock.owner?.truncated && <span aria-hidden className="ml-1 text-slate-400">… ({lock.owner.sizeBytes} B)</span>}
        </td>
      ),
    ttl: () => (
      <td key="ttl" className="px-3 text-right whitespace-nowrap">
        <TtlCell lock={lock} clockOffsetMs={clockOffsetMs} />
      </td>
    ),
    heldFor: () => (
      <td key="heldFor" className="px-3 text-right whitespace-nowrap">
        <HeldForCell lock={lock} clockOffsetMs={clockOffsetMs} />
      </td>
    ),
    renewals: () => (
      <td key="renewals" className="px-3 text-right font-mono tabular-nums">
        {lock.renewals}
      </td>
    ),
    state: () => (
      <td key="state" className="truncate px-3">
        <StateBadge state={lock.state} />
      </td>
    ),
    node: () => (
      <td key="node" className="truncate px-3 font-mono text-xs" title={lock.node === null ? undefined : `${lock.node}, hash slot ${lock.slot}`}>
        {lock.node ?? <span className="text-slate-400">—</span>}
      </td>
    ),
  };
  return (
    <tr
      aria-rowindex={index + 2}
      aria-current={selected || undefined}
      data-lock-id={lock.id}
      data-state={lock.state}
      style={{ height: ROW_HEIGHT }}
      className={`cursor-pointer border-b border-slate-200 dark:border-slate-800 ${ended ? 'opacity-50' : ''} ${tone}`}
    >
      {shown.map((c) => cells[c]?.())}
      {actions && (
        <td className="px-3 whitespace-nowrap">
          <LockActions lock={lock} variant={actions === 'full' ? 'row' : 'select'} tabbable={tabStop} />
        </td>
      )}
    </tr>
  );
});

/** `3 holders · 3/5 permits · 1 stuck`: what a lock several hold at once shows in the owner column. */
function HoldersSummary({ lock }: { lock: LockView }) {
  const h = lock.holders!;
  const stuck = h.list.filter((x) => x.state !== 'held').length;
  return (
    <>
      <span className="font-medium">{holdersText(h)}</span>
      {permitsText(h) && <span className="text-slate-500 dark:text-slate-400"> · {permitsText(h)}</span>}
      {stuck > 0 && <span className="font-medium text-rose-700 dark:text-rose-300"> · {stuck} stuck</span>}
    </>
  );
}

function holdersTitle(lock: LockView): string {
  const h = lock.holders!;
  return [holdersText(h), permitsText(h), ...h.list.map((x) => x.token.text)].filter(Boolean).join('\n');
}

function SortArrow({ active, dir }: { active: boolean; dir: 'asc' | 'desc' }) {
  return (
    <span aria-hidden className={`w-2 text-[10px] ${active ? '' : 'invisible'}`}>
      {dir === 'asc' ? '▲' : '▼'}
    </span>
  );
}
