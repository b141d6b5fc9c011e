import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useEffect, useRef, type MouseEvent } from 'react';
import type { LockView } from '../../../../shared/locks';
import { LIBRARY_LABEL } from '../../lib/format';
import type { SortKey } from '../../store/lock-model';
import { lockModel, useLocksVersion, useLockStore } from '../../store/lock-store';
import { useViewStore } from '../../store/view-store';
import { LockActions } from '../Admin/LockActions';
import { useAdminStore } from '../Admin/admin-store';
import { StateBadge } from '../StateBadge';
import { HEADER_HEIGHT, ROW_HEIGHT } from './layout';
import { useTableKeyboard } from './useTableKeyboard';
import { HeldForCell, TtlCell } from './TtlCell';


interface Column {
  key: SortKey;
  label: string;
  /** Fixed width (px) for short values; key and owner share what is left (see `ownerWidth`). */
  width?: number;
  right?: boolean;
}

const COLUMNS: Column[] = [
  { key: 'key', label: 'Key' },
  { key: 'library', label: 'Library', width: 112 },
  { key: 'owner', label: 'Owner' },
  { key: 'ttl', label: 'TTL', width: 82, right: true },
  { key: 'heldFor', label: 'Held for', width: 86, right: true },
  { key: 'renewals', label: 'Renewals', width: 90, right: true },
  { key: 'state', label: 'State', width: 140 },
];

