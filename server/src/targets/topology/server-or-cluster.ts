import { EventEmitter } from 'node:events';
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { TopologyKind } from '../../../../shared/status';
import { CONNECTION_OPTIONS, connectRedis, quiet } from '../../redis/connect';
import { ClusterTopology, hostPort } from './cluster';
import { KeyedRouter } from './keyed-router';
import { StandaloneTopology } from './standalone';
import type { Topology, TopologyEvents, TopologyNode } from './topology';

/**
 * How lockscope reaches the node a target names and, should that node run in cluster mode, every other node of
 * its cluster: with the same credentials and TLS.
 */
export interface NodeReach {
  /** The named node as one server (connections not yet opened). */
  readonly standalone: StandaloneTopology;
  /** A direct connection to another node (`host:port`), not yet connected; `extra`: more ioredis options. */
  connect(address: string, name: string, extra?: RedisOptions): Redis;
  /** Credentials and TLS for the connections of the keyed ioredis `Cluster`. */
  readonly clusterOptions: RedisOptions;
}

/** A `redis://`/`rediss://` URL; `extra`: connection options beyond the URL's (TLS material), for every connection. */
export function reachUrl(url: string, extra: RedisOptions = {}): NodeReach {
  return {
    standalone: StandaloneTopology.fromUrl(url, extra),
    connect: (address, name, more) => connectRedis(urlAt(url, address), name, { enableReadyCheck: false, ...extra, ...more }),
    clusterOptions: { ...credentialsOf(url), ...extra },
  };
}

/**
 * An ioredis connection of the embedding application: other nodes are reached with its options (`duplicate()`:
 * credentials, TLS), the application's connection itself is never used.
 */
export function reachClient(client: Redis): NodeReach {
  const { username, password, tls } = client.options;
  return {
    standalone: StandaloneTopology.fromClient(client),
    connect: (address, name, more) => {
      const { host, port } = hostPort(address);
      return quiet(client.duplicate({ ...CONNECTION_OPTIONS, enableReadyCheck: false, keyPrefix: '', db: 0, host, port, path: undefined, connectionName: `lockscope:${name}`, ...more }));
    },
    clusterOptions: { ...(username ? { username } : {}), ...(password ? { password } : {}), ...(tls ? { tls } : {}) },
  };
}

/**
 * What a target's node leads to: one server, or — when it runs in cluster mode, master or replica — the whole
 * cluster. Until the node has answered, it is followed as a standalone server (shown as such, down if
 * unreachable); the first time it answers, lockscope asks it which (`HELLO`'s `mode`, else INFO's
 * `cluster_enabled`, else whether `CLUSTER INFO` works), and a cluster node turns the target into a
 * ClusterTopology seeded from it (`change`: the target then watches every master instead).
 *
 * `keyed` is the same object throughout (the admin side holds it): it sends each command to the server, or to
 * the cluster once known.
 */
export class ServerOrClusterTopology extends EventEmitter<TopologyEvents> implements Topology {
  readonly keyed: KeyedRouter;
  private readonly standalone: StandaloneTopology;
  private cluster: ClusterTopology | null = null;
  private detecting: Promise<void> | null = null;
  /** The server said which it is (asked again at its next `ready` until it does). */
  private known = false;
  private stopped = false;
  /** Whether the target is one server or a cluster is known (and, for a cluster, it has been read once). */
  private settled = false;
  private readonly whenSettled: Promise<void>;
  private settle: () => void = () => {};

  constructor(
    private readonly reach: NodeReach,
    private readonly logger: Logger,
  ) {
    super();
    this.standalone = reach.standalone;
    this.keyed = new KeyedRouter(() => (this.cluster ?? this.standalone).keyed);
    this.keyed.follow(this.standalone.keyed);
    this.whenSettled = new Promise((resolve) => (this.settle = resolve));
  }

  get kindKnown(): boolean {
    return this.settled;
  }

  identified(): Promise<void> {
    return this.whenSettled;
  }

  /** The server's, or the cluster's once known (see `identified`: before, the server's). */
  connectKeyed(name: string, extra?: RedisOptions): Redis {
    return this.current.connectKeyed(name, extra);
  }

