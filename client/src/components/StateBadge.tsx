import type { LockState } from '../../../shared/locks';
import { STATE_LABEL } from '../lib/format';

const STYLE: Record<LockState, string> = {
  held: 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/60 dark:text-emerald-200',
  expiring: 'bg-amber-100 text-amber-800 dark:bg-amber-900/60 dark:text-amber-200',
  'renewal-overdue': 'bg-orange-200 text-orange-900 dark:bg-orange-900/70 dark:text-orange-100',
  'no-ttl': 'bg-red-600 text-white',
  'held-too-long': 'bg-fuchsia-100 text-fuchsia-800 dark:bg-fuchsia-900/60 dark:text-fuchsia-200',
  released: 'bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200',
  expired: 'bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200',
  lost: 'bg-red-100 text-red-800 ring-1 ring-red-400 dark:bg-red-950/70 dark:text-red-200 dark:ring-red-700',
  'unexpected-type': 'bg-sky-100 text-sky-800 dark:bg-sky-900/60 dark:text-sky-200',
  'holder-stuck': 'bg-rose-200 text-rose-900 dark:bg-rose-900/70 dark:text-rose-100',
};

/** One colour per state, for dots and chart marks (same hues as the badges). */
export const STATE_DOT: Record<LockState, string> = {
  held: 'bg-emerald-500',
  expiring: 'bg-amber-500',
  'renewal-overdue': 'bg-orange-500',
  'no-ttl': 'bg-red-600',
  'held-too-long': 'bg-fuchsia-500',
  released: 'bg-slate-400',
  expired: 'bg-slate-400',
  lost: 'bg-red-700',
  'unexpected-type': 'bg-sky-500',
  'holder-stuck': 'bg-rose-500',
};

export function StateBadge({ state }: { state: LockState }) {
  return <span className={`inline-block rounded px-1.5 py-0.5 text-xs font-medium whitespace-nowrap ${STYLE[state]}`}>{STATE_LABEL[state]}</span>;
}
