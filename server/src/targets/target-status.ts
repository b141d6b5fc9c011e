import type { NodeStatus, TargetHealth, TargetStatus } from '../../../shared/status';
import type { Target } from './target';

/** A target as the wire shows it (the header, the switcher, `/healthz`). */
export function targetStatus(target: Target, locks: number): TargetStatus {
  // A replica that does not watch the nodes shows what the leader sees of them.
  const mirror = target.watching ? null : target.mirror;
  const nodes = mirror ? mirror.nodes : target.nodes.map((n) => n.status());
  const lastError = mirror ? mirror.lastError : target.lastError;
  const { health, problem } = healthOf(nodes, lastError);
  return {
    id: target.id,
    name: target.name,
    url: target.url,
    kind: target.topology.kind,
    health,
    problem,
    locks,
    nodes,
    lastRestart: mirror ? mirror.lastRestart : target.lastRestart,
    lastError,
    replication: target.replication?.() ?? null,
  };
}

/** The worst thing about a target, and a sentence saying it (see `TargetHealth`). */
export function healthOf(nodes: NodeStatus[], lastError: string | null): { health: TargetHealth; problem: string | null } {
  if (!nodes.length) {
    return lastError ? { health: 'down', problem: `The target could not be set up: ${lastError}` } : { health: 'starting', problem: 'Looking for its Redis nodes…' };
  }
  const up = nodes.filter((n) => n.connection === 'ready');
  const where = (ns: NodeStatus[]) => (nodes.length > 1 ? ` (${ns.map((n) => n.address).join(', ')})` : '');
  if (!up.length) {
    if (nodes.every((n) => n.connection === 'connecting' && !n.lastError)) return { health: 'starting', problem: 'Connecting to Redis…' };
    const error = nodes.find((n) => n.lastError)?.lastError;
    const state = nodes.some((n) => n.connection === 'reconnecting') ? 'reconnecting' : 'unreachable';
    return { health: 'down', problem: `Redis is ${state}${error ? ` (${error})` : ''}: lockscope cannot look at its locks.` };
  }
  const blind = up.filter((n) => n.blind);
  if (blind.length) {
    const why = blind[0]!.missing.filter((m) => m.blinds).map((m) => m.detail)[0] ?? 'a permission is missing';
    return { health: 'blind', problem: `lockscope cannot list the locks${where(blind)}: ${why}.` };
  }
  if (up.some((n) => !n.synced)) return { health: 'starting', problem: 'Looking for locks…' };
  const down = nodes.filter((n) => n.connection !== 'ready');
  if (down.length) return { health: 'degraded', problem: `${down.length} of ${nodes.length} nodes unreachable${where(down)}: their locks are not followed.` };
  const missing = [...new Set(nodes.flatMap((n) => n.missing.map((m) => m.capability)))];
  if (missing.length) return { health: 'degraded', problem: `The Redis user lacks ${missing.join(', ')}: lockscope uses fallbacks (see the nodes).` };
  return { health: 'ok', problem: null };
}

/** lockscope can list this target's locks (what `/healthz` checks). */
export const canList = (health: TargetHealth): boolean => health === 'ok' || health === 'degraded';
