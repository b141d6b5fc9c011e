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
    const which = target.nodes.length > 1 ? ` ${off.map((n) => n.address).join(', ')}${target.name ? ` of ${target.name}` : ''}` : '';
    message = `Redis${which} is ${state === 'reconnecting' ? 'reconnecting' : 'unreachable'}${error ? ` (${error})` : ''}.`;
  }
  if (!message) return null;
  // A target lockscope has never reached has no data to be stale: it has not been able to look yet.
  const neverSeen = socket !== 'disconnected' && target !== null && target.nodes.every((n) => !n.synced);
  // Some nodes of several away: their locks are as last seen, the others' live.
  const partly = socket !== 'disconnected' && target !== null && target.nodes.some((n) => n.connection === 'ready');
  return (
    <div role="alert" className="flex flex-wrap items-center gap-x-2 border-b border-amber-600 bg-amber-400 px-4 py-1.5 text-sm text-black">
      <strong className="font-semibold">{neverSeen ? 'Not watching.' : partly ? 'Partly stale.' : 'Stale data.'}</strong>
      <span>{message}</span>
      {neverSeen ? (
        <span>lockscope has not been able to look at this target yet; it keeps trying.</span>
      ) : partly ? (
        <span>Locks on {target.nodes.filter((n) => n.connection !== 'ready').length > 1 ? 'those nodes' : 'that node'} show as last seen; the rest is live.</span>
      ) : (
        staleSince !== null && <StaleFor since={staleSince} />
      )}
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
