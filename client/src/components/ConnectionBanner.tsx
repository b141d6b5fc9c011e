import { useNow } from '../hooks/useNow';
import { formatClock, formatDuration } from '../lib/format';
import { connectionOf } from '../lib/targets';
import { useLockStore, useViewedTarget } from '../store/lock-store';

/**
 * Says plainly when what is on screen may be stale, and since when: the server or the shown target's Redis is
 * unreachable (on a target of several nodes: which of them).
 */
export function ConnectionBanner() {
  const socket = useLockStore((s) => s.socket);
  const target = useViewedTarget();
  const staleSince = useLockStore((s) => s.staleSince);
  let message: string | null = null;
  const state = target ? connectionOf(target) : 'connecting';
  if (socket === 'disconnected') message = 'Lost connection to the lockscope server — reconnecting.';
  else if (target && (state === 'down' || state === 'reconnecting' || (state === 'connecting' && target.health === 'down'))) {
    const off = target.nodes.filter((n) => n.connection !== 'ready');
    const error = off.find((n) => n.lastError)?.lastError ?? target.lastError;
    const which = target.nodes.length > 1 ? ` ${off.map((n) => n.address).join(', ')} of ${target.name ?? 'this target'}` : '';
    message = `Redis${which} is ${state === 'reconnecting' ? 'reconnecting' : 'unreachable'}${error ? ` (${error})` : ''}.`;
  }
  if (!message) return null;
  return (
    <div role="alert" className="flex flex-wrap items-center gap-x-2 border-b border-amber-600 bg-amber-400 px-4 py-1.5 text-sm text-black">
      <strong className="font-semibold">Stale data.</strong>
      <span>{message}</span>
      {staleSince !== null && <StaleFor since={staleSince} />}
    </div>
  );
}

function StaleFor({ since }: { since: number }) {
  const now = useNow(1000);
  return (
    <span>
      The table shows the state as of <time dateTime={new Date(since).toISOString()}>{formatClock(since).slice(0, 8)}</time> (
      {formatDuration(now - since)} ago) and is not updating.
    </span>
  );
}
