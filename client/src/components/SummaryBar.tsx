import type { LockState } from '../../../shared/locks';
import { STATE_LABEL } from '../lib/format';
import { PROBLEM_STATES, URGENCY } from '../store/lock-model';
import { lockModel, useLocksVersion } from '../store/lock-store';
import { useViewStore } from '../store/view-store';
import { STATE_DOT } from './StateBadge';

const ORDER = (Object.keys(URGENCY) as LockState[]).sort((a, b) => URGENCY[a] - URGENCY[b]);
const PROBLEMS = new Set<LockState>(PROBLEM_STATES);

/** Highlight for a problem state that has locks in it: the eye should land here first. */
const ALERT: Partial<Record<LockState, string>> = {
  'no-ttl': 'border-red-300 bg-red-50 text-red-900 dark:border-red-800 dark:bg-red-950/60 dark:text-red-100',
  'renewal-overdue': 'border-orange-300 bg-orange-50 text-orange-900 dark:border-orange-800 dark:bg-orange-950/60 dark:text-orange-100',
  'held-too-long': 'border-fuchsia-300 bg-fuchsia-50 text-fuchsia-900 dark:border-fuchsia-800 dark:bg-fuchsia-950/60 dark:text-fuchsia-100',
  'holder-stuck': 'border-rose-300 bg-rose-50 text-rose-900 dark:border-rose-800 dark:bg-rose-950/60 dark:text-rose-100',
  lost: 'border-red-300 bg-red-50 text-red-900 dark:border-red-800 dark:bg-red-950/60 dark:text-red-100',
};

const CHIP =
  'inline-flex items-center gap-1.5 rounded-md border px-2 py-1 text-xs whitespace-nowrap transition-colors focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-sky-500';
const PRESSED = 'border-sky-600 bg-sky-600 text-white dark:border-sky-500 dark:bg-sky-600';
const PLAIN = 'border-slate-200 bg-white text-slate-700 hover:border-slate-400 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-200 dark:hover:border-slate-500';
/** A state with no locks: quieter than the others, but still readable (slate-500 on white is 4.8:1, slate-400 on slate-900 6.9:1). */
const EMPTY = 'border-slate-200 bg-white text-slate-500 hover:border-slate-400 dark:border-slate-800 dark:bg-slate-900 dark:text-slate-400 dark:hover:border-slate-500';

/** Counts per state, each a toggle that filters the table to that state. */
export function SummaryBar() {
  useLocksVersion();
  const states = useViewStore((s) => s.states);
  const toggleState = useViewStore((s) => s.toggleState);
  const setStates = useViewStore((s) => s.setStates);
  const counts = lockModel.stateCounts;
  const problems = PROBLEM_STATES.reduce((n, s) => n + counts[s], 0);
  const problemsOnly = states.size === PROBLEMS.size && [...states].every((s) => PROBLEMS.has(s));
  return (
    <div role="group" aria-label="Locks by state" className="flex flex-wrap items-center gap-1.5 px-4 pt-2">
      <button type="button" aria-pressed={states.size === 0} onClick={() => setStates([])} className={`${CHIP} ${states.size === 0 ? PRESSED : PLAIN}`}>
        All <Count n={lockModel.size} />
      </button>
      <button
        type="button"
        aria-pressed={problemsOnly}
        title="No TTL, renewal overdue, a holder stuck or held too long"
        onClick={() => setStates(problemsOnly ? [] : PROBLEM_STATES)}
        className={`${CHIP} ${problemsOnly ? PRESSED : problems > 0 ? ALERT['no-ttl'] : PLAIN} font-medium`}
      >
        <span aria-hidden>⚠</span> Needs attention <Count n={problems} />
      </button>
      <span aria-hidden className="mx-1 h-5 w-px bg-slate-300 dark:bg-slate-700" />
      {ORDER.map((state) => {
        const pressed = states.has(state);
        const n = counts[state];
        // Rare, and only after a Redis restart: no room taken up until it happens.
        if (state === 'lost' && n === 0 && !pressed) return null;
        const look = pressed ? PRESSED : n === 0 ? EMPTY : (ALERT[state] ?? PLAIN);
        return (
          <button
            key={state}
            type="button"
            aria-pressed={pressed}
            data-state={state}
            title={`Show ${pressed ? 'all states again' : `only “${STATE_LABEL[state]}” locks`} (combine several)`}
            onClick={() => toggleState(state)}
            className={`${CHIP} ${look}`}
          >
            <span aria-hidden className={`h-2 w-2 rounded-full ${STATE_DOT[state]} ${n === 0 && !pressed ? 'opacity-50' : ''}`} />
            {STATE_LABEL[state]} <Count n={n} />
          </button>
        );
      })}
    </div>
  );
}

function Count({ n }: { n: number }) {
  return <span className="font-mono font-semibold tabular-nums">{n.toLocaleString('en-US')}</span>;
}
