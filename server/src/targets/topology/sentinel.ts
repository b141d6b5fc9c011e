import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { SentinelFailover, SentinelStatus } from '../../../../shared/status';
import type { SentinelTargetConfig } from '../../config/targets';
import { connectRedis } from '../../redis/connect';
import { hostPort, SentinelWatch } from './sentinel-watch';
import { SingleNodeTopology } from './single-node';
import type { NodeConnections, Topology, TopologyNode } from './topology';

/**
 * A reconnect after a failover is retried this often at most: each attempt asks a sentinel where the master is
 * now (cheap), and the sentinels name the new one about 2 s after the old one died.
 */
const RECONNECT_CAP_MS = 1000;

/**
 * The master a Sentinel group names, as one node whose server changes with each failover. Its two connections are
 * ioredis Sentinel clients: every (re)connect asks the sentinels for the master's address
 * (`SENTINEL get-master-addr-by-name`, trying each sentinel in turn). A failover is heard from the sentinels
 * themselves (`+switch-master`, see SentinelWatch): connections still on the old server are dropped so they
 * reconnect to the new one — a master that hangs (a paused VM) or is cut off from the sentinels but not from
 * lockscope would otherwise keep them, with data that is no longer the truth (a master that dies, or that the
 * sentinels demote, closes them itself, and ioredis asks the sentinels again). The node keeps its id (the master name) and its watcher; its `address` is the server the command
 * connection is on, so the watcher sees a different server after the failover and treats it as a restart: locks
 * the new master never received (asynchronous replication) end `lost`, whatever the user may read (INFO's
 * `run_id` or not: lockscope's marker key is replicated, the address is not).
 */
export class SentinelTopology extends SingleNodeTopology implements Topology {
  readonly kind = 'sentinel';
  readonly db: number;
  protected readonly node: TopologyNode;
  private readonly watch: SentinelWatch;
  private lastAddress: string | null = null;
  private failovers = 0;
  private lastFailover: SentinelFailover | null = null;
  private readonly options: RedisOptions;
  /** Connections made for others (`connectKeyed`): moved to the new master at a failover like the node's own. */
  private readonly others = new Set<Redis>();

  constructor(
    private readonly config: SentinelTargetConfig,
    private readonly logger?: Logger,
  ) {
    super();
    this.db = config.db;
    const tls = config.tls ? { ...config.tls } : undefined;
    const options: RedisOptions = {
      sentinels: config.sentinels.map((s) => ({ ...s })),
      name: config.masterName,
      db: config.db,
      ...(config.username ? { username: config.username } : {}),
      ...(config.password ? { password: config.password } : {}),
      ...(config.sentinelUsername ? { sentinelUsername: config.sentinelUsername } : {}),
      ...(config.sentinelPassword ? { sentinelPassword: config.sentinelPassword } : {}),
      ...(tls ? { tls, enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
      // See StandaloneTopology: INFO may be refused; the node watcher waits for a loading server itself.
      enableReadyCheck: false,
      retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, RECONNECT_CAP_MS),
      sentinelRetryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      // A sentinel that accepts the connection but never answers must not stall the search for the master.
      sentinelCommandTimeout: 2000,
      // Leaving a master that hangs (SIGSTOP, a paused VM) after a failover: its socket never closes by itself.
      disconnectTimeout: 500,
    };
    this.options = options;
    const connections: NodeConnections = { redis: connectRedis(options, 'commands'), subscriber: connectRedis(options, 'subscriber') };
    const address = () => this.address();
    this.node = {
      id: config.masterName,
      get address() {
        return address();
      },
      connections,
    };
    this.watch = new SentinelWatch(config.sentinels, config.masterName, {
      ...(config.sentinelUsername ? { username: config.sentinelUsername } : {}),
      ...(config.sentinelPassword ? { password: config.sentinelPassword } : {}),
      ...(tls ? { tls } : {}),
    });
    this.watch.on('switch', (from, to) => this.switched(from, to));
    this.watch.on('change', () => this.emit('change'));
  }

  async start(): Promise<void> {
    const { redis, subscriber } = this.node.connections;
    // ioredis keeps asking the sentinels until one names a master it can reach, so `connect()` may never settle:
    // the first attempt is over at its first error (every sentinel tried once, or the master refused).
    const attempt = (c: Redis) =>
      new Promise<void>((resolve) => {
        const done = () => {
          c.off('error', done);
          resolve();
        };
        c.once('error', done);
        c.connect().then(done, done);
      });
    await Promise.all([this.watch.start(), attempt(redis), attempt(subscriber)]);
  }

  async stop(): Promise<void> {
    this.watch.stop();
    this.node.connections.redis.disconnect();
    this.node.connections.subscriber.disconnect();
  }

  connectKeyed(name: string, extra: RedisOptions = {}): Redis {
    const redis = connectRedis(this.options, name, {
      // A demoted master answers writes READONLY: ask the sentinels again and send the command to the new one.
      reconnectOnError: (err) => (/^READONLY/.test(err.message) ? 2 : false),
      ...extra,
    });
    return this.moved(redis);
  }

  /**
   * Moved to the new master at a failover, and so are its copies (`duplicate()`): the replicas' bus (Socket.IO's
   * Redis streams adapter) reads and subscribes on copies it makes itself, and left on a master that hangs they
   * would never hear another replica again (a follower's snapshot request, an admin action's note).
   */
  private moved(redis: Redis): Redis {
    this.others.add(redis);
    redis.once('end', () => this.others.delete(redis));
    const duplicate = redis.duplicate.bind(redis);
    redis.duplicate = (...args: Parameters<Redis['duplicate']>) => this.moved(duplicate(...args));
    return redis;
  }

  sentinelStatus(): SentinelStatus {
    return {
      masterName: this.config.masterName,
      sentinels: this.watch.sentinels(),
      failovers: this.failovers,
      lastFailover: this.lastFailover,
    };
  }

  /** The server the command connection is on (the last one, while it reconnects; a placeholder before the first). */
  private address(): string {
    const { redis } = this.node.connections;
    const peer = redis.status === 'ready' ? redis.stream : null;
    if (peer?.remoteAddress) this.lastAddress = hostPort(peer.remoteAddress, peer.remotePort);
    return this.lastAddress ?? `${this.config.masterName} (asking the sentinels)`;
  }

  /** A failover, announced by each sentinel in turn: acted on once. */
  private switched(from: string, to: string): void {
    if (this.lastFailover?.from === from && this.lastFailover.to === to) return;
    this.failovers++;
    this.lastFailover = { at: Date.now(), from, to };
    this.logger?.warn({ master: this.config.masterName, from, to }, 'Sentinel failover: the sentinels promoted another server');
    const { redis, subscriber } = this.node.connections;
    for (const c of [redis, subscriber, ...this.others]) {
      const peer = c.status === 'ready' ? c.stream : null;
      // Still on the old server (it may live on, demoted or cut off from the sentinels): reconnect to the new one.
      if (peer?.remoteAddress && hostPort(peer.remoteAddress, peer.remotePort) !== to) c.disconnect(true);
    }
    this.emit('change');
  }
}
