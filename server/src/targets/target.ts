import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisKeyType } from '../../../shared/locks';
import type { NodeStatus, RedisRestart, ReplicationStatus, TargetStatus } from '../../../shared/status';
import type { Libraries } from '../libraries';
import { LockTracker, RENEWAL_THRESHOLD_MS } from '../model/lock-tracker';
import { ExpiryWheel } from './expiry-wheel';
import { NodeWatcher, type NodeHost, type NodeWatcherOptions } from './node/node-watcher';
import type { IdentityMemory } from './node/server-identity';
import { targetStatus } from './target-status';
import type { Topology } from './topology/topology';

export interface TargetSpec {
  /** The configured name, or `default` for a single unnamed target (`TargetStatus.id`). */
  id: string;
  name: string | null;
  /** Where it is, safe to show: the URL with its password masked, or `embedded (…)`. */
  url: string;
  topology: Topology;
  /** May lockscope change `notify-keyspace-events` on its nodes? */
  configureNotifications: boolean;
}

export type TargetOptions = Omit<NodeWatcherOptions, 'db' | 'configureNotifications'> & {
  heldTooLongMs: number;
};

export interface TargetDeps {
  logger: Logger;
  clock?: () => number;
  /**
   * Identifies this lockscope in bookkeeping keys (restart markers); random by default. Replicas of one deployment
   * share it, so that whichever leads finds the marker the one before it wrote.
   */
  instanceId?: string;
  /** What lockscope knows of lock libraries (declared formats included); default: the built-ins. */
  libraries?: Libraries;
  /**
   * Something else decides when this target's nodes are watched (a replica that must be elected first): `start()`
   * connects, but scans, subscribes and probes nothing until `activate()` — on no node, those a cluster's slot map
   * adds later included.
   */
  standby?: boolean;
}

/** What a replica that does not watch the nodes itself shows of them: the leader's view (see `Target.mirror`). */
export interface MirroredStatus {
  nodes: NodeStatus[];
  lastRestart: RedisRestart | null;
  lastError: string | null;
}

/** What an admin action did to a lock, for its history. */
export type AdminActionKind = 'force-released' | 'holder-force-released' | 'ttl-set';

export interface TargetEvents {
  /** Something in `status()` changed (a node's connection, feed, capabilities, restart; the set of nodes). */
  status: [];
  /** A node finished a full discovery scan: which, its wall time and the distinct keys it found. */
  scan: [node: string, durationMs: number, keys: number];
}

/**
 * One deployment lockscope watches — a server (later a cluster or a Sentinel group) — as a unit that starts,
 * fails and stops alone: its own lock table (`tracker`), one node watcher per master its topology yields, and the
 * expiry wheel that looks at each lock again at its deadline. A key is probed by the node that owns it
 * (`requestProbe` routes it), and a node's restart puts only that node's locks in doubt.
 *
 * What changed leaves through one seam, the tracker's `change`/`remove` events, which the broadcaster streams: a
 * lockscope replica that follows another's change sets instead of scanning would feed its own tracker from there.
 */
export class Target extends EventEmitter<TargetEvents> implements NodeHost {
  readonly id: string;
  readonly name: string | null;
  readonly url: string;
  readonly tracker: LockTracker;
  readonly topology: Topology;
  readonly instanceId: string;
  /** Why the target could not be set up (its topology failed), or null. */
  lastError: string | null = null;
  /**
   * While another replica watches the nodes: its view of them, shown instead of this replica's idle watchers
   * (set by the replica that follows it; null otherwise).
   */
  mirror: MirroredStatus | null = null;
  /** This replica's part in the target's replication, for the status; null when the target is not replicated. */
  replication: (() => ReplicationStatus) | null = null;
  /** While another replica watches the nodes: who carries out what admin actions leave to do (`afterAction`). */
  leader: Pick<Target, 'afterAction'> | null = null;
  private readonly watchers = new Map<string, NodeWatcher>();
  private readonly wheel: ExpiryWheel;
  private readonly logger: Logger;
  private tick: NodeJS.Timeout | null = null;
  private started = false;
  /** The node watchers act (scan, subscribe, probe): always, unless the target is on standby and not activated. */
  private active: boolean;

