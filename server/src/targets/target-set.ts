import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { maskRedisUrl } from '../config/config';
import { targetId, type TargetConfig } from '../config/targets';
import { Target, type TargetOptions } from './target';
import { StandaloneTopology } from './topology/standalone';
import type { Topology } from './topology/topology';

/** How a configured target is reached. Sentinel and cluster topologies are chosen here. */
export function topologyFor(config: TargetConfig): Topology {
  switch (config.kind) {
    case 'url':
      return StandaloneTopology.fromUrl(config.url);
  }
}

export interface TargetSetDeps {
  logger: Logger;
  clock?: () => number;
  /** Whether lockscope may change `notify-keyspace-events` (its own embedded Redis, or --configure-notifications). */
  configureNotifications: boolean;
  /** Targets wait to be activated before watching their nodes (replicas elect who watches: see `TargetDeps.standby`). */
  standby?: boolean;
  /** The bookkeeping id of a target by its id (replicas of a deployment share it); random when absent. */
  instanceIdOf?: (targetId: string) => string | undefined;
}

/**
 * Every target lockscope watches, in configuration order (the first is the default view). Each starts and stops
 * on its own: one that cannot connect shows its error and the others carry on.
 */
export class TargetSet extends EventEmitter<{ status: [] }> {
  readonly list: readonly Target[];
  private readonly byId: Map<string, Target>;

  constructor(targets: Target[]) {
    super();
    if (!targets.length) throw new Error('lockscope needs at least one target');
    this.list = targets;
    this.byId = new Map(targets.map((t) => [t.id, t]));
    for (const t of targets) t.on('status', () => this.emit('status'));
  }

  /** Builds targets from configuration (nothing connects before `start()`). */
  static fromConfig(configs: TargetConfig[], options: TargetOptions, deps: TargetSetDeps): TargetSet {
    return new TargetSet(
      configs.map(
        (c) =>
          new Target(
            {
              id: targetId(c),
              name: c.name,
              url: c.label ?? maskRedisUrl(c.url),
              topology: topologyFor(c),
              configureNotifications: deps.configureNotifications,
            },
            options,
            { logger: deps.logger, clock: deps.clock, standby: deps.standby, instanceId: deps.instanceIdOf?.(targetId(c)) },
          ),
      ),
    );
  }

  get first(): Target {
    return this.list[0]!;
  }

  get(id: string): Target | undefined {
    return this.byId.get(id);
  }

  /** Starts every target at once; resolves when each has done its first sync or given up for now. */
  async start(): Promise<void> {
    await Promise.all(this.list.map((t) => t.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.list.map((t) => t.stop()));
  }
}
