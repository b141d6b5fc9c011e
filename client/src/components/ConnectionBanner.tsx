import { useLockStore } from '../store/lock-store';

/** Says plainly when what is on screen may be stale: the server or Redis is unreachable. */
export function ConnectionBanner() {
  const socket = useLockStore((s) => s.socket);
  const status = useLockStore((s) => s.status);
  let message: string | null = null;
  if (socket === 'disconnected') message = 'Lost connection to the lockscope server — reconnecting. The table below may be out of date.';
  else if (status && status.redis !== 'ready' && status.redis !== 'connecting')
    message = `Redis is ${status.redis === 'down' ? 'unreachable' : 'reconnecting'}${status.lastError ? ` (${status.lastError})` : ''} — the table below may be out of date.`;
  if (!message) return null;
  return (
    <div role="alert" className="bg-amber-500 px-4 py-2 text-sm font-medium text-black">
      {message}
    </div>
  );
}
