import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { maskRedisUrl, sentinelLabel, targetId, type TargetConfig } from '../config/targets';
import type { Libraries } from '../libraries';
import { Target, type TargetOptions } from './target';
import { SentinelTopology } from './topology/sentinel';
import { addressOfClient, StandaloneTopology } from './topology/standalone';
import type { Topology } from './topology/topology';

/** How a configured target is reached. Sentinel and cluster topologies are chosen here. */
export function topologyFor(config: TargetConfig, logger?: Logger): Topology {
  switch (config.kind) {
    case 'url':
      return StandaloneTopology.fromUrl(config.url, config.tls);
    case 'client':
      return StandaloneTopology.fromClient(config.client);
    case 'sentinel':
      return new SentinelTopology(config, logger);
  }
}

/**
 * What the header, the switcher, logs and the start-up banner show for a target: its label, else where it is, never
 * a password (a URL's replaced by `***`; a Sentinel group as `redis+sentinel://user:***@host:port,…/master`).
 */
export function describeTarget(config: TargetConfig): string {
  if (config.label) return config.label;
  switch (config.kind) {
    case 'url':
      return maskRedisUrl(config.url);
    case 'client':
      return addressOfClient(config.client);
    case 'sentinel':
      return sentinelLabel(config);
  }
}

export interface TargetSetDeps {
  logger: Logger;
  clock?: () => number;
  /** Whether lockscope may change `notify-keyspace-events` (its own embedded Redis, or --configure-notifications). */
  configureNotifications: boolean;
  /** What lockscope knows of lock libraries (declared formats included), shared by every target's tracker. */
  libraries?: Libraries;
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
              url: describeTarget(c),
              topology: topologyFor(c, deps.logger.child({ target: targetId(c) })),
              configureNotifications: deps.configureNotifications,
            },
            options,
            { logger: deps.logger, clock: deps.clock, libraries: deps.libraries },
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