  constructor(
    private readonly spec: TargetSpec,
    private readonly options: TargetOptions,
    deps: TargetDeps,
  ) {
    super();
    this.id = spec.id;
    this.name = spec.name;
    this.url = spec.url;
    this.topology = spec.topology;
    this.instanceId = deps.instanceId ?? randomUUID();
    this.active = !deps.standby;
    this.logger = deps.logger.child({ target: spec.id });
    this.tracker = new LockTracker({ heldTooLongMs: options.heldTooLongMs, clock: deps.clock, libraries: deps.libraries });
    this.wheel = new ExpiryWheel((id) => this.expiryCheck(id));
    this.tracker.on('change', (view) => {
      if (view.deadline !== null && view.endedAt === null) this.wheel.schedule(view.id, view.deadline);
    });
    this.topology.on('change', () => void this.followTopology());
    this.topology.on('error', (err) => {
      this.lastError = err.message;
      this.logger.error({ err: err.message }, 'target topology failed');
      this.emit('status');
    });
    this.followTopology();
  }

  /** The node watchers, one per master. */
  get nodes(): NodeWatcher[] {
    return [...this.watchers.values()];
  }

  /** A connection for commands on any of this target's keys (admin actions, the audit stream). */
  get keyed(): Redis {
    return this.topology.keyed;
  }

  /** Whether the node watchers act now (see `TargetDeps.standby`). */
  get watching(): boolean {
    return this.active;
  }

  /** The latest restart of any node. */
  get lastRestart(): RedisRestart | null {
    let latest: RedisRestart | null = null;
    for (const n of this.watchers.values()) if (n.lastRestart && (!latest || n.lastRestart.at > latest.at)) latest = n.lastRestart;
    return latest;
  }

  /**
   * Connects and follows every node; resolves after the first sync of the nodes reachable now (the others sync
   * when they come). Never throws: a target that cannot start says so in its status, and the others go on.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.wheel.start();
    this.tick = setInterval(() => this.tracker.tick(), 1000);
    this.tick.unref();
    try {
      await this.topology.start();
    } catch (err) {
      this.lastError = (err as Error).message;
      this.logger.error({ err: this.lastError }, 'target could not be set up');
      this.emit('status');
    }
    await this.followTopology();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.wheel.stop();
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
    await this.topology.stop().catch(() => {});
  }

  /**
   * Starts watching the nodes (this replica was elected): each resumes where it was paused, or starts, and resyncs
   * against the table as it is — nothing in it is cleared first.
   */
  async activate(): Promise<void> {
    if (this.active) return;
    this.active = true;
    this.emit('status');
    if (this.started) await Promise.all(this.nodes.map((n) => this.startNode(n)));
  }

  private startNode(watcher: NodeWatcher): Promise<void> {
    return watcher.start().catch((err: Error) => void this.logger.error({ err: err.message }, 'node watcher failed to start'));
  }

  /** Stops watching the nodes (another replica leads); the table stays, fed by whoever follows the leader. */
  async deactivate(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    await Promise.all(this.nodes.map((n) => n.pause()));
    this.emit('status');
  }

  /** What each node watcher knows of its server, by node id (handed to the next replica to lead). */
  nodeMemories(): Record<string, IdentityMemory> {
    return Object.fromEntries(this.nodes.map((n) => [n.id, n.identity.memory()]));
  }

  /** Takes over what the previous leader knew of each node (before `activate()`). */
  rememberNodes(memories: Record<string, IdentityMemory>): void {
    for (const n of this.nodes) {
      const m = memories[n.id];
      if (m) n.rememberServer(m);
    }
  }

