import { useState } from 'react';
import { formatClock } from '../lib/format';
import { useViewedTarget } from '../store/lock-store';

/**
 * Says when Redis restarted or failed over while lockscope watched it, and how many held locks that cost: their
 * holders were not told, so two processes may now each believe they hold the same lock. Stays until dismissed.
 */
export function RestartBanner() {
  const target = useViewedTarget();
  const restart = target?.lastRestart ?? null;
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  if (!restart || restart.at === dismissedAt) return null;
  const when = formatClock(restart.at).slice(0, 8);
  const lost = restart.lost;
  const severe = lost !== null && lost > 0;
  return (
    <div
      role={severe ? 'alert' : 'status'}
      data-testid="restart-banner"
      className={`flex flex-wrap items-center gap-x-2 border-b px-4 py-1.5 text-sm ${
        severe ? 'border-red-800 bg-red-700 text-white' : 'border-sky-300 bg-sky-50 text-sky-950 dark:border-sky-800 dark:bg-sky-950 dark:text-sky-100'
      }`}
    >
      <strong className="font-semibold">
        Redis{target && target.nodes.length > 1 ? ` ${restart.node}` : ''} restarted or failed over at {when}.
      </strong>
      <span>
        {lost === null
          ? 'Checking which locks survived…'
          : lost === 0
            ? 'Every lock held before it is still there.'
            : `${lost.toLocaleString('en-US')} ${lost === 1 ? 'lock' : 'locks'} held before it ${lost === 1 ? 'is' : 'are'} gone (shown as “lost”): their holders may still believe they hold them.`}
      </span>
      <button
        type="button"
        onClick={() => setDismissedAt(restart.at)}
        className="ml-auto rounded px-2 py-0.5 text-xs underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-current"
      >
        Dismiss
      </button>
    </div>
  );
}
