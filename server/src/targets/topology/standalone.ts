import type { Redis, RedisOptions } from 'ioredis';
import { CONNECTION_OPTIONS, connectRedis, dbFromUrl, quiet } from '../../redis/connect';
import { SingleNodeTopology } from './single-node';
import type { NodeConnections, Topology, TopologyNode } from './topology';

/** One Redis server: one node, owning every key. */
export class StandaloneTopology extends SingleNodeTopology implements Topology {
  readonly kind = 'standalone';
  readonly db: number;
  protected readonly node: TopologyNode;

  /**
   * Over connections made here from `url` (lazily: nothing happens until `start()`), or over connections the
   * caller made and keeps (`owned: false`: benches and tests that reuse them), which `stop()` leaves open.
   */
  private constructor(
    address: string,
    db: number,
    connections: NodeConnections,
    private readonly owned: boolean,
    /** A new connection to the server like the node's own (see `Topology.connectKeyed`). */
    private readonly connect: (name: string, extra: RedisOptions) => Redis,
  ) {
    super();
    this.db = db;
    this.node = { id: address, address, connections };
  }

  /** `extra`: connection options beyond the URL's (TLS material for a `rediss://` URL, see `tlsOptions`). */
  static fromUrl(url: string, extra: RedisOptions = {}): StandaloneTopology {
    // ioredis's own "ready check" runs INFO, which managed Redis often refuses (it then prints a warning at every
    // connect); the node watcher waits for a loading server itself (NodeWatcher.untilLoaded).
    const options = { enableReadyCheck: false, ...extra };
    const connect = (name: string, more: RedisOptions = {}) => connectRedis(url, name, { ...options, ...more });
    const connections = { redis: connect('commands'), subscriber: connect('subscriber') };
    return new StandaloneTopology(addressOf(url), dbFromUrl(url), connections, true, connect);
  }

  /**
   * Over connections of its own made like `client` (`duplicate()`: same address, credentials, TLS and database) with
   * lockscope's connection behaviour; `client` itself is never used, so its owner's commands and state are untouched.
   */
  static fromClient(client: Redis): StandaloneTopology {
    // No key prefix: lockscope's patterns and keys are the server's own names.
    const options = { ...CONNECTION_OPTIONS, enableReadyCheck: false, keyPrefix: '' };
    const connect = (name: string, more: RedisOptions = {}) => quiet(client.duplicate({ ...options, connectionName: `lockscope:${name}`, ...more }));
    const connections = { redis: connect('commands'), subscriber: connect('subscriber') };
    return new StandaloneTopology(addressOfClient(client), client.options.db ?? 0, connections, true, connect);
  }

  static fromConnections(connections: NodeConnections, db = connections.redis.options.db ?? 0): StandaloneTopology {
    const { host = '127.0.0.1', port = 6379 } = connections.redis.options;
    const connect = (name: string, more: RedisOptions = {}) =>
      quiet(connections.redis.duplicate({ ...CONNECTION_OPTIONS, enableReadyCheck: false, db, connectionName: `lockscope:${name}`, ...more }));
    return new StandaloneTopology(`${host}:${port}`, db, connections, false, connect);
  }

  connectKeyed(name: string, extra: RedisOptions = {}): Redis {
    return this.connect(name, extra);
  }

  async start(): Promise<void> {
    if (!this.owned) return;
    const { redis, subscriber } = this.node.connections;
    // A first attempt that fails is retried in the background (connectRedis's retry strategy); the node watcher
    // and the status say so.
    await Promise.all([redis.connect(), subscriber.connect()]).catch(() => {});
  }

  async stop(): Promise<void> {
    if (!this.owned) return;
    this.node.connections.redis.disconnect();
    this.node.connections.subscriber.disconnect();
  }
}

/** `host:port` (or the Unix socket path) an ioredis connection goes to. */
export function addressOfClient(client: Redis): string {
  const { host = '127.0.0.1', port = 6379, path } = client.options;
  return path ?? `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** `host:port` of a redis:// URL (IPv6 hosts keep their brackets). */
export function addressOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '6379'}`;
}
