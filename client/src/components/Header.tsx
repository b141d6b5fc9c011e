import type { ReactNode } from 'react';
import { maskRedisTarget } from '../lib/format';
import { lockModel, useLocksVersion, useLockStore } from '../store/lock-store';
import { AdminStatus } from './Admin/AdminStatus';
import { ThemeSwitch } from './ThemeSwitch';

const FEED_LABEL = { notifications: 'notifications', polling: 'polling', starting: 'starting' } as const;

/**
 * Where the data comes from and whether it is live: the first thing to check in an incident. One line from
 * 1024 px up: everything but the Redis target has a fixed, short size, so the target is the last thing to give.
 */
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
  const target = status ? maskRedisTarget(status.target) : null;
  return (
    <header className="flex flex-wrap items-center gap-x-3 gap-y-1 xl:gap-x-4 border-b border-slate-200 bg-white px-4 py-2 lg:flex-nowrap dark:border-slate-800 dark:bg-slate-900">
      <h1 className="flex shrink-0 items-center gap-2 text-base font-semibold tracking-tight">
        <svg aria-hidden viewBox="0 0 16 16" className="h-4 w-4 fill-none stroke-sky-600 stroke-2 dark:stroke-sky-400">
          <rect x="3" y="7" width="10" height="7" rx="1.5" />
          <path d="M5.5 7V5a2.5 2.5 0 0 1 5 0v2" />
        </svg>
        lockscope
      </h1>
      <dl className="flex min-w-0 flex-1 flex-wrap items-center gap-x-3 gap-y-1 xl:gap-x-4 text-xs text-slate-600 lg:flex-nowrap dark:text-slate-300">
        <Item label="Redis" shrink>
          <span className="font-mono" data-testid="redis-target" title={target ? `${target}${status?.redisVersion ? ` (Redis ${status.redisVersion})` : ''}` : undefined}>
            {target ?? '…'}
          </span>
          {status?.redisVersion && (
            <span className="ml-1 hidden text-slate-500 xl:inline dark:text-slate-400" title="Redis server version" data-testid="redis-version">
              v{status.redisVersion}
            </span>
          )}
        </Item>
        <Item label="Connection" hideLabel>
          <span
            className={`inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 font-medium whitespace-nowrap ${
              live
                ? 'bg-emerald-50 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300'
                : 'bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-300'
            }`}
          >
            <span aria-hidden className={`inline-block h-2 w-2 rounded-full ${live ? 'bg-emerald-500' : 'animate-pulse bg-amber-500'}`} />
            <span data-testid="redis-state">{socket === 'disconnected' ? 'server unreachable' : redisState}</span>
          </span>
        </Item>
        <Item label="Change feed" shortLabel="Feed">
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
        <span className="shrink-0 text-xs text-slate-500 dark:text-slate-400" title="lockscope server version" data-testid="server-version">
          <span className="hidden xl:inline">lockscope </span>v{status.version}
        </span>
      )}
      <AdminStatus />
      <ThemeSwitch />
    </header>
  );
}

/**
 * One fact: a term and its value. Only the Redis target may `shrink` (truncated, full text in its title) — and only
 * once nothing else is left to give.
 */
function Item({ label, shortLabel, hideLabel, shrink, children }: { label: string; shortLabel?: string; hideLabel?: boolean; shrink?: boolean; children: ReactNode }) {
  return (
    <div className={`flex items-center gap-1 whitespace-nowrap ${shrink ? 'min-w-0' : 'shrink-0'}`}>
      <dt className={hideLabel ? 'sr-only' : 'text-slate-500 dark:text-slate-400'}>
        {shortLabel ? (
          <>
            <span aria-hidden>{shortLabel}</span>
            <span className="sr-only">{label}</span>
          </>
        ) : (
          label
        )}
      </dt>
      <dd className={shrink ? 'min-w-0 truncate' : undefined}>{children}</dd>
    </div>
  );
}
