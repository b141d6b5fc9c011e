import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Server } from 'socket.io';
import type { ReplicationStatus } from '../../../shared/status';
import { maskRedisUrl, sentinelLabel, targetId, type TargetConfig } from '../config/targets';
import { connectRedis, dbFromUrl } from '../redis/connect';
import { addressOfClient } from '../targets/topology/standalone';
import type { Target } from '../targets/target';
import type { TargetSet } from '../targets/target-set';
import { ReplicaBus } from './bus';
import { appKeys, groupKeys, groupOf, type AppKeys, type GroupKeys } from './keys';
import { shareState, type SharedStateDeps } from './shared-state';
import { TargetReplica } from './target-replica';

/** Where the state lives when STATE_REDIS_URL is not set. */
const WATCHED = 'the watched Redis';
/** Entries the bus's stream keeps (simulator state and stats, audit entries: small, a few a second at most). */
const BUS_MAX_ENTRIES = 1000;
/** The bus's blocking reads end this often when idle (one command each): a stopping replica waits for one at most. */
const BUS_BLOCK_MS = 2000;
/** Longest a state connection's first attempt is waited for at start-up (it keeps trying afterwards). */
const CONNECT_WAIT_MS = 5000;

export interface ReplicationSettings {
  patterns: readonly string[];
  heldTooLongMs: number;
  /** STATE_REDIS_URL, or null: each target's state in the target itself. */
  stateRedisUrl: string | null;
  leaseMs: number;
}

/** The group (and its keys) of each configured target, by target id: known before the targets are built. */
export function replicationPlan(configs: readonly TargetConfig[], settings: ReplicationSettings): Map<string, GroupKeys> {
  return new Map(
    configs.map((c) => {
      const id = targetId(c);
      const { db, where } = placeOf(c);
      const group = groupOf({
        targetId: id,
        db,
        patterns: settings.patterns,
        heldTooLongMs: settings.heldTooLongMs,
        where: settings.stateRedisUrl ? where : null,
      });
      return [id, groupKeys(group)];
    }),
  );
}

/** A target's database, and where it is as its status names it (no password: a group name is stored in Redis). */
function placeOf(c: TargetConfig): { db: number; where: string } {
  switch (c.kind) {
    case 'url':
      return { db: dbFromUrl(c.url), where: maskRedisUrl(c.url) };
    case 'client':
      return { db: c.client.options.db ?? 0, where: addressOfClient(c.client) };
    case 'sentinel':
      return { db: c.db, where: sentinelLabel(c) };
  }
}

export interface ReplicationDeps {
  io: Server;
  targets: TargetSet;
  plan: Map<string, GroupKeys>;
  settings: ReplicationSettings;
  /** This replica's name (`host:port#pid`). */
  self: string;
  logger: Logger;
  clock?: () => number;
  /**
   * A Socket.IO adapter the embedding application installed itself (it must support `serverSideEmit`, as every
   * cluster adapter does): used as the bus instead of the Redis streams adapter lockscope would install.
   */
  adapterInstalled?: boolean;
}

/**
 * Several lockscope replicas acting as one: per target, one elected leader watches the target and the others
 * follow its change stream (`TargetReplica`); app-wide, a bus between them (Socket.IO's Redis streams adapter,
 * under `lockscope:state:`) carries snapshot requests and admin actions to the leader, and the simulator's state
 * and stats to every replica's browsers.
 *
 * Where the state cannot be kept (the bus's Redis refuses it), every replica watches every target by itself and
 * says so (`alone`).
 */
export class Replication {
  readonly bus: ReplicaBus;
  private readonly replicas = new Map<string, TargetReplica>();
  private readonly connections: Redis[] = [];
  private readonly unbind: (() => void)[] = [];
  private alone: string | null = null;
  private readonly keys: AppKeys;
  private busRedis: Redis | null = null;
  private stopped = false;
  /** Shared once the bus is up (`share` may come first: the bus waits for the first target to answer). */
  private sharing: Pick<SharedStateDeps, 'admin' | 'simulator'> | null = null;