  /** Full discovery on every node. */
  async resync(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.resync()));
  }

  /**
   * An admin action changed a lock: note it in the lock's history (before the probe sees its effect; `holder`: the
   * holder freed alone) and look at the key now rather than at the next notification or poll. While another replica
   * watches the nodes, both are the leader's to do (`leader`).
   */
  afterAction(id: string, key: Buffer, kind: AdminActionKind, pttlMs: number, holder?: Buffer): void {
    if (!this.active && this.leader) {
      this.leader.afterAction(id, key, kind, pttlMs, holder);
      return;
    }
    this.tracker.note(id, kind, pttlMs, holder);
    this.requestProbe(key, id);
  }

  /** Probes a key soon, on the node that owns it (bursts for one key collapse into one probe). */
  requestProbe(key: Buffer, id?: string): void {
    this.nodeOf(key)?.requestProbe(key, id);
  }

  status(locks = this.heldCount()): TargetStatus {
    return targetStatus(this, locks);
  }

  /** Locks held now (ended ones still shown are not counted). */
  heldCount(): number {
    let n = 0;
    for (const v of this.tracker.views()) if (v.endedAt === null) n++;
    return n;
  }

  /** Expiry checks waiting in the wheel (stale ones included), for the heap bench. */
  pendingExpiryChecks(): number {
    return this.wheel.pending();
  }

  // NodeHost: what the node watchers ask of their target.

  heldKeys(node: NodeWatcher, type?: RedisKeyType): Buffer[] {
    const keys = this.tracker.heldKeys(type);
    return this.watchers.size === 1 ? keys : keys.filter((k) => this.topology.nodeFor(k) === node.id);
  }

  heldIds(node: NodeWatcher): Iterable<string> {
    const ids = this.tracker.heldIds();
    return this.watchers.size === 1 ? ids : [...ids].filter((id) => this.owns(node, id));
  }

  owns(node: NodeWatcher, id: string): boolean {
    return this.watchers.size === 1 || this.topology.nodeFor(Buffer.from(id, 'base64')) === node.id;
  }

  ownsKey(node: NodeWatcher, key: Buffer): boolean {
    return this.watchers.size === 1 || this.topology.nodeFor(key) === node.id;
  }

  askNode(address: string, keys: Buffer[]): boolean {
    for (const w of this.watchers.values()) {
      if (w.address !== address) continue;
      w.probeAsked(keys);
      return true;
    }
    // A master not in the slot map yet (just added): read it again.
    void this.refreshTopology();
    return false;
  }

  async refreshTopology(): Promise<void> {
    await this.topology.refresh?.().catch(() => {});
  }

  expiryDue(id: string, at: number): void {
    this.wheel.schedule(id, at);
  }

  private nodeOf(key: Buffer): NodeWatcher | undefined {
    if (this.watchers.size === 1) return this.watchers.values().next().value;
    const id = this.topology.nodeFor(key);
    return id === null ? undefined : this.watchers.get(id);
  }

  private expiryCheck(id: string): void {
    const view = this.tracker.get(id);
    // A renewal moved the deadline (and scheduled another check), or the lock ended: this entry is stale. A deadline
    // up to the tracker's jitter threshold ahead is due too (the probe that scheduled this one saw the key nearer).
    if (!view || view.endedAt !== null || view.deadline === null) return;
    if (view.deadline - Date.now() <= RENEWAL_THRESHOLD_MS) this.requestProbe(Buffer.from(id, 'base64'), id);
  }

  /** Watches the masters the topology yields now: new ones start (once the target has), gone ones stop. */
  private async followTopology(): Promise<void> {
    const current = new Map(this.topology.nodes().map((n) => [n.id, n]));
    const starting: Promise<void>[] = [];
    for (const [id, node] of current) {
      let watcher = this.watchers.get(id);
      if (!watcher) {
        watcher = new NodeWatcher(
          node,
          this,
          { ...this.options, db: this.topology.db, configureNotifications: this.spec.configureNotifications },
          // The id, not the address: a Sentinel node's address changes with each failover (log lines name it too).
          this.logger.child({ node: node.id }),
        );
        const w = watcher;
        w.on('status', () => this.emit('status'));
        w.on('scan', (ms, keys) => this.emit('scan', w.id, ms, keys));
        this.watchers.set(id, watcher);
      }
      if (this.started && this.active) starting.push(this.startNode(watcher));
    }
    for (const [id, watcher] of this.watchers) {
      if (current.has(id)) continue;
      this.watchers.delete(id);
      starting.push(watcher.stop());
    }
    if (current.size > 1) this.reprobeMoved();
    this.emit('status');
    await Promise.all(starting);
  }

  /**
   * Slots moved (a migration ended, a failover): a lock last read on another master than the one serving its slot
   * now is read there, so that it shows where it lives without waiting for its next change. (A master that took
   * over after a failure reads its shard's locks itself, once it knows what it lost.)
   */
  private reprobeMoved(): void {
    const address = new Map([...this.watchers.values()].map((w) => [w.id, w.address]));
    for (const view of this.tracker.views()) {
      if (view.endedAt !== null || view.node === null) continue;
      const key = Buffer.from(view.id, 'base64');
      const owner = this.topology.nodeFor(key);
      if (owner !== null && address.get(owner) !== view.node) this.requestProbe(key, view.id);
    }
  }
}
