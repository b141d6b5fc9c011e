import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Server } from 'socket.io';
import type { ReplicationStatus } from '../../../shared/status';
import { maskRedisUrl } from '../config/config';
import { targetId, type TargetConfig } from '../config/targets';
import { connectRedis, dbFromUrl } from '../redis/connect';
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
      const group = groupOf({
        targetId: id,
        db: dbFromUrl(c.url),
        patterns: settings.patterns,
        heldTooLongMs: settings.heldTooLongMs,
        where: settings.stateRedisUrl ? maskRedisUrl(c.url) : null,
      });
      return [id, groupKeys(group)];
    }),
  );
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

  constructor(private readonly deps: ReplicationDeps) {
    this.bus = new ReplicaBus(deps.io);
    this.keys = appKeys([...deps.plan.values()].map((k) => k.group));
  }

  /**
   * Shares the audit feed, admin sessions and the simulator with the other replicas (after `start`; nothing when
   * this replica works alone).
   */
  share(parts: Pick<SharedStateDeps, 'admin' | 'simulator'>): void {
    if (!this.bus.active || !this.busRedis) return;
    const { self, logger } = this.deps;
    this.unbind.push(shareState({ ...parts, bus: this.bus, redis: this.busRedis, keys: this.keys, self, logger, clock: this.deps.clock }));
  }

  /** Where the shared state lives, as the status says it. */
  get store(): string {
    const url = this.deps.settings.stateRedisUrl;
    return url ? maskRedisUrl(url) : WATCHED;
  }

  /** Connects the bus, then each target's replica; resolves once each knows its part (or after `timeoutMs`). */
  async start(timeoutMs = this.deps.settings.leaseMs * 2 + 5000): Promise<void> {
    const { targets, logger } = this.deps;
    const refused = await this.startBus();
    if (refused) {
      this.alone = `lockscope cannot keep shared state in ${this.store} (${refused}): this replica watches every target by itself, as any other replica would.`;
      logger.warn({ err: refused }, 'replicas cannot coordinate: working alone');
      for (const t of targets.list) t.replication = () => this.aloneStatus();
      await this.settled(targets.list.map((t) => t.activate()), timeoutMs);
      return;
    }
    for (const target of targets.list) {
      const keys = this.deps.plan.get(target.id)!;
      const [redis, reader] = await Promise.all([this.stateConnection(target, 'state'), this.stateConnection(target, 'state-reader')]);
      const replica = new TargetReplica({
        target,
        keys,
        redis,
        reader,
        self: this.deps.self,
        store: this.store,
        leaseMs: this.deps.settings.leaseMs,
        bus: this.bus,
        logger: logger.child({ target: target.id, part: 'replica' }),
        clock: this.deps.clock,
      });
      this.replicas.set(keys.group, replica);
      target.leader = {
        afterAction: (id, _key, kind, pttlMs) => this.bus.send('note', { group: keys.group, id, kind, pttlMs }),
      };
      await replica.start();
    }
    await this.settled([...this.replicas.values()].map((r) => r.ready), timeoutMs);
  }

  /** Gives up leases (followers are told) and stops following; the bus stays up until `disconnect`. */
  async stop(): Promise<void> {
    for (const off of this.unbind.splice(0)) off();
    this.bus.active = false;
    await Promise.allSettled([...this.replicas.values()].map((r) => r.stop()));
    for (const t of this.deps.targets.list) t.leader = null;
  }

  /** Closes every state connection, the bus's included: after Socket.IO has closed its adapter. */
  disconnect(): void {
    for (const c of this.connections.splice(0)) c.disconnect();
  }

  /** Each target's replication status (for tests and the entry point's start-up lines). */
  status(target: Target): ReplicationStatus | null {
    return target.replication?.() ?? null;
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
    const refusal =
      redis.status === 'ready' &&
      (await redis
        .pipeline()
        .publish(`${name}#check`, '')
        .xlen(name)
        .exec()
        .then((replies) => replies?.map(([err]) => err).find((err) => err && /NOPERM|READONLY|can't run/i.test(err.message))?.message ?? null)
        .catch(() => null));
    if (refusal) return refusal;
    if (!this.deps.adapterInstalled) {
      // The adapter makes copies of the connection (blocking reads, Pub/Sub) that it closes only once a read
      // returns, which a Redis that is down never does: they are closed with the others (`disconnect`).
      const duplicate = redis.duplicate.bind(redis);
      redis.duplicate = (...args: Parameters<Redis['duplicate']>) => {
        const copy = duplicate(...args);
        this.connections.push(copy);
        return copy;
      };
      io.adapter(createAdapter(redis, { streamName: name, channelPrefix: name, sessionKeyPrefix: `${name}:session:`, maxLen: BUS_MAX_ENTRIES, blockTimeInMs: BUS_BLOCK_MS }));
    }
    this.bus.active = true;
    this.unbind.push(
      this.bus.on('sync', (m) => this.replicas.get(m.group)?.sendSnapshot(String(m.to), String(m.nonce))),
      this.bus.on('note', (m) => {
        const replica = this.replicas.get(m.group);
        if (replica?.role !== 'leader' || (m.kind !== 'force-released' && m.kind !== 'ttl-set')) return;
        replica.target.afterAction(String(m.id), Buffer.from(String(m.id), 'base64'), m.kind, Number(m.pttlMs));
      }),
    );
    return null;
  }

  /**
   * A connection to where a target's state lives: STATE_REDIS_URL, or the target itself (a copy of its keyed
   * connection: on a cluster an ioredis Cluster, which routes each group's keys to their slot by the hash tag).
   */
  private async stateConnection(target: Target, name: string, extra: RedisOptions = {}): Promise<Redis> {
    const url = this.deps.settings.stateRedisUrl;
    const redis = url
      ? connectRedis(url, name, { enableReadyCheck: false, ...extra })
      : target.keyed.duplicate({ connectionName: `lockscope:${name}`, lazyConnect: true, ...extra });
    redis.on('error', () => {});
    this.connections.push(redis);
    // Unreachable now: it keeps trying in the background, and the replica with it.
    if (redis.status === 'wait') await redis.connect().catch(() => {});
    else await new Promise<void>((resolve) => (redis.once('ready', resolve), redis.once('error', () => resolve())));
    return redis;
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
