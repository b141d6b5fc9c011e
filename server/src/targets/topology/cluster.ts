import { EventEmitter } from 'node:events';
import { Cluster, type Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { Coalesced } from '../node/coalesced';
import { keySlot } from '../node/scan';
import { parseClusterNodes, slotOwners, SLOTS, watchedMasters, type ClusterNodeInfo } from './cluster-view';
import { KeyedRouter } from './keyed-router';
import type { Topology, TopologyEvents, TopologyNode } from './topology';

/** How often the slot map is read again while all is well (ioredis's own default is the same). */
export const CLUSTER_REFRESH_MS = 5000;
/** ... and while a watched master is unreachable or failing: a replica takes over within seconds. */
export const CLUSTER_URGENT_REFRESH_MS = 500;

export interface ClusterTopologyOptions {
  /** `host:port` of the nodes to ask first (any node: master or replica). */
  seeds: string[];
  /** A direct connection to one node, not yet connected (credentials and TLS are the caller's). */
  connect(address: string, name: string, extra?: RedisOptions): Redis;
  /** Options for the connections of the keyed ioredis `Cluster` (credentials, TLS). */
  redisOptions: RedisOptions;
  logger: Logger;
  refreshMs?: number;
  urgentRefreshMs?: number;
}

interface MasterNode extends TopologyNode {
  slots: [number, number][];
}

/**
 * A Redis Cluster: one node per master, each watched over direct connections of its own (a SCAN carries no key,
 * so a cluster client would send it to a random node; keyspace notifications are raised by the node that holds
 * the key, and a replica never raises `expired`). Keys are routed by hash slot; `keyed` is an ioredis `Cluster`
 * (MOVED/ASK/TRYAGAIN followed) for admin actions, the audit stream and lock wake-ups.
 *
 * The slot map comes from `CLUSTER NODES`, read from one node (the one that answered last, else any master,
 * seed or replica), every CLUSTER_REFRESH_MS, every CLUSTER_URGENT_REFRESH_MS while a master is unreachable or
 * failing, and when a probe met `MOVED` (`refresh()`). A change of masters or slots emits `change`:
 * - a master killed keeps its slots (and its node, shown down) until its replica takes over; then the replica is
 *   a new node whose `succeeds` names the failed master, so that its first look counts as a restart of that shard
 *   (locks the replica never got end `lost`), and the failed master (no slots left) is no longer watched. Back
 *   from the dead it is a replica: not watched. A planned failover loses nothing: the new master is just watched.
 * - a master added is watched at once (it has nothing until slots are migrated to it); one removed stops.
 * - slots migrated change `nodeFor`; keys already moved answer `ASK` meanwhile, which the probes follow.
 */
export class ClusterTopology extends EventEmitter<TopologyEvents> implements Topology {
  readonly kind = 'cluster';
  readonly db = 0;
  readonly keyed: KeyedRouter;
  private readonly cluster: Cluster;
  private readonly masters = new Map<string, MasterNode>();
  private view: ClusterNodeInfo[] = [];
  private owners: (string | null)[] = new Array<string | null>(SLOTS).fill(null);
  private control: { address: string; redis: Redis } | null = null;
  private readonly reading = new Coalesced(() => this.read(), () => this.stopped);
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastFailure = '';

  constructor(private readonly options: ClusterTopologyOptions) {
    super();
    this.cluster = new Cluster(
      options.seeds.map((a) => hostPort(a)),
      {
        lazyConnect: true,
        // Its ready check is CLUSTER INFO's cluster_state, which is `fail` while a shard has no master: the other
        // shards' locks may still be acted on meanwhile.
        enableReadyCheck: false,
        // An admin action never waits for a connection that may never come: it fails, and says so.
        enableOfflineQueue: false,
        slotsRefreshTimeout: 2000,
        slotsRefreshInterval: options.refreshMs ?? CLUSTER_REFRESH_MS,
        redisOptions: { connectionName: 'lockscope:keyed', maxRetriesPerRequest: 1, ...options.redisOptions },
      },
    );
    this.cluster.on('error', () => {});
    this.cluster.on('node error', () => {});
    this.keyed = new KeyedRouter(() => this.cluster);
    this.keyed.follow(this.cluster);
  }

  nodes(): readonly TopologyNode[] {
    return [...this.masters.values()];
  }

  nodeFor(key: Buffer): string | null {
    return this.owners[keySlot(key)] ?? null;
  }

  connectKeyed(name: string, extra: RedisOptions = {}): Redis {
    // One master serving every slot (a cluster of one node): a connection to it. ioredis cannot route there when the
    // node has never met another, which names itself with an empty address in CLUSTER SLOTS.
    const only = this.masters.size === 1 ? [...this.masters.values()][0]! : null;
    if (only && only.slots.reduce((n, [a, b]) => n + b - a + 1, 0) === SLOTS) {
      return this.options.connect(only.address, name, extra);
    }
    const { lazyConnect: _, enableOfflineQueue, ...redisOptions } = extra;
    const copy = this.cluster.duplicate([], {
      lazyConnect: true,
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      redisOptions: { ...this.cluster.options.redisOptions, connectionName: `lockscope:${name}`, ...redisOptions },
    });
    copy.on('error', () => {});
    copy.on('node error', () => {});
    // Not a `Redis`, but it takes the same commands (each routed to its key's slot, MOVED/ASK followed).
    return copy as unknown as Redis;
  }

  /** Reads the slot map again now (one read at a time; callers wait for the next one to end). */
  refresh(): Promise<void> {
    return this.reading.run();
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.refresh();
    this.schedule();
    // Its first slot map comes from the same nodes; a failure retries in the background (clusterRetryStrategy).
    await this.cluster.connect().catch(() => {});
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.reading.current;
    for (const node of this.masters.values()) disconnect(node);
    this.masters.clear();
    this.control?.redis.disconnect();
    this.control = null;
    this.cluster.disconnect();
  }

  private schedule(): void {
    if (this.stopped) return;
    const urgent = this.unsettled();
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh().finally(() => this.schedule());
    }, urgent ? (this.options.urgentRefreshMs ?? CLUSTER_URGENT_REFRESH_MS) : (this.options.refreshMs ?? CLUSTER_REFRESH_MS));
    this.timer.unref();
  }

  /** A failover may be under way: a watched master unreachable, or failing in the cluster's eyes. */
  private unsettled(): boolean {
    for (const node of this.masters.values()) if (node.connections.redis.status !== 'ready') return true;
    return this.view.some((n) => n.role === 'master' && (n.failed || n.suspect) && n.slots.length);
  }

  private async read(): Promise<void> {
    if (this.stopped) return;
    const candidates = [
      this.control?.address,
      ...[...this.masters.values()].map((n) => n.address),
      ...this.options.seeds,
      ...this.view.map((n) => n.address),
    ].filter((a, i, all): a is string => !!a && all.indexOf(a) === i);
    const failures: string[] = [];
    for (const address of candidates) {
      try {
        const text = await this.ask(address);
        this.lastFailure = '';
        await this.apply(parseClusterNodes(text, hostPort(address).host));
        return;
      } catch (err) {
        failures.push(`${address}: ${(err as Error).message}`);
        if (this.stopped) return;
      }
    }
    const why = `no node of the cluster answered CLUSTER NODES (${failures.slice(0, 3).join('; ')})`;
    if (why !== this.lastFailure) this.options.logger.warn({ err: why }, 'could not read the cluster\'s slot map; keeping the last one');
    this.lastFailure = why;
    // Before any slot map there is nothing to show but this.
    if (!this.view.length) this.emit('error', new Error(why));
  }

  /** `CLUSTER NODES` from one node, over the topology's own connection (moved to that node if need be). */
  private async ask(address: string): Promise<string> {
    if (this.control?.address !== address) {
      this.control?.redis.disconnect();
      this.control = { address, redis: this.options.connect(address, 'topology') };
    }
    const { redis } = this.control;
    try {
      if (redis.status === 'wait') await redis.connect();
      else if (redis.status !== 'ready') throw new Error(`not connected (${redis.status})`);
      return String(await redis.call('CLUSTER', 'NODES'));
    } catch (err) {
      // Its own reconnecting would only race the next candidate: start afresh next time.
      if (this.control?.redis === redis) this.control = null;
      redis.disconnect();
      throw err;
    }
  }

  /**
   * Follows a new slot map: masters new to it are connected first (a first attempt, reachable or not), so that
   * their watchers start on a connection that has had its chance; then `change`.
   */
  private async apply(view: ClusterNodeInfo[]): Promise<void> {
    const before = new Map(this.view.map((n) => [n.id, n]));
    const next = watchedMasters(view);
    const connecting: Promise<unknown>[] = [];
    let changed = false;
    for (const info of next) {
      const node = this.masters.get(info.id);
      if (node && node.address === info.address) {
        if (JSON.stringify(node.slots) !== JSON.stringify(info.slots)) {
          node.slots = info.slots;
          changed = true;
        }
        continue;
      }
      if (node) this.remove(node);
      connecting.push(this.add(info, before, view));
      changed = true;
    }
    const ids = new Set(next.map((n) => n.id));
    for (const node of this.masters.values()) {
      if (ids.has(node.id)) continue;
      this.remove(node);
      changed = true;
    }
    const owners = slotOwners(view);
    if (!changed) changed = owners.some((id, slot) => id !== this.owners[slot]);
    this.owners = owners;
    this.view = view;
    await Promise.all(connecting);
    if (changed && !this.stopped) this.emit('change');
  }

  private add(info: ClusterNodeInfo, before: Map<string, ClusterNodeInfo>, view: ClusterNodeInfo[]): Promise<unknown> {
    const address = info.address!;
    const succeeds = this.failedOver(info, before, view);
    const node: MasterNode = {
      id: info.id,
      address,
      slots: info.slots,
      connections: { redis: this.options.connect(address, 'commands'), subscriber: this.options.connect(address, 'subscriber') },
      ...(succeeds ? { succeeds } : {}),
    };
    // A master's connection lost: a failover may be starting; look sooner.
    node.connections.redis.on('close', () => {
      if (this.masters.get(node.id) === node) void this.refresh();
    });
    this.masters.set(node.id, node);
    this.options.logger.info({ node: address, slots: info.slots.length ? info.slots : 'none', succeeds }, succeeds ? 'cluster master took over from a failed one' : 'following a cluster master');
    // A first attempt that fails is retried in the background (connectRedis's retry strategy): the watcher says so.
    return Promise.all([node.connections.redis.connect(), node.connections.subscriber.connect()]).catch(() => {});
  }

  /**
   * A replica a moment ago, a master now, in place of a master that failed: the failed master's address. Its
   * writes that had not reached the replica are gone. A planned `CLUSTER FAILOVER` (the old master alive, reachable
   * and now its replica) waits for the replica to catch up first: nothing is lost, and a lock deleted since is
   * released, not lost.
   */
  private failedOver(info: ClusterNodeInfo, before: Map<string, ClusterNodeInfo>, view: ClusterNodeInfo[]): string | undefined {
    const was = before.get(info.id);
    if (was?.role !== 'replica' || !was.masterId) return undefined;
    const old = before.get(was.masterId);
    if (!old?.address) return undefined;
    const now = view.find((n) => n.id === old.id);
    const watched = this.masters.get(old.id);
    const failed = old.failed || old.suspect || !now || now.failed || now.suspect || (watched !== undefined && watched.connections.redis.status !== 'ready');
    return failed ? old.address : undefined;
  }

  private remove(node: MasterNode): void {
    this.masters.delete(node.id);
    disconnect(node);
    this.options.logger.info({ node: node.address }, 'cluster master no longer watched (failed over, became a replica, or left)');
  }
}

function disconnect(node: TopologyNode): void {
  node.connections.redis.disconnect();
  node.connections.subscriber.disconnect();
}

/** `host:port` (IPv6 hosts in brackets or bare, as Redis writes them) → ioredis node options. */
export function hostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}
