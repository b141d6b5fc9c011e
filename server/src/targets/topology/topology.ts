import type { EventEmitter } from 'node:events';
import type { Redis, RedisOptions } from 'ioredis';
import type { SentinelStatus, TopologyKind } from '../../../../shared/status';

/** The two connections a node watcher uses: commands (SCAN, probes, INFO, CONFIG) and keyspace subscriptions. */
export interface NodeConnections {
  redis: Redis;
  /** Used only for (P)SUBSCRIBE: a subscribed connection can run nothing else. */
  subscriber: Redis;
}

/** One Redis master to watch, as the topology knows it. */
export interface TopologyNode {
  /**
   * Stable for the life of this node in the topology: `host:port` for a standalone server; a cluster's node id.
   * A failover that puts another server in its place (Sentinel, a promoted cluster replica) is a new node, or the
   * same id on a new server process, which the watcher sees as a restart (see ServerIdentity).
   */
  id: string;
  /**
   * `host:port`, shown to users. May change while the node lives: a Sentinel target's one node is whichever
   * server the sentinels name master now (read it again; a watcher that finds it changed treats it as a restart).
   */
  readonly address: string;
  /** Direct connections to this node (never redirected elsewhere), owned by the topology. */
  connections: NodeConnections;
  /**
   * A cluster master's hash slots now (inclusive ranges; updated in place when slots move); absent for a server
   * that holds every key. lockscope's own keys on this node (restart marker, notification proof) hash into them.
   */
  slots?: [number, number][];
  /**
   * A master that took over from a failed one (a promoted replica): the failed master's `host:port`. The data it
   * serves is what replication brought it, so its first look counts as a restart of that shard: a lock held there
   * before and gone now, before its deadline, ends `lost`.
   */
  succeeds?: string;
}

export interface TopologyEvents {
  /**
   * The set of masters changed (a node added or removed, a master replaced by its promoted replica, slots moved),
   * or what the topology itself reports did (a Sentinel failover, a sentinel's connection): read `nodes()` (and
   * the status) again. The target starts watchers for new nodes and stops those of nodes gone.
   */
  change: [];
  /** The topology itself failed (discovery impossible, bad settings): the target shows it as its error. */
  error: [err: Error];
}

/**
 * How a target finds its Redis masters and routes keys to them. The target asks it which masters to watch and
 * which one owns a key; everything about connecting (URL, TLS, ACL user, Sentinel, cluster discovery) lives here.
 *
 * Standalone: one node, every key. Cluster (`cluster.ts`): one node per master, keys routed by hash slot (`keySlot`
 * in `node/scan.ts`), `change` on failover or resharding. A URL (`url.ts`) is either, found out on connecting. Sentinel: the current master, `change` on `+switch-master`.
 *
 * Rule for routing: only a reply from the node that owns a key may say the key is gone. A redirection
 * (`MOVED`/`ASK`/`TRYAGAIN`/`CLUSTERDOWN`) is an error of the probe, never an absence: the keys are probed again
 * once `nodeFor` answers anew (a probe error is never folded into the tracker; see NodeWatcher.probeNow).
 */
export interface Topology extends EventEmitter<TopologyEvents> {
  readonly kind: TopologyKind;
  /** Database number the lock patterns apply to (for keyspace channel names); always 0 in a cluster. */
  readonly db: number;
  /** The masters to watch now. */
  nodes(): readonly TopologyNode[];
  /** Id of the node that owns `key` now, or null when none is known to (a cluster slot without a master). */
  nodeFor(key: Buffer): string | null;
  /**
   * A connection for commands on any key (admin actions, the audit stream, lock wake-ups): a standalone server's
   * command connection; in a cluster, an ioredis `Cluster` that routes each key to its slot and follows
   * MOVED/ASK.
   */
  readonly keyed: Redis;
  /**
   * Reads the topology again soon (a node answered `MOVED`: the slot map is stale); resolves once it has. Only
   * topologies that route by slot have it.
   */
  refresh?(): Promise<void>;
  /**
   * A new connection of its own for commands on any key, not yet connected (`lazyConnect`; `extra` adds ioredis
   * options): what `keyed` reaches, over connections nobody else uses (lockscope replicas' shared state: a blocking
   * stream read must not hold up anything else) — the server (same address, credentials, TLS, database), the master
   * a Sentinel group names (following failovers), or an ioredis `Cluster` (typed as a `Redis`: it takes the same
   * commands, routed by slot). Owned by the caller.
   */
  connectKeyed(name: string, extra?: RedisOptions): Redis;
  /**
   * Resolves once the topology knows what the target is: a URL's server may turn out to be a cluster node, found out
   * when it first answers (`kindKnown`). Absent: known from the start. Resolves on `stop()` too.
   */
  identified?(): Promise<void>;
  /** Whether `identified()` has resolved (absent: always true). */
  readonly kindKnown?: boolean;
  /** Connects (or starts discovering); resolves once the first attempt is over, reachable or not. */
  start(): Promise<void>;
  /** Disconnects what it opened. */
  stop(): Promise<void>;
  /** A Sentinel topology's sentinels and failovers (for the target's status). */
  sentinelStatus?(): SentinelStatus;
}