  constructor(private readonly deps: ReplicationDeps) {
    this.bus = new ReplicaBus(deps.io);
    this.keys = appKeys([...deps.plan.values()].map((k) => k.group));
  }

  /**
   * Shares the audit feed, admin sessions and the simulator with the other replicas (after `start`; nothing when
   * this replica works alone).
   */
  share(parts: Pick<SharedStateDeps, 'admin' | 'simulator'>): void {
    this.sharing = parts;
    this.startSharing();
  }

  private startSharing(): void {
    if (!this.sharing || !this.bus.active || !this.busRedis || this.stopped) return;
    const { self, logger } = this.deps;
    this.unbind.push(shareState({ ...this.sharing, bus: this.bus, redis: this.busRedis, keys: this.keys, self, logger, clock: this.deps.clock }));
    this.sharing = null;
  }

  /** Where the shared state lives, as the status says it. */
  get store(): string {
    const url = this.deps.settings.stateRedisUrl;
    return url ? maskRedisUrl(url) : WATCHED;
  }

  /**
   * Connects the bus, then each target's replica; resolves once each knows its part (or after `timeoutMs`). A
   * target that has not said yet whether it is one server or a cluster (unreachable at start-up) has its replica
   * started once it has: its state connection must be of the right kind (the bus waits for the first target so).
   */
  async start(timeoutMs = this.deps.settings.leaseMs * 2 + 5000): Promise<void> {
    const { targets } = this.deps;
    const first = targets.first;
    const bus = this.whenKnown(first).then(async () => {
      if (this.stopped) return;
      const refused = await this.startBus();
      if (refused) await this.workAlone(refused);
    });
    // Known now (the usual case): whether the state can be shared is settled before any replica campaigns.
    if (this.known(first)) await bus;
    const parts = targets.list.map((target) => {
      const known = this.known(target);
      if (!known) target.replication = () => this.waitingStatus();
      const part = this.whenKnown(target).then(async () => {
        if (this.stopped || this.alone !== null) return;
        const replica = await this.startReplica(target);
        await replica?.ready;
      });
      // Start-up does not wait for a target that has not answered (it is down: shown so, and followed once up).
      return known ? part : null;
    });
    await this.settled(parts.filter((p) => p !== null), timeoutMs);
  }

  private async startReplica(target: Target): Promise<TargetReplica | null> {
    const keys = this.deps.plan.get(target.id)!;
    const [redis, reader] = await Promise.all([this.stateConnection(target, 'state'), this.stateConnection(target, 'state-reader')]);
    // Stopped meanwhile, or the bus found the state cannot be shared: the target is this replica's alone.
    if (this.stopped || this.alone !== null) return null;
    const replica = new TargetReplica({
      target,
      keys,
      redis,
      reader,
      self: this.deps.self,
      store: this.store,
      leaseMs: this.deps.settings.leaseMs,
      bus: this.bus,
      logger: this.deps.logger.child({ target: target.id, part: 'replica' }),
      clock: this.deps.clock,
    });
    this.replicas.set(keys.group, replica);
    target.leader = {
      afterAction: (id, _key, kind, pttlMs, holder) =>
        this.bus.send('note', { group: keys.group, id, kind, pttlMs, ...(holder ? { holder: holder.toString('base64') } : {}) }),
    };
    await replica.start();
    return replica;
  }

  /** The state cannot be shared (`why`): every target is watched by this replica itself, and says so. */
  private async workAlone(why: string): Promise<void> {
    const { targets, logger } = this.deps;
    this.alone = `lockscope cannot keep shared state in ${this.store} (${why}): this replica watches every target by itself, as any other replica would.`;
    logger.warn({ err: why }, 'replicas cannot coordinate: working alone');
    const started = [...this.replicas.values()];
    this.replicas.clear();
    await Promise.allSettled(started.map((r) => r.stop()));
    for (const t of targets.list) {
      t.leader = null;
      t.replication = () => this.aloneStatus();
    }
    await Promise.allSettled(targets.list.map((t) => t.activate()));
  }

