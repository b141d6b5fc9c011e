import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { maskRedisUrl, sentinelLabel, targetId, type TargetConfig } from '../config/targets';
import type { Libraries } from '../libraries';
import { tlsOptions } from '../redis/connect';
import { Target, type TargetOptions } from './target';
import { SentinelTopology } from './topology/sentinel';
import { reachClient, reachUrl, ServerOrClusterTopology } from './topology/server-or-cluster';
import { addressOfClient } from './topology/standalone';
import type { Topology } from './topology/topology';

/**
 * How a configured target is reached. A URL or a client connection leads to a server or, found out on connecting,
 * a whole Redis Cluster; a Sentinel group to the master it names.
 */
export function topologyFor(config: TargetConfig, logger: Logger = pino({ enabled: false })): Topology {
  switch (config.kind) {
    case 'url':
      return new ServerOrClusterTopology(reachUrl(config.url, tlsOptions(config.tls)), logger);
    case 'client':
      return new ServerOrClusterTopology(reachClient(config.client), logger);
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
              url: describeTarget(c),
              topology: topologyFor(c, deps.logger.child({ target: targetId(c) })),
              configureNotifications: deps.configureNotifications,
            },
            options,
            { logger: deps.logger, clock: deps.clock, libraries: deps.libraries, standby: deps.standby, instanceId: deps.instanceIdOf?.(targetId(c)) },
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
