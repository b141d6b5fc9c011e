import { useVirtualizer } from '@tanstack/react-virtual';
import { useMemo, useRef } from 'react';
import type { LockState, LockView } from '../../../../shared/locks';
import { LIBRARY_LABEL } from '../../lib/format';
import { useLockStore } from '../../store/lock-store';
import { StateBadge } from '../StateBadge';
import { HeldForCell, TtlCell } from './TtlCell';

/** Most urgent first: what an operator came to find is at the top. */
const URGENCY: Record<LockState, number> = {
  'no-ttl': 0,
  'renewal-overdue': 1,
  'held-too-long': 2,
  expiring: 3,
  'unexpected-type': 4,
  held: 5,
  released: 6,
  expired: 7,
};

const ROW_HEIGHT = 36;

export function LockTable() {
  const locks = useLockStore((s) => s.locks);
  const clockOffsetMs = useLockStore((s) => s.clockOffsetMs);
  const rows = useMemo(
    () =>
      [...locks.values()].sort(
        (a, b) => URGENCY[a.state] - URGENCY[b.state] || (a.key.text < b.key.text ? -1 : a.key.text > b.key.text ? 1 : 0),
      ),
    [locks],
  );
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const padTop = items[0]?.start ?? 0;
  const padBottom = virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0);

  return (
    <div ref={scrollRef} className="min-h-0 flex-1 overflow-auto" data-testid="lock-table-scroll">
      <table className="w-full table-fixed border-collapse text-sm" aria-label="Locks" aria-rowcount={rows.length + 1}>
        <colgroup>
          <col className="w-[30%]" />
          <col className="w-[10%]" />
          <col className="w-[26%]" />
          <col className="w-[8%]" />
          <col className="w-[8%]" />
          <col className="w-[6%]" />
          <col className="w-[12%]" />
        </colgroup>
        <thead className="sticky top-0 z-10 bg-slate-100 text-left text-xs text-slate-600 uppercase dark:bg-slate-800 dark:text-slate-300">
          <tr>
            <th scope="col" className="px-3 py-2 font-semibold">Key</th>
            <th scope="col" className="px-3 py-2 font-semibold">Library</th>
            <th scope="col" className="px-3 py-2 font-semibold">Owner</th>
            <th scope="col" className="px-3 py-2 text-right font-semibold">TTL</th>
            <th scope="col" className="px-3 py-2 text-right font-semibold">Held for</th>
            <th scope="col" className="px-3 py-2 text-right font-semibold">Renewals</th>
            <th scope="col" className="px-3 py-2 font-semibold">State</th>
          </tr>
        </thead>
        <tbody>
          {padTop > 0 && <tr aria-hidden style={{ height: padTop }} />}
          {items.map((item) => {
            const lock = rows[item.index]!;
            return <LockRow key={lock.id} lock={lock} index={item.index} clockOffsetMs={clockOffsetMs} />;
          })}
          {padBottom > 0 && <tr aria-hidden style={{ height: padBottom }} />}
        </tbody>
      </table>
      {rows.length === 0 && (
        <p className="p-8 text-center text-slate-500 dark:text-slate-400">
          No locks held right now. Keys matching the lock patterns appear here the moment they are taken.
        </p>
      )}
    </div>
  );
}

function LockRow({ lock, index, clockOffsetMs }: { lock: LockView; index: number; clockOffsetMs: number }) {
  const ended = lock.endedAt !== null;
  const stuck = lock.state === 'no-ttl';
  return (
    <tr
      aria-rowindex={index + 2}
      data-lock-id={lock.id}
      data-state={lock.state}
      style={{ height: ROW_HEIGHT }}
      className={`border-b border-slate-200 dark:border-slate-700 ${ended ? 'opacity-50' : ''} ${stuck ? 'bg-red-50 dark:bg-red-950/40' : ''}`}
    >
      <td className="truncate px-3 font-mono" title={lock.key.text}>
        {lock.key.text}
        {lock.key.binary && <BinaryMark />}
      </td>
      <td className="truncate px-3">{LIBRARY_LABEL[lock.library]}</td>
      <td className="truncate px-3 font-mono text-xs" title={lock.owner?.text}>
        {lock.owner ? lock.owner.text : <span className="text-slate-400">—</span>}
        {lock.owner?.binary && <BinaryMark />}
        {lock.owner?.truncated && <span aria-hidden className="ml-1 text-slate-400">… ({lock.owner.sizeBytes} B)</span>}
      </td>
      <td className="px-3 text-right">
        <TtlCell lock={lock} clockOffsetMs={clockOffsetMs} />
      </td>
      <td className="px-3 text-right">
        <HeldForCell lock={lock} clockOffsetMs={clockOffsetMs} />
      </td>
      <td className="px-3 text-right font-mono tabular-nums">{lock.renewals}</td>
      <td className="px-3">
        <StateBadge state={lock.state} />
      </td>
    </tr>
  );
}

function BinaryMark() {
  return (
    <span aria-hidden className="ml-1 rounded border border-slate-300 px-1 text-[10px] text-slate-500 dark:border-slate-600" title="Not valid UTF-8: shown with \xNN escapes">
      binary
    </span>
  );
}