  get kind(): TopologyKind {
    return this.current.kind;
  }

  get db(): number {
    return this.current.db;
  }

  nodes(): readonly TopologyNode[] {
    return this.current.nodes();
  }

  nodeFor(key: Buffer): string | null {
    return this.current.nodeFor(key);
  }

  async refresh(): Promise<void> {
    await this.cluster?.refresh();
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.standalone.start();
    const redis = this.standalone.keyed;
    // Not reachable yet: followed as a server (down) until it answers.
    redis.on('ready', () => void this.detect());
    if (redis.status === 'ready') await this.detect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.settle();
    await this.detecting?.catch(() => {});
    await Promise.all([this.standalone.stop(), this.cluster?.stop()]);
  }

  private identifiedAs(): void {
    this.settled = true;
    this.settle();
  }

  private get current(): Topology {
    return this.cluster ?? this.standalone;
  }

  private detect(): Promise<void> {
    if (this.known || this.stopped) return Promise.resolve();
    this.detecting ??= this.becomeClusterIfOne()
      .catch((err: Error) => this.logger.warn({ err: err.message }, 'could not follow the Redis Cluster: following the node as one server'))
      .finally(() => {
        this.detecting = null;
        // Known, whatever came of following the cluster (a failure leaves the node followed as one server).
        if (this.known) this.identifiedAs();
      });
    return this.detecting;
  }

  private async becomeClusterIfOne(): Promise<void> {
    const mode = await clusterMode(this.standalone.keyed);
    if (mode === null) {
      this.logger.warn('could not tell whether Redis runs in cluster mode (HELLO, INFO and CLUSTER INFO failed): following it as one server for now');
      return;
    }
    this.known = true;
    if (!mode || this.stopped) {
      this.identifiedAs();
      return;
    }
    if (this.standalone.db !== 0) {
      this.emit('error', new Error(`a Redis Cluster has only database 0: the target names database ${this.standalone.db}; watching database 0`));
    }
    const seed = this.standalone.nodes()[0]!.address;
    this.logger.info({ node: seed }, 'the target names a cluster node: following every master of the cluster');
    const cluster = new ClusterTopology({
      seeds: [seed],
      connect: (address, name, extra) => this.reach.connect(address, name, extra),
      redisOptions: this.reach.clusterOptions,
      logger: this.logger,
    });
    cluster.on('change', () => this.emit('change'));
    cluster.on('error', (err) => this.emit('error', err));
    this.keyed.follow(cluster.keyed);
    this.cluster = cluster;
    await cluster.start();
    this.identifiedAs();
    this.emit('change');
    // The one-server connections were the seed's: the cluster's node watchers have their own.
    await this.standalone.stop();
  }
}

/**
 * Whether the server behind `redis` runs in cluster mode: HELLO's `mode` (allowed to any user), else INFO's
 * `cluster_enabled`, else whether CLUSTER INFO answers. Null when nothing tells.
 */
export async function clusterMode(redis: Redis): Promise<boolean | null> {
  const hello = await (redis.call('HELLO', '2') as Promise<unknown[]>).catch(() => null);
  if (Array.isArray(hello)) {
    const at = hello.findIndex((v, i) => i % 2 === 0 && String(v) === 'mode');
    if (at >= 0) return String(hello[at + 1]) === 'cluster';
  }
  const info = await redis.info('cluster').catch(() => '');
  const enabled = /cluster_enabled:(\d)/.exec(info)?.[1];
  if (enabled !== undefined) return enabled === '1';
  return (redis.call('CLUSTER', 'INFO') as Promise<unknown>).then(
    () => true,
    (err: Error) => (/cluster support disabled/i.test(err.message) ? false : null),
  );
}

/** The same URL (scheme, credentials) pointing at another node. */
export function urlAt(url: string, address: string): string {
  const u = new URL(url);
  const { host, port } = hostPort(address);
  u.hostname = host.includes(':') ? `[${host}]` : host;
  u.port = String(port);
  u.pathname = '';
  return u.toString();
}

/** ACL user and password of a URL, and TLS for `rediss://`, as ioredis options (for the keyed Cluster). */
function credentialsOf(url: string): RedisOptions {
  const u = new URL(url);
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}
