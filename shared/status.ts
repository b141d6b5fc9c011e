/** The state of lockscope's connection to one Redis node, as the header shows it. */
export type RedisConnectionState = 'connecting' | 'ready' | 'reconnecting' | 'down';

/**
 * How lockscope learns about changes on a node: `notifications` = Redis keyspace notifications plus periodic
 * reconcile scans; `polling` = probing tracked keys every POLL_MS and scanning for new ones (notifications
 * unavailable, or not proven to arrive); `starting` = not decided yet.
 */
export type ChangeFeedMode = 'notifications' | 'polling' | 'starting';

/**
 * Something lockscope relies on, checked per node at start-up, after each reconnect, and whenever Redis first
 * refuses it at run time (`NOPERM`):
 * - `scan`: SCAN, to list lock keys. No fallback: without it lockscope is blind.
 * - `read`: the read commands of a probe (TYPE, PTTL/PEXPIRETIME, GETRANGE, STRLEN, HLEN, HKEYS, HSTRLEN, HGET,
 *   HEXISTS, HSCAN, LLEN, SCARD, ZCARD, XLEN, TIME). No fallback: blind.
 * - `keys`: key permissions for the keys SCAN finds. Keys lockscope may not read are counted, not shown.
 * - `eval`: EVAL/EVALSHA of the probe script. Fallback: the same reads as pipelined commands.
 * - `info`: INFO (server identity `run_id`, version). Fallback: restart detection by a marker key or client ids.
 * - `config`: CONFIG GET (is `notify-keyspace-events` on?). Fallback: notifications only where proven to arrive.
 * - `config-set`: CONFIG SET, only wanted with --configure-notifications. Fallback: the server's own setting.
 * - `psubscribe`: PSUBSCRIBE to keyspace channels. Fallback: polling.
 * - `client`: CLIENT SETNAME / CLIENT ID (connection names in CLIENT LIST; one restart signal).
 * - `state-write`: writing lockscope's own bookkeeping keys under `lockscope:state:` (restart marker, proof that
 *   notifications arrive).
 */
export type Capability = 'scan' | 'read' | 'keys' | 'eval' | 'info' | 'config' | 'config-set' | 'psubscribe' | 'client' | 'state-write';

/** A capability a node's Redis user lacks, and what that costs. */
export interface MissingCapability {
  capability: Capability;
  /** What Redis said (e.g. `NOPERM this user has no permissions to run the 'info' command`), or what lockscope saw. */
  detail: string;
  /** What lockscope does instead, and what the user loses, in one sentence. */
  effect: string;
  /** True when lockscope cannot list this node's locks without it (the node is blind). */
  blinds: boolean;
}

/**
 * How lockscope tells that a node's Redis restarted (or failed over) and its data may be gone, so that locks it
 * wiped end `lost`, not `released`:
 * - `run-id`: INFO's `run_id` changed (exact);
 * - `marker`: a key lockscope wrote under `lockscope:state:` is gone, or the connection's client id went backwards
 *   (INFO refused; the marker proves the data went);
 * - `client-id`: only the client id going backwards (INFO refused, `lockscope:state:` not writable): a restart is
 *   missed when more clients connected to the new server than to the old one before lockscope reconnected;
 * - `none`: no signal: locks wiped by a restart show as `released`.
 */
export type RestartSignal = 'run-id' | 'marker' | 'client-id' | 'none';

/** lockscope found a different Redis server process (or lost data) behind a node's connection: a restart or failover. */
export interface RedisRestart {
  /** When lockscope noticed (epoch ms, server clock). */
  at: number;
  /** The node it happened to (`host:port`): after a failover, the server now in its place. */
  node: string;
  /**
   * Set when another server took the node's place (a Sentinel failover): the address of the one before. Locks
   * written to it just before it failed may never have reached its replica (replication is asynchronous).
   */
  from?: string;
  /**
   * Locks held on that node before it that were gone after it (state `lost`): their holders may still believe
   * they hold them. Null while lockscope is still looking.
   */
  lost: number | null;
}

/** One Redis master lockscope watches (a standalone server is a target with one). */
export interface NodeStatus {
  /** Stable id within the target (for a standalone server, its `host:port`). */
  id: string;
  /**
   * `host:port` as lockscope connects to it. A Sentinel target's node is whichever server is master now (before
   * lockscope first reached it: `<master name> (asking the sentinels)`).
   */
  address: string;
  /** Always a master: replicas are not watched (they raise no `expired` events). */
  role: 'master';
  /** A cluster master's hash slots (inclusive ranges; none while it has been given none); null outside a cluster. */
  slots: [number, number][] | null;
  connection: RedisConnectionState;
  /** Last connection or command error (credentials never included), or null. */
  lastError: string | null;
  feed: ChangeFeedMode;
  /** How `feed` was decided: `config` (CONFIG GET), `proven` (test events arrived), or null while unknown. */
  feedSource: 'config' | 'proven' | null;
  /** The polling interval in force (ms): POLL_MS, or longer while probe rounds are slow. */
  pollIntervalMs: number;
  /** Redis server version (e.g. `7.0.15`), when known. */
  redisVersion: string | null;
  /** Capabilities this node's Redis user lacks (empty when it has them all). */
  missing: MissingCapability[];
  /** lockscope cannot list this node's locks (a missing capability `blinds`). */
  blind: boolean;
  /** Keys matching the lock patterns that SCAN listed but the user may not read (key permissions): not shown. */
  unreadableKeys: number;
  /** How a restart of this node is detected; null until the first connection. */
  restartSignal: RestartSignal | null;
  /** The last restart or failover of this node lockscope saw while running, if any. */
  lastRestart: RedisRestart | null;
  /** The first full scan of this node has finished (its locks are all listed). */
  synced: boolean;
}

