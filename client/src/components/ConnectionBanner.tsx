import { useNow } from '../hooks/useNow';
import { formatClock, formatDuration } from '../lib/format';
import { useLockStore } from '../store/lock-store';

/** Says plainly when what is on screen may be stale, and since when: the server or Redis is unreachable. */
export function ConnectionBanner() {
  const socket = useLockStore((s) => s.socket);
  const status = useLockStore((s) => s.status);
  const staleSince = useLockStore((s) => s.staleSince);
  let message: string | null = null;
  if (socket === 'disconnected') message = 'Lost connection to the lockscope server — reconnecting.';
  else if (status && status.redis !== 'ready' && status.redis !== 'connecting')
    message = `Redis is ${status.redis === 'down' ? 'unreachable' : 'reconnecting'}${status.lastError ? ` (${status.lastError})` : ''}.`;
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
