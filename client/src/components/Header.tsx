import type { ReactNode } from 'react';
import type { NodeStatus, SentinelStatus } from '../../../shared/status';
import { formatClock, maskRedisTarget } from '../lib/format';
import { CAPABILITY_LABEL, CONNECTION_DOT, connectionOf, connectionText, feedOf, nodesInOrder, RESTART_SIGNAL_TEXT } from '../lib/targets';
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
            {target?.kind === 'cluster' && (
              <span className="ml-1 text-slate-500 dark:text-slate-400" data-testid="redis-kind">
                · cluster of {target.nodes.length} {target.nodes.length === 1 ? 'master' : 'masters'}
              </span>
            )}
          </Item>
          {target?.sentinel && <SentinelItem sentinel={target.sentinel} master={target.nodes[0] ?? null} />}
          <Item label="Connection" hideLabel>
            <span
              className={`inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 font-medium whitespace-nowrap ${
                live
                  ? 'bg-emerald-50 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300'
                  : 'bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-300'
              }`}
            >
              <span aria-hidden className={`inline-block h-2 w-2 rounded-full ${live ? 'bg-emerald-500' : 'animate-pulse bg-amber-500'}`} />
              <span data-testid="redis-state">{socket === 'disconnected' ? 'server unreachable' : target ? connectionText(target) : redisState}</span>
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

/**
 * A Sentinel target: the server that is master now, and how many sentinels lockscope hears failovers from (all
 * is quiet; fewer is amber; none is red: a failover would go unnoticed). Details in the title.
 */
function SentinelItem({ sentinel, master }: { sentinel: SentinelStatus; master: NodeStatus | null }) {
  const heard = sentinel.sentinels.filter((s) => s.listening).length;
  const all = sentinel.sentinels.length;
  const known = master !== null && master.restartSignal !== null;
  const last = sentinel.lastFailover;
  const title = [
    `Master "${sentinel.masterName}" as the sentinels name it${known ? `: ${master.address}` : ' (not reached yet)'}.`,
    last ? `Last failover at ${formatClock(last.at).slice(0, 8)}: ${last.from} → ${last.to}.` : 'No failover since lockscope started.',
    `Failovers are heard from ${heard} of ${all} sentinels:`,
    ...sentinel.sentinels.map((s) => `  ${s.address}: ${s.connection}${s.lastError ? ` (${s.lastError})` : s.knowsMaster === false ? ` (monitors no master named "${sentinel.masterName}")` : ''}`),
  ].join('\n');
  return (
    <Item label="Master">
      <span className="font-mono" data-testid="sentinel-master" title={title}>
        {known ? master.address : '…'}
      </span>
      <span
        data-testid="sentinel-count"
        title={title}
        className={`ml-1.5 ${heard === all ? 'text-slate-500 dark:text-slate-400' : heard === 0 ? 'font-medium text-red-700 dark:text-red-400' : 'font-medium text-amber-700 dark:text-amber-400'}`}
      >
        sentinels {heard}/{all}
      </span>
    </Item>
  );
}

/** Every node of a target of several: address, connection, feed, and what it lacks. */
function NodeStates({ nodes }: { nodes: NodeStatus[] }) {
  return (
    <ul aria-label="Redis nodes" className="flex flex-wrap gap-x-4 gap-y-1 border-t border-slate-100 px-4 py-1 text-xs text-slate-600 dark:border-slate-800 dark:text-slate-300">
      {nodesInOrder(nodes).map((n) => (
        <li key={n.id} className="flex items-center gap-1.5 whitespace-nowrap" title={nodeTitle(n)} data-node={n.address}>
          <span aria-hidden className={`inline-block h-2 w-2 rounded-full ${n.blind ? 'bg-red-600' : CONNECTION_DOT[n.connection]}`} />
          <span className="font-mono">{n.address}</span>
          <span>{n.blind ? 'blind' : n.connection}</span>
          {n.connection === 'ready' && !n.blind && <span className={n.feed === 'polling' ? 'text-amber-700 dark:text-amber-400' : 'text-slate-500 dark:text-slate-400'}>· {n.feed}</span>}
          {n.slots && <span className="text-slate-500 dark:text-slate-400">· {slotsText(n.slots)}</span>}
          {n.missing.length > 0 && <span className="text-amber-700 dark:text-amber-400">· lacks {n.missing.map((m) => CAPABILITY_LABEL[m.capability]).join(', ')}</span>}
        </li>
      ))}
    </ul>
  );
}

/** A cluster master's slots, short: `slots 0-5460`, `slots 0-100, 200` or, when scattered, `1,366 slots`. */
function slotsText(ranges: [number, number][]): string {
  if (!ranges.length) return 'no slots';
  if (ranges.length <= 2) return `slots ${formatSlots(ranges)}`;
  return `${ranges.reduce((n, [a, b]) => n + b - a + 1, 0).toLocaleString('en-US')} slots`;
}

const formatSlots = (ranges: [number, number][]) => ranges.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(', ');

function nodeTitle(n: NodeStatus): string {
  const parts = [`${n.address}: ${n.connection}${n.lastError ? ` (${n.lastError})` : ''}`, `feed: ${n.feed}`];
  if (n.slots) parts.push(n.slots.length ? `hash slots ${formatSlots(n.slots)}` : 'no hash slots (yet)');
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
