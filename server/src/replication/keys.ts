import { createHash } from 'node:crypto';
import { STATE_PREFIX } from '../targets/node/state-keys';

/**
 * Names of what several lockscope replicas share, all under lockscope's own prefix (`lockscope:state:`).
 *
 * Replicas of one deployment find each other by computing the same **group** for a target: its id plus a digest of
 * what shapes its lock table (database, lock patterns, the held-too-long threshold) — and, when the state lives in
 * a separate Redis (`STATE_REDIS_URL`), of where the target is. Two lockscopes that would show different tables
 * never share a leader. Every key of a group carries the group as a hash tag (`{…}`), so on a Redis Cluster they
 * live in one slot and the scripts that touch several of them (the lease, the fenced publish) are allowed.
 */
export interface GroupKeys {
  group: string;
  /** The lease (a hash with a TTL: holder, term, acquire and renew times). */
  lease: string;
  /** The lease's term counter (a hash without TTL: term, epoch, transitions). */
  term: string;
  /** The leader's change stream (capped). */
  changes: string;
}

export interface GroupIdentity {
  targetId: string;
  db: number;
  patterns: readonly string[];
  heldTooLongMs: number;
  /** Where the target is (masked URL), when the state lives elsewhere; null when it lives in the target itself. */
  where: string | null;
}

const digest = (value: unknown, chars = 10): string => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, chars);

export function groupOf(id: GroupIdentity): string {
  return `${id.targetId}.${digest([id.db, [...id.patterns].sort(), id.heldTooLongMs, id.where])}`;
}

export function groupKeys(group: string): GroupKeys {
  const base = `${STATE_PREFIX}{${group}}`;
  return { group, lease: `${base}:lease`, term: `${base}:term`, changes: `${base}:changes` };
}

/** What the replicas of an app share besides each target's group (all under one hash tag). */
export interface AppKeys {
  /** The Socket.IO bus (`@socket.io/redis-streams-adapter`): its stream, and the prefix of its channels. */
  bus: string;
  /** Admin sessions started on any replica (a hash: session digest → times; never a usable session id). */
  sessions: string;
  /** The simulator's one run per deployment (a lock of lockscope's lock library). */
  sim: string;
}

/** One set of app keys per set of groups, so that only replicas watching the same targets talk to each other. */
export function appKeys(groups: readonly string[]): AppKeys {
  const base = `${STATE_PREFIX}{app.${digest([...groups].sort())}}`;
  return { bus: `${base}:io`, sessions: `${base}:sessions`, sim: `${base}:sim` };
}
