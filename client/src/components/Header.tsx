import type { ReactNode } from 'react';
import type { NodeStatus } from '../../../shared/status';
import { maskRedisTarget } from '../lib/format';
import { CAPABILITY_LABEL, CONNECTION_DOT, connectionOf, feedOf, RESTART_SIGNAL_TEXT } from '../lib/targets';
import { lockModel, useLocksVersion, useLockStore, useViewedTarget } from '../store/lock-store';
import { AdminStatus } from './Admin/AdminStatus';
import { ReplicaItem } from './ReplicaStatus';
import { ThemeSwitch } from './ThemeSwitch';

const FEED_LABEL = { notifications: 'notifications', polling: 'polling', starting: 'starting', mixed: 'mixed', off: 'off' } as const;

const FEED_TITLE = {
  notifications: 'Redis keyspace notifications: changes show as they happen.',
  polling: 'Keyspace notifications are unavailable: lockscope probes tracked keys on an interval, so changes show with a delay.',
  starting: undefined,
  mixed: 'Some nodes send keyspace notifications, others are polled: see the nodes.',
  off: 'lockscope cannot list locks here (a permission is missing): nothing is followed.',
} as const;

/**
 * Where the data comes from and whether it is live: the first thing to check in an incident. One line from
 * 1024 px up: everything but the Redis target has a fixed, short size, so the target is the last thing to give.
 * It describes the target shown; a target of several nodes lists each node's state on a line of its own.
 */
export function Header() {
  useLocksVersion();
  const target = useViewedTarget();
  const socket = useLockStore((s) => s.socket);
  const version = useLockStore((s) => s.status?.version ?? null);
  const redisState = target ? connectionOf(target) : 'connecting';
  const live = socket === 'connected' && redisState === 'ready';
  // A blind target has no feed: nothing is followed.
  const feed = target ? (target.health === 'blind' ? 'off' : feedOf(target)) : null;
  const proven = target?.nodes.some((n) => n.feedSource === 'proven') ?? false;
  const url = target ? maskRedisTarget(target.url) : null;
  const redisVersion = target?.nodes.find((n) => n.redisVersion)?.redisVersion ?? null;
  return (
    <header className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
      <div className="flex flex-wrap items-center gap-x-3 gap-y-1 px-4 py-2 lg:flex-nowrap xl:gap-x-4">
        <h1 className="flex shrink-0 items-center gap-2 text-base font-semibold tracking-tight">
          <svg aria-hidden viewBox="0 0 16 16" className="h-4 w-4 fill-none stroke-sky-600 stroke-2 dark:stroke-sky-400">
            <rect x="3" y="7" width="10" height="7" rx="1.5" />
            <path d="M5.5 7V5a2.5 2.5 0 0 1 5 0v2" />
          </svg>
          lockscope
        </h1>
        <dl className="flex min-w-0 flex-1 flex-wrap items-center gap-x-3 gap-y-1 text-xs text-slate-600 lg:flex-nowrap xl:gap-x-4 dark:text-slate-300">
          <Item label="Redis" shrink>
            {target?.name && <span className="mr-1.5 font-semibold text-slate-900 dark:text-slate-100" data-testid="target-name">{target.name}</span>}
            <span className="font-mono" data-testid="redis-target" title={url ? `${url}${redisVersion ? ` (Redis ${redisVersion})` : ''}` : undefined}>
              {url ?? '…'}
            </span>
            {redisVersion && (
              <span className="ml-1 hidden text-slate-500 xl:inline dark:text-slate-400" title="Redis server version" data-testid="redis-version">
                v{redisVersion}
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
          {target?.health === 'blind' && (
            <Item label="Visibility" hideLabel>
              <span
                data-testid="target-blind"
                title={target.problem ?? undefined}
                className="inline-flex items-center gap-1.5 rounded-full bg-red-700 px-2 py-0.5 font-semibold whitespace-nowrap text-white"
              >
                blind
              </span>
            </Item>
          )}
          <Item label="Change feed" shortLabel="Feed">
            <span
              data-testid="feed-mode"
              title={feed ? `${FEED_TITLE[feed] ?? ''}${proven ? ' (CONFIG is refused: test events proved notifications arrive.)' : ''}` : undefined}
              className={
                feed === 'off' ? 'font-medium text-red-700 dark:text-red-400' : feed === 'polling' || feed === 'mixed' ? 'font-medium text-amber-700 dark:text-amber-400' : undefined
              }
            >
              {feed ? FEED_LABEL[feed] : '…'}
            </span>
          </Item>
          <Item label="Locks">
            <span className="font-mono font-semibold text-slate-900 tabular-nums dark:text-slate-100" data-testid="lock-count">
              {lockModel.size.toLocaleString('en-US')}
            </span>
          </Item>
        </dl>
        {version && (
          <span className="shrink-0 text-xs text-slate-500 dark:text-slate-400" title="lockscope server version" data-testid="server-version">
            <span className="hidden xl:inline">lockscope </span>v{version}
          </span>
        )}
        <ReplicaItem />
        <AdminStatus />
        <ThemeSwitch />
      </div>
      {target && target.nodes.length > 1 && <NodeStates nodes={target.nodes} />}
    </header>
  );
}

/** Every node of a target of several: address, connection, feed, and what it lacks. */
function NodeStates({ nodes }: { nodes: NodeStatus[] }) {
  return (
    <ul aria-label="Redis nodes" className="flex flex-wrap gap-x-4 gap-y-1 border-t border-slate-100 px-4 py-1 text-xs text-slate-600 dark:border-slate-800 dark:text-slate-300">
      {nodes.map((n) => (
        <li key={n.id} className="flex items-center gap-1.5 whitespace-nowrap" title={nodeTitle(n)} data-node={n.address}>
          <span aria-hidden className={`inline-block h-2 w-2 rounded-full ${n.blind ? 'bg-red-600' : CONNECTION_DOT[n.connection]}`} />
          <span className="font-mono">{n.address}</span>
          <span>{n.blind ? 'blind' : n.connection}</span>
          {n.connection === 'ready' && !n.blind && <span className={n.feed === 'polling' ? 'text-amber-700 dark:text-amber-400' : 'text-slate-500 dark:text-slate-400'}>· {n.feed}</span>}
          {n.missing.length > 0 && <span className="text-amber-700 dark:text-amber-400">· lacks {n.missing.map((m) => CAPABILITY_LABEL[m.capability]).join(', ')}</span>}
        </li>
      ))}
    </ul>
  );
}

function nodeTitle(n: NodeStatus): string {
  const parts = [`${n.address}: ${n.connection}${n.lastError ? ` (${n.lastError})` : ''}`, `feed: ${n.feed}`];
  if (n.redisVersion) parts.push(`Redis ${n.redisVersion}`);
  if (n.restartSignal) parts.push(RESTART_SIGNAL_TEXT[n.restartSignal]);
  for (const m of n.missing) parts.push(`No ${CAPABILITY_LABEL[m.capability]}: ${m.effect}`);
  return parts.join('\n');
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
