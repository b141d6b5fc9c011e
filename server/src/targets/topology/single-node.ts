import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { TopologyEvents, TopologyNode } from './topology';

/** A topology of one node that owns every key (a standalone server; the master a Sentinel group names). */
export abstract class SingleNodeTopology extends EventEmitter<TopologyEvents> {
  protected abstract readonly node: TopologyNode;

  get keyed(): Redis {
    return this.node.connections.redis;
  }

  nodes(): readonly TopologyNode[] {
    return [this.node];
  }

  nodeFor(): string {
    return this.node.id;
  }
}
