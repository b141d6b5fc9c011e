import { useLockStore } from '../store/lock-store';

const FEED_LABEL = { notifications: 'keyspace notifications', polling: 'polling', starting: 'starting' } as const;

export function Header() {
  const status = useLockStore((s) => s.status);
  const count = useLockStore((s) => s.locks.size);
  const ready = status?.redis === 'ready';
  return (
    <header className="flex flex-wrap items-center gap-x-6 gap-y-1 border-b border-slate-200 bg-white px-4 py-2 dark:border-slate-700 dark:bg-slate-900">
      <h1 className="text-lg font-semibold tracking-tight">lockscope</h1>
      <dl className="flex flex-wrap gap-x-5 gap-y-1 text-xs text-slate-600 dark:text-slate-300">
        <div className="flex gap-1">
          <dt>Redis</dt>
          <dd className="font-mono" data-testid="redis-target">{status?.target ?? '…'}</dd>
        </div>
        <div className="flex items-center gap-1">
          <dt className="sr-only">Connection</dt>
          <dd className="flex items-center gap-1" data-testid="redis-state">
            <span aria-hidden className={`inline-block h-2 w-2 rounded-full ${ready ? 'bg-emerald-500' : 'bg-amber-500'}`} />
            {status?.redis ?? 'connecting'}
          </dd>
        </div>
        <div className="flex gap-1">
          <dt>Change feed</dt>
          <dd data-testid="feed-mode">{status ? FEED_LABEL[status.feed] : '…'}</dd>
        </div>
        <div className="flex gap-1">
          <dt>Locks</dt>
          <dd className="font-mono tabular-nums" data-testid="lock-count">{count}</dd>
        </div>
        {status?.redisVersion && (
          <div className="flex gap-1">
            <dt>Redis version</dt>
            <dd>{status.redisVersion}</dd>
          </div>
        )}
        {status && (
          <div className="flex gap-1">
            <dt>lockscope</dt>
            <dd>{status.version}</dd>
          </div>
        )}
      </dl>
    </header>
  );
}
