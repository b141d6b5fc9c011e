import { EventEmitter } from 'node:events';
import type { Redis, RedisOptions } from 'ioredis';
import { connectRedis, dbFromUrl } from '../../redis/connect';
import type { NodeConnections, Topology, TopologyEvents, TopologyNode } from './topology';

/** One Redis server: one node, owning every key. */
export class StandaloneTopology extends EventEmitter<TopologyEvents> implements Topology {
  readonly kind = 'standalone';
  readonly db: number;
  private readonly node: TopologyNode;

  /**
   * Over connections made here from `url` (lazily: nothing happens until `start()`), or over connections the
   * caller made and keeps (`owned: false`: benches and tests that reuse them), which `stop()` leaves open.
   */
  private constructor(
    address: string,
    db: number,
    connections: NodeConnections,
    private readonly owned: boolean,
  ) {
    super();
    this.db = db;
    this.node = { id: address, address, connections };
  }

  static fromUrl(url: string, extra: RedisOptions = {}): StandaloneTopology {
    // ioredis's own "ready check" runs INFO, which managed Redis often refuses (it then prints a warning at every
    // connect); the node watcher waits for a loading server itself (NodeWatcher.untilLoaded).
    const options = { enableReadyCheck: false, ...extra };
    const connections = { redis: connectRedis(url, 'commands', options), subscriber: connectRedis(url, 'subscriber', options) };
    return new StandaloneTopology(addressOf(url), dbFromUrl(url), connections, true);
  }

  static fromConnections(connections: NodeConnections, db = connections.redis.options.db ?? 0): StandaloneTopology {
    const { host = '127.0.0.1', port = 6379 } = connections.redis.options;
    return new StandaloneTopology(`${host}:${port}`, db, connections, false);
  }

  get keyed(): Redis {
    return this.node.connections.redis;
  }

  nodes(): readonly TopologyNode[] {
    return [this.node];
  }

  nodeFor(): string {
    return this.node.id;
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

/** `host:port` of a redis:// URL (IPv6 hosts keep their brackets). */
export function addressOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '6379'}`;
}
