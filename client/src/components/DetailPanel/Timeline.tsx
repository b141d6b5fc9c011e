import type { LockEvent, LockEventKind } from '../../../../shared/locks';
import { EVENT_LABEL, formatClock, formatDuration, formatRelative } from '../../lib/format';
import { ShownText } from '../ShownText';

const DOT: Record<LockEventKind, string> = {
  acquired: 'bg-emerald-500',
  renewed: 'bg-sky-500',
  released: 'bg-slate-400',
  expired: 'bg-amber-500',
  lost: 'bg-red-700',
  'owner-changed': 'bg-fuchsia-500',
  'ttl-removed': 'bg-red-600',
  'ttl-set': 'bg-emerald-600',
  'force-released': 'bg-red-500',
  'holder-joined': 'bg-emerald-300',
  'holder-left': 'bg-slate-300',
  'holder-expired': 'bg-amber-400',
  'holder-force-released': 'bg-red-400',
};

function ttlText(pttlMs: number): string {
  if (pttlMs === -1) return 'no TTL';
  if (pttlMs === -2) return 'key gone';
  return `TTL ${formatDuration(pttlMs)}`;
}

/** Events newest first, each with its time (absolute and relative), TTL then, and owner when it matters. */
export function Timeline({ events, now, currentOwner }: { events: readonly LockEvent[]; now: number; currentOwner: string | null }) {
  if (!events.length) return <p className="text-sm text-slate-500 dark:text-slate-400">No events recorded yet.</p>;
  const newestFirst = [...events].reverse();
  return (
    <ol aria-label="Event timeline" className="relative space-y-0.5 border-l border-slate-200 pl-4 dark:border-slate-700">
      {newestFirst.map((e, i) => {
        const holder = e.holder !== undefined;
        const showOwner = !holder && e.owner !== null && (e.kind === 'acquired' || e.kind === 'owner-changed' || e.owner !== currentOwner);
        return (
          <li key={`${e.at}-${e.kind}-${events.length - i}`} data-kind={e.kind} className="relative py-1 text-sm">
            <span aria-hidden className={`absolute top-2.5 -left-[21px] h-2.5 w-2.5 rounded-full ring-2 ring-white dark:ring-slate-900 ${DOT[e.kind]}`} />
            <div className="flex flex-wrap items-baseline gap-x-2">
              <span className="font-medium">{EVENT_LABEL[e.kind]}</span>
              <span className="font-mono text-xs text-slate-500 tabular-nums dark:text-slate-400">{ttlText(e.pttlMs)}</span>
              <time
                dateTime={new Date(e.at).toISOString()}
                title={new Date(e.at).toISOString()}
                className="ml-auto font-mono text-xs text-slate-500 tabular-nums dark:text-slate-400"
              >
                {formatClock(e.at)} · {formatRelative(e.at, now)}
              </time>
            </div>
            {showOwner && <div className="truncate font-mono text-xs text-slate-600 dark:text-slate-300">owner <ShownText text={e.owner!} /></div>}
            {holder && <div className="truncate font-mono text-xs text-slate-600 dark:text-slate-300">holder <ShownText text={e.holder!} /></div>}
          </li>
        );
      })}
    </ol>
  );
}
