import { useState } from 'react';
import { formatClock, formatDuration } from '../lib/format';
import { useViewedTarget } from '../store/lock-store';

/**
 * Says when Redis restarted or failed over while lockscope watched it, and how many held locks that cost: their
 * holders were not told, so two processes may now each believe they hold the same lock. A failover to another
 * server (Sentinel) names both servers, and says when the new master is polled for want of notifications. Stays
 * until dismissed.
 */
export function RestartBanner() {
  const target = useViewedTarget();
  const restart = target?.lastRestart ?? null;
  const [dismissedAt, setDismissedAt] = useState<number | null>(null);
  if (!restart || restart.at === dismissedAt) return null;
  const when = formatClock(restart.at).slice(0, 8);
  const node = target?.nodes.find((n) => n.address === restart.node) ?? null;
  const lost = restart.lost;
  const severe = lost !== null && lost > 0;
  return (
    <div
      role={severe ? 'alert' : 'status'}
      data-testid="restart-banner"
      className={`flex items-start gap-x-2 border-b px-4 py-1.5 text-sm ${
        severe ? 'border-red-800 bg-red-700 text-white' : 'border-sky-300 bg-sky-50 text-sky-950 dark:border-sky-800 dark:bg-sky-950 dark:text-sky-100'
      }`}
    >
      <p className="min-w-0 flex-1">
        <strong className="font-semibold" data-testid="restart-headline">
          {restart.from ? (
            <>
              {target?.kind === 'sentinel' ? 'Sentinel failover' : 'Failover'} at {when}
              {target?.sentinel ? ` of “${target.sentinel.masterName}”` : ''}: <span className="font-mono">{restart.from}</span> →{' '}
              <span className="font-mono">{restart.node}</span>.
            </>
          ) : (
            <>
              Redis{target && target.nodes.length > 1 ? ` ${restart.node}` : ''} restarted or failed over at {when}.
            </>
          )}
        </strong>{' '}
        <span>
          {lost === null
            ? 'Checking which locks survived…'
            : lost === 0
              ? 'Every lock held before it is still there.'
              : `${lost.toLocaleString('en-US')} ${lost === 1 ? 'lock' : 'locks'} held before it ${lost === 1 ? 'is' : 'are'} gone (shown as “lost”): their holders may still believe they hold them.`}
          {restart.from && lost !== null && lost > 0 && ' (Replication is asynchronous: the last writes before a failover may never reach the new master.)'}
        </span>
        {restart.from && node?.feed === 'polling' && !node.missing.some((m) => m.capability === 'psubscribe') && (
          <span data-testid="failover-polling" className="block text-xs">
            No keyspace notifications on the new master (a promoted replica keeps its own notify-keyspace-events): polling every{' '}
            {formatDuration(node.pollIntervalMs)}. Set them on every replica, or start lockscope with{' '}
            <code className="whitespace-nowrap">--configure-notifications</code>.
          </span>
        )}
      </p>
      <button
        type="button"
        onClick={() => setDismissedAt(restart.at)}
        className="shrink-0 rounded px-2 py-0.5 text-xs underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-current"
      >
        Dismiss
      </button>
    </div>
  );
}
