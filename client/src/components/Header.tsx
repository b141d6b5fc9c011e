import type { ReactNode } from 'react';
import { maskRedisTarget } from '../lib/format';
import { lockModel, useLocksVersion, useLockStore } from '../store/lock-store';
import { AdminStatus } from './Admin/AdminStatus';
import { ThemeSwitch } from './ThemeSwitch';

const FEED_LABEL = { notifications: 'keyspace notifications', polling: 'polling', starting: 'starting' } as const;

/** Where the data comes from and whether it is live: the first thing to check in an incident. */
export function Header() {
  useLocksVersion();
  const status = useLockStore((s) => s.status);
  const socket = useLockStore((s) => s.socket);
  const redisState = status?.redis ?? 'connecting';
  const live = socket === 'connected' && redisState === 'ready';
  const feedTitle =
    status?.feed === 'polling'
      ? 'Keyspace notifications are unavailable: lockscope probes tracked keys on an interval, so changes show with a delay.'
      : status?.feed === 'notifications'
        ? 'Redis keyspace notifications: changes show as they happen.'
        : undefined;
  return (
    <header className="flex flex-wrap items-center gap-x-5 gap-y-1 border-b border-slate-200 bg-white px-4 py-2 dark:border-slate-800 dark:bg-slate-900">
      <h1 className="flex items-center gap-2 text-base font-semibold tracking-tight">
        <svg aria-hidden viewBox="0 0 16 16" className="h-4 w-4 fill-none stroke-sky-600 stroke-2 dark:stroke-sky-400">
          <rect x="3" y="7" width="10" height="7" rx="1.5" />
          <path d="M5.5 7V5a2.5 2.5 0 0 1 5 0v2" />
        </svg>
        lockscope
      </h1>
      <dl className="flex min-w-0 flex-1 flex-wrap items-center gap-x-4 gap-y-1 text-xs text-slate-600 dark:text-slate-300">
        <Item label="Redis">
          <span className="font-mono" data-testid="redis-target" title={status ? maskRedisTarget(status.target) : undefined}>
            {status ? maskRedisTarget(status.target) : '…'}
          </span>
          {status?.redisVersion && (
            <span className="ml-1 text-slate-500 dark:text-slate-400" title="Redis server version" data-testid="redis-version">
              (v{status.redisVersion})
            </span>
          )}
        </Item>
        <Item label="Connection" hideLabel>
          <span
            className={`inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 font-medium ${
              live
                ? 'bg-emerald-50 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300'
                : 'bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-300'
            }`}
          >
            <span aria-hidden className={`inline-block h-2 w-2 rounded-full ${live ? 'bg-emerald-500' : 'animate-pulse bg-amber-500'}`} />
            <span data-testid="redis-state">{socket === 'disconnected' ? 'server unreachable' : redisState}</span>
          </span>
        </Item>
        <Item label="Change feed">
          <span
            data-testid="feed-mode"
            title={feedTitle}
            className={status?.feed === 'polling' ? 'font-medium text-amber-700 dark:text-amber-400' : undefined}
          >
            {status ? FEED_LABEL[status.feed] : '…'}
          </span>
        </Item>
        <Item label="Locks">
          <span className="font-mono font-semibold text-slate-900 tabular-nums dark:text-slate-100" data-testid="lock-count">
            {lockModel.size.toLocaleString('en-US')}
          </span>
        </Item>
      </dl>
      {status && (
        <span className="text-xs text-slate-500 dark:text-slate-400" title="lockscope server version" data-testid="server-version">
          <span className="hidden xl:inline">lockscope </span>v{status.version}
        </span>
      )}
      <AdminStatus />
      <ThemeSwitch />
    </header>
  );
}

function Item({ label, hideLabel, children }: { label: string; hideLabel?: boolean; children: ReactNode }) {
  return (
    <div className="flex min-w-0 items-center gap-1">
      <dt className={hideLabel ? 'sr-only' : 'text-slate-500 dark:text-slate-400'}>{label}</dt>
      <dd className="min-w-0 truncate">{children}</dd>
    </div>
  );
}
