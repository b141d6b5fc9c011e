import type { NodeStatus, SentinelStatus, TargetHealth, TargetStatus } from '../../../shared/status';
import type { Target } from './target';

/** A target as the wire shows it (the header, the switcher, `/healthz`). */
export function targetStatus(target: Target, locks: number): TargetStatus {
  // A replica that does not watch the nodes shows what the leader sees of them (its own topology still follows a
  // Sentinel group: the sentinels' view is its own).
  const mirror = target.watching ? null : target.mirror;
  const nodes = mirror ? mirror.nodes : target.nodes.map((n) => n.status());
  const lastError = mirror ? mirror.lastError : target.lastError;
  const sentinel = target.topology.sentinelStatus?.();
  const { health, problem } = withTlsHint(target.url, sentinel ? sentinelHealth(sentinel, nodes, lastError) : healthOf(nodes, lastError));
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
    ...(sentinel ? { sentinel } : {}),
    replication: target.replication?.() ?? null,
  };
}

/**
 * A TLS server that requires a client certificate (`tls-auth-clients yes`) and gets none resets the connection
 * without a word (`ECONNRESET`, "Connection is closed", or TLS 1.3's "certificate required"): say what that means.
 */
function withTlsHint(url: string, h: { health: TargetHealth; problem: string | null }): { health: TargetHealth; problem: string | null } {
  if (h.health !== 'down' || !/^rediss/.test(url) || !/ECONNRESET|Connection is closed|certificate required|alert unknown ca|alert bad certificate/i.test(h.problem ?? '')) return h;
  return {
    ...h,
    problem: `${h.problem} Over TLS this is how a server refuses a client certificate it requires and did not get, or did not accept: check REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE.`,
  };
}

/**
 * A Sentinel target's health: its node's, said in Sentinel's terms where that helps — a master name no sentinel
 * knows, or no sentinel to hear a failover from (the master may be fine, but a failover would go unnoticed until
 * the old master goes away).
 */
function sentinelHealth(sentinel: SentinelStatus, nodes: NodeStatus[], lastError: string | null): { health: TargetHealth; problem: string | null } {
  const { health, problem } = healthOf(nodes, lastError);
  const answered = sentinel.sentinels.filter((s) => s.knowsMaster !== null);
  const heard = sentinel.sentinels.filter((s) => s.listening);
  if (health === 'down' && answered.length && answered.every((s) => !s.knowsMaster)) {
    return { health, problem: `The sentinels monitor no master named "${sentinel.masterName}": check the master name (REDIS_SENTINEL_MASTER, or the redis+sentinel:// URL's path).` };
  }
  if (health === 'down' && !heard.length) {
    // ioredis's "All sentinels are unreachable. Retrying from scratch after 100ms. Last error: WRONGPASS …" names the cause last.
    const nodeError = nodes.find((n) => n.lastError)?.lastError;
    const error = (nodeError && /Last error: (.+)$/.exec(nodeError)?.[1]) ?? sentinel.sentinels.find((s) => s.lastError)?.lastError ?? nodeError;
    return { health, problem: `No sentinel answers${error ? ` (${error.replace(/\.$/, '')})` : ''}: lockscope cannot find the master.` };
  }
  if (health === 'ok' && !heard.length) {
    return { health: 'degraded', problem: 'No sentinel answers: a failover would go unnoticed until the old master goes away.' };
  }
  return { health, problem };
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
