import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { maskRedisUrl } from '../config/config';
import { targetId, type TargetConfig } from '../config/targets';
import { Target, type TargetOptions } from './target';
import type { Topology } from './topology/topology';
import { UrlTopology } from './topology/url';

/** How a configured target is reached. A URL leads to a server or, found out on connecting, a whole cluster. */
export function topologyFor(config: TargetConfig, logger: Logger): Topology {
  switch (config.kind) {
    case 'url':
      return new UrlTopology(config.url, logger);
  }
}

export interface TargetSetDeps {
  logger: Logger;
  clock?: () => number;
  /** Whether lockscope may change `notify-keyspace-events` (its own embedded Redis, or --configure-notifications). */
  configureNotifications: boolean;
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
              topology: topologyFor(c, deps.logger.child({ target: targetId(c) })),
              configureNotifications: deps.configureNotifications,
            },
            options,
            { logger: deps.logger, clock: deps.clock },
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