  private known(target: Target): boolean {
    return target.topology.kindKnown ?? true;
  }

  /** Once the target's topology knows what it is (see `Topology.identified`); at once with STATE_REDIS_URL. */
  private async whenKnown(target: Target): Promise<void> {
    if (this.deps.settings.stateRedisUrl || this.known(target)) return;
    await target.topology.identified?.();
  }

  /** Gives up leases (followers are told) and stops following; the bus stays up until `disconnect`. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.unbind.splice(0)) off();
    this.bus.active = false;
    await Promise.allSettled([...this.replicas.values()].map((r) => r.stop()));
    for (const t of this.deps.targets.list) t.leader = null;
  }

  /** Closes every state connection, the bus's included: after Socket.IO has closed its adapter. */
  disconnect(): void {
    for (const c of this.connections.splice(0)) c.disconnect();
  }

  /** The replica of a group (tests and benches). */
  replicaOf(targetId: string): TargetReplica | undefined {
    const keys = this.deps.plan.get(targetId);
    return keys && this.replicas.get(keys.group);
  }

  /**
   * Installs the bus on Socket.IO (unless the application brought its own adapter) in the first target's state
   * store. Returns why it cannot work there (a refusal), or null.
   */
  private async startBus(): Promise<string | null> {
    const { io, targets } = this.deps;
    const name = this.keys.bus;
    // The adapter sends server-to-server messages without handling a failed PUBLISH: its connection queues
    // commands while reconnecting instead of failing them (and the bus sends nothing while it is down).
    // Not lazy either: the adapter awaits `connect()` of lazy copies it makes without catching a refusal.
    const redis = await this.stateConnection(targets.first, 'bus', { enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false });
    this.bus.connected = () => redis.status === 'ready';
    this.busRedis = redis;
    // Pub/Sub on lockscope's channels, reading its stream: refused here, nothing can be shared. (Unreachable now:
    // found out later, from the lease.)
    // One command at a time: an ioredis Cluster never sends a pipeline that starts with a command without a key.
    const refusal = redis.status === 'ready' ? await busRefusal(redis, name, !this.deps.adapterInstalled) : null;
    if (refusal) return refusal;
    if (!this.deps.adapterInstalled) {
      // The adapter makes copies of the connection (blocking reads, Pub/Sub) that it closes only once a read
      // returns, which a Redis that is down never does: they are closed with the others (`disconnect`).
      const duplicate = redis.duplicate.bind(redis);
      redis.duplicate = (...args: Parameters<Redis['duplicate']>) => {
        const copy = duplicate(...args);
        this.connections.push(copy);
        // The adapter subscribes without handling a refusal, or the connection closing before it got through
        // (shutdown while a Sentinel client still looks for the master): handled here, it only ends that attempt.
        const subscribe = copy.subscribe.bind(copy) as (...a: unknown[]) => Promise<unknown>;
        copy.subscribe = ((...a: unknown[]) => {
          const subscribed = subscribe(...a);
          subscribed.catch(() => {});
          return subscribed;
        }) as Redis['subscribe'];
        return copy;
      };
      installKeepingRooms(io, createAdapter(redis, { streamName: name, channelPrefix: name, sessionKeyPrefix: `${name}:session:`, maxLen: BUS_MAX_ENTRIES, blockTimeInMs: BUS_BLOCK_MS }));
    }
    this.bus.active = true;
    this.unbind.push(
      this.bus.on('sync', (m) => this.replicas.get(m.group)?.sendSnapshot(String(m.to), String(m.nonce))),
      this.bus.on('note', (m) => {
        const replica = this.replicas.get(m.group);
        if (replica?.role !== 'leader') return;
        if (m.kind !== 'force-released' && m.kind !== 'ttl-set' && m.kind !== 'holder-force-released') return;
        const holder = typeof m.holder === 'string' ? Buffer.from(m.holder, 'base64') : undefined;
        replica.target.afterAction(String(m.id), Buffer.from(String(m.id), 'base64'), m.kind, Number(m.pttlMs), holder);
      }),
    );
    this.startSharing();
    return null;
  }