/**
 * One target's health, worst first:
 * - `down`: no node reachable (or the target could not be set up: `lastError` says why);
 * - `blind`: reachable, but lockscope cannot list (some of) its locks: a missing permission;
 * - `starting`: still connecting or in its first scan;
 * - `degraded`: listing works, but a node is down, or a fallback is in use, or some keys are unreadable;
 * - `ok`.
 */
export type TargetHealth = 'down' | 'blind' | 'starting' | 'degraded' | 'ok';

/** How a target finds its masters: one server, a Redis Cluster (every master), or the master a Sentinel group names. */
export type TopologyKind = 'standalone' | 'cluster' | 'sentinel';

/** A failover the sentinels announced (`+switch-master`) while lockscope watched. */
export interface SentinelFailover {
  /** When lockscope heard of it (epoch ms). */
  at: number;
  /** `host:port` of the master before and after. */
  from: string;
  to: string;
}

/** A Sentinel target's group: the sentinels lockscope listens to for failovers, and the last failover. */
export interface SentinelStatus {
  /** The name the sentinels monitor the master under. */
  masterName: string;
  /**
   * Each configured sentinel (`host:port`) and lockscope's connection to it (its `+switch-master` subscription):
   * `knowsMaster` is its answer to "where is the master of this name?" (false: it monitors none of that name;
   * null: not answered), `lastError` what went wrong (a refused password, say), if anything; `listening`: all is
   * well, lockscope hears this sentinel's failover announcements.
   */
  sentinels: { address: string; connection: RedisConnectionState; knowsMaster: boolean | null; lastError: string | null; listening: boolean }[];
  /** Failovers announced since lockscope started, and the last one. */
  failovers: number;
  lastFailover: SentinelFailover | null;
}

/**
 * This replica's part in watching a target, when several lockscope servers share the work (see the README's
 * "Several replicas"):
 * - `leader`: it holds the target's lease and is the one that scans, subscribes and probes; it publishes what
 *   changed to the others;
 * - `follower`: another replica leads; this one's table is a copy of the leader's, kept from its change stream;
 * - `candidate`: nobody leads right now (the leader went away, or this replica just started): one takes over
 *   within the lease time plus a second;
 * - `alone`: lockscope's state cannot be kept where replicas would share it (`problem` says why): this replica
 *   watches the target by itself, as would any other.
 */
export type ReplicaRole = 'leader' | 'follower' | 'candidate' | 'alone';

/** The target's lease as lockscope last knew it, like `kubectl get lease`. */
export interface LeaseView {
  /** The replica holding it (`host:port#pid`). */
  holder: string;
  /** Goes up by one at every election: the fencing token of what the holder publishes. */
  term: number;
  /** When the holder took it, and last renewed it (Redis's clock, epoch ms). */
  acquiredAt: number;
  renewedAt: number;
  /** How long a renewal keeps it (ms). */
  ttlMs: number;
  /** Times it passed from one replica to another. */
  transitions: number;
}

export interface ReplicationStatus {
  role: ReplicaRole;
  /** This replica (`host:port#pid`). */
  self: string;
  /** Null while nobody holds the lease (or before this replica heard of a holder). */
  lease: LeaseView | null;
  /**
   * A follower's table is complete (its copy of the leader's table has arrived). Always true on a leader, or
   * alone.
   */
  synced: boolean;
  /** When this replica last heard from the leader (epoch ms; a follower hears at least every third of the lease). */
  heardAt: number | null;
  /** Where lockscope's shared state lives: `the watched Redis`, or the STATE_REDIS_URL (password masked). */
  store: string;
  /** What is wrong, in one sentence (why it works alone; a leader not heard from); null when nothing is. */
  problem: string | null;
}

/** One deployment lockscope watches: a server, a Redis Cluster or a Sentinel group. */
export interface TargetStatus {
  /** The name given in REDIS_URL (`prod=redis://…`), or `default` for a single unnamed URL. Used in `?target=`. */
  id: string;
  /** The configured name, or null for a single unnamed URL. */
  name: string | null;
  /** Where it is: the Redis URL with any password masked, or `embedded (redis://127.0.0.1:PORT)`. */
  url: string;
  kind: TopologyKind;
  health: TargetHealth;
  /** Why health is not `ok`, in one sentence; null when it is. */
  problem: string | null;
  /** Locks held now (ended ones still shown are not counted). */
  locks: number;
  nodes: NodeStatus[];
  /** The latest restart of any of its nodes, if any. */
  lastRestart: RedisRestart | null;
  /** A target-level error (it could not be set up), or null. */
  lastError: string | null;
  /** For a Sentinel target: its sentinels and failovers. */
  sentinel?: SentinelStatus;
  /** This replica's part when several lockscope servers share the target; null when lockscope runs alone by design. */
  replication: ReplicationStatus | null;
}

export interface ServerStatus {
  /** lockscope's own version. */
  version: string;
  /** Glob patterns scanned for lock keys. */
  patterns: string[];
  /** Every target, in configuration order (the first is the default view). */
  targets: TargetStatus[];
}
