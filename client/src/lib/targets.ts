import type { Capability, NodeStatus, RedisConnectionState, RestartSignal, TargetHealth, TargetStatus } from '../../../shared/status';

/** How a target's health reads in the switcher and the header. */
export const HEALTH_LABEL: Record<TargetHealth, string> = {
  ok: 'ok',
  degraded: 'degraded',
  starting: 'starting',
  blind: 'blind',
  down: 'down',
};

/** Dot colour per health (never the only cue: the label or title says it too). */
export const HEALTH_DOT: Record<TargetHealth, string> = {
  ok: 'bg-emerald-500',
  degraded: 'bg-amber-500',
  starting: 'bg-sky-500 animate-pulse',
  blind: 'bg-red-600',
  down: 'bg-red-600',
};

export const CONNECTION_DOT: Record<RedisConnectionState, string> = {
  ready: 'bg-emerald-500',
  connecting: 'bg-sky-500 animate-pulse',
  reconnecting: 'bg-amber-500 animate-pulse',
  down: 'bg-red-600',
};

/** What each capability is, in the words of a person reading the header. */
export const CAPABILITY_LABEL: Record<Capability, string> = {
  scan: 'SCAN',
  read: 'read commands',
  keys: 'key permissions',
  eval: 'EVAL (scripts)',
  info: 'INFO',
  config: 'CONFIG GET',
  'config-set': 'CONFIG SET',
  psubscribe: 'PSUBSCRIBE (channels)',
  client: 'CLIENT',
  'state-write': 'writing lockscope:state:*',
};

/** How a restart of the node is told, and what that misses. */
export const RESTART_SIGNAL_TEXT: Record<RestartSignal, string> = {
  'run-id': 'Restarts are detected by INFO run_id.',
  marker: 'Restarts are detected by a marker key under lockscope:state: (INFO is refused).',
  'client-id':
    'Restarts are detected only by client ids going backwards (INFO refused, lockscope:state: not writable): one is missed if more clients reach the new server first than had reached the old one.',
  none: 'Restarts cannot be detected (INFO, CLIENT and lockscope:state: refused): locks a restart wipes show as released, not lost.',
};

/** The worst connection state of a target's nodes (what one pill says for all of them). */
export function connectionOf(target: TargetStatus): RedisConnectionState {
  const order: RedisConnectionState[] = ['down', 'reconnecting', 'connecting', 'ready'];
  if (!target.nodes.length) return target.lastError ? 'down' : 'connecting';
  return order.find((s) => target.nodes.some((n) => n.connection === s)) ?? 'ready';
}

/**
 * What the connection pill says: the worst state, and for a target of several nodes of which some are still up,
 * how many are not (`1 of 3 down`: the rest is live).
 */
export function connectionText(target: TargetStatus): string {
  const state = connectionOf(target);
  const away = target.nodes.filter((n) => n.connection !== 'ready').length;
  if (state === 'ready' || target.nodes.length < 2 || away === target.nodes.length) return state;
  return `${away} of ${target.nodes.length} ${state}`;
}

/** Cluster masters in slot order (those without slots last), others as they come. */
export function nodesInOrder(nodes: NodeStatus[]): NodeStatus[] {
  const first = (n: NodeStatus) => n.slots?.[0]?.[0] ?? Infinity;
  return [...nodes].sort((a, b) => first(a) - first(b) || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** One feed mode when every node agrees, else `mixed`. */
export function feedOf(target: TargetStatus): NodeStatus['feed'] | 'mixed' {
  const modes = new Set(target.nodes.map((n) => n.feed));
  if (modes.size === 0) return 'starting';
  return modes.size === 1 ? [...modes][0]! : 'mixed';
}

/** How a target is named on screen: its name, or its (masked) URL for a single unnamed one. */
export function targetLabel(target: TargetStatus): string {
  return target.name ?? target.url;
}