  /**
   * A connection to where a target's state lives: STATE_REDIS_URL, or the target itself — a connection of its own
   * to what the target's keyed connection reaches (`Topology.connectKeyed`): the server, with its TLS material or the
   * embedding application's options; the master a Sentinel group names, followed across failovers; on a cluster an
   * ioredis Cluster, which routes each group's keys to their slot by the group's hash tag.
   */
  private async stateConnection(target: Target, name: string, extra: RedisOptions = {}): Promise<Redis> {
    const url = this.deps.settings.stateRedisUrl;
    const redis = url ? connectRedis(url, name, { enableReadyCheck: false, ...extra }) : target.topology.connectKeyed(name, { lazyConnect: true, ...extra });
    redis.on('error', () => {});
    this.connections.push(redis);
    // Unreachable now: it keeps trying in the background, and the replica with it.
    const attempt = redis.status === 'wait' ? redis.connect().catch(() => {}) : new Promise<void>((resolve) => (redis.once('ready', resolve), redis.once('error', () => resolve())));
    // A cluster client may go on reconnecting without an error (a slot map it cannot use): never wait for ever.
    await this.settled([attempt], CONNECT_WAIT_MS);
    return redis;
  }

  /** A target whose replica waits for it to say what it is (see `start`). */
  private waitingStatus(): ReplicationStatus {
    return {
      role: 'candidate',
      self: this.deps.self,
      lease: null,
      synced: false,
      heardAt: null,
      store: this.store,
      problem: 'The target has not answered yet: its leader is elected once it does (this replica watches nothing meanwhile).',
    };
  }

  private aloneStatus(): ReplicationStatus {
    return { role: 'alone', self: this.deps.self, lease: null, synced: true, heardAt: null, store: this.store, problem: this.alone };
  }

  private async settled(waits: Promise<unknown>[], timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | null = null;
    await Promise.race([Promise.allSettled(waits), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    if (timer) clearTimeout(timer);
  }
}

/**
 * Why the bus cannot work in `redis` (Redis refused one of its commands), or null: Pub/Sub on lockscope's channels,
 * reading its stream, and — for the adapter lockscope installs — subscribing (tried on a connection of its own).
 */
async function busRefusal(redis: Redis, name: string, subscribes: boolean): Promise<string | null> {
  const refused = (err: unknown) => (err instanceof Error && /NOPERM|READONLY|can't run/i.test(err.message) ? err.message : null);
  const tries: Promise<unknown>[] = [redis.publish(`${name}#check`, ''), redis.xlen(name)];
  if (subscribes) {
    tries.push(
      (async () => {
        const probe = redis.duplicate();
        probe.on('error', () => {});
        try {
          await probe.subscribe(`${name}#check`);
        } finally {
          probe.disconnect();
        }
      })(),
    );
  }
  const outcomes = await Promise.allSettled(tries);
  for (const o of outcomes) if (o.status === 'rejected' && refused(o.reason)) return refused(o.reason);
  return null;
}

/**
 * Installs an adapter on every namespace, keeping the rooms sockets already joined (Socket.IO's `adapter()` makes new,
 * empty ones): the bus may come up after browsers connected, once the first target answered.
 */
function installKeepingRooms(io: Server, adapter: Parameters<Server['adapter']>[0]): void {
  const nsps = (io as unknown as { _nsps: Map<string, { adapter: { sids: Map<string, Set<string>>; addAll(id: string, rooms: Set<string>): unknown } }> })._nsps;
  const before = [...nsps.values()].map((nsp) => [nsp, new Map([...nsp.adapter.sids].map(([id, rooms]) => [id, new Set(rooms)]))] as const);
  io.adapter(adapter);
  for (const [nsp, sids] of before) for (const [id, rooms] of sids) void nsp.adapter.addAll(id, rooms);
}