const FIXED_WIDTH = COLUMNS.reduce((n, c) => n + (c.width ?? 0), 0);
/** Width of the admin actions column, present only when this browser may act on locks. */
const ACTIONS_WIDTH = 216;
/** The key is what operators scan for: it gets 60% of the flexible width, the owner 40%. */
function ownerWidth(tableWidth: number | undefined, actions: boolean): number | undefined {
  const fixed = FIXED_WIDTH + (actions ? ACTIONS_WIDTH : 0);
  return tableWidth ? Math.max(120, Math.round((tableWidth - fixed) * 0.4)) : undefined;
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
  const admin = useAdminStore((s) => s.session?.admin === 'allowed');
  const stale = useLockStore((s) => s.staleSince !== null);
  const sort = useViewStore((s) => s.sort);
  const sortBy = useViewStore((s) => s.sortBy);
  const selected = useViewStore((s) => s.selected);
  const select = useViewStore((s) => s.select);
  const clearFilters = useViewStore((s) => s.clearFilters);
  const scrollRef = useRef<HTMLDivElement>(null);
  const tableRef = useRef<HTMLTableElement>(null);

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    // Row positions start below the sticky header, and scrolling to a row keeps it clear of it.
    paddingStart: HEADER_HEIGHT,
    scrollPaddingStart: HEADER_HEIGHT,
    overscan: 10,
  });
  useTableKeyboard(virtualizer, tableRef);

  // A shared link names a lock: bring it into view once it has arrived.
  const revealed = useRef(false);
  useEffect(() => {
    if (revealed.current || !selected) return;
    const i = lockModel.indexOf(selected);
    if (i >= 0) {
      revealed.current = true;
      virtualizer.scrollToIndex(i, { align: 'auto' });
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
        aria-label="Locks"
        aria-rowcount={rows.length + 1}
        data-stale={stale || undefined}
      >
        <colgroup>
          {COLUMNS.map((c) => (
            <col key={c.key} style={{ width: c.key === 'owner' ? ownerWidth(virtualizer.scrollRect?.width, admin) : c.width }} />
          ))}
          {admin && <col style={{ width: ACTIONS_WIDTH }} />}
        </colgroup>
        <thead className="sticky top-0 z-10 bg-slate-100 text-left text-xs text-slate-600 shadow-[0_1px_0_var(--color-slate-200)] dark:bg-slate-800 dark:text-slate-300 dark:shadow-[0_1px_0_var(--color-slate-700)]">
          <tr style={{ height: HEADER_HEIGHT }} aria-rowindex={1}>
            {COLUMNS.map((c) => {
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
            {admin && (
              <th scope="col" className="px-3 font-semibold">
                Actions
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
                admin={admin}
              />
            );
          })}
          {padBottom > 0 && <tr aria-hidden style={{ height: padBottom }} />}
        </tbody>
      </table>
      {rows.length === 0 &&
        (total === 0 ? (
          <p className="p-8 text-center text-slate-500 dark:text-slate-400">
            No locks held right now. Keys matching the lock patterns appear here the moment they are taken.
          </p>
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

interface RowProps {
  lock: LockView;
  index: number;
  selected: boolean;
  tabStop: boolean;
  clockOffsetMs: number;
  /** Show the admin actions cell. */
  admin: boolean;
}

const LockRow = memo(function LockRow({ lock, index, selected, tabStop, clockOffsetMs, admin }: RowProps) {
  const ended = lock.endedAt !== null;
  const stuck = lock.state === 'no-ttl';
  const tone = selected
    ? 'bg-sky-100 shadow-[inset_3px_0_0_var(--color-sky-600)] dark:bg-sky-900/50 dark:shadow-[inset_3px_0_0_var(--color-sky-400)]'
    : stuck
      ? 'bg-red-50 hover:bg-red-100 dark:bg-red-950/40 dark:hover:bg-red-950/70'
      : 'hover:bg-slate-100 dark:hover:bg-slate-800/60';
  return (
    <tr
      aria-rowindex={index + 2}
      aria-selected={selected}
      data-lock-id={lock.id}
      data-state={lock.state}
      style={{ height: ROW_HEIGHT }}
      className={`cursor-pointer border-b border-slate-200 dark:border-slate-800 ${ended ? 'opacity-50' : ''} ${tone}`}
    >
      <td className="truncate px-3 font-mono" title={lock.key.text}>
        <button
          type="button"
          tabIndex={tabStop ? 0 : -1}
          className="max-w-full truncate text-left focus-visible:outline-2 focus-visible:outline-sky-500"
        >
          {lock.key.text}
        </button>
        {lock.key.binary && <BinaryMark />}
      </td>
      <td className="truncate px-3">{LIBRARY_LABEL[lock.library]}</td>
      <td className="truncate px-3 font-mono text-xs" title={lock.owner?.text}>
        {lock.owner ? lock.owner.text : <span className="text-slate-400">—</span>}
        {lock.owner?.binary && <BinaryMark />}
        {lock.owner?.truncated && <span aria-hidden className="ml-1 text-slate-400">… ({lock.owner.sizeBytes} B)</span>}
      </td>
      <td className="px-3 text-right whitespace-nowrap">
        <TtlCell lock={lock} clockOffsetMs={clockOffsetMs} />
      </td>
      <td className="px-3 text-right whitespace-nowrap">
        <HeldForCell lock={lock} clockOffsetMs={clockOffsetMs} />
      </td>
      <td className="px-3 text-right font-mono tabular-nums">{lock.renewals}</td>
      <td className="truncate px-3">
        <StateBadge state={lock.state} />
      </td>
      {admin && (
        <td className="px-3 whitespace-nowrap">
          <LockActions lock={lock} compact />
        </td>
      )}
    </tr>
  );
});

function SortArrow({ active, dir }: { active: boolean; dir: 'asc' | 'desc' }) {
  return (
    <span aria-hidden className={`w-2 text-[10px] ${active ? '' : 'invisible'}`}>
      {dir === 'asc' ? '▲' : '▼'}
    </span>
  );
}

function BinaryMark() {
  return (
    <span
      aria-hidden
      className="ml-1 rounded border border-slate-300 px-1 font-sans text-[10px] text-slate-500 dark:border-slate-600"
      title="Not valid UTF-8: shown with \xNN escapes"
    >
      binary
    </span>
  );
}
