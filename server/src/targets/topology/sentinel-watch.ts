import { EventEmitter } from 'node:events';
import type { Redis, RedisOptions } from 'ioredis';
import type { SentinelStatus } from '../../../../shared/status';
import type { SentinelAddress } from '../../config/targets';
import { connectRedis } from '../../redis/connect';
import { ConnectionState } from '../../redis/connection-state';

/** The channel every sentinel announces a completed failover on: `<master name> <old ip> <old port> <new ip> <new port>`. */
export const SWITCH_MASTER = '+switch-master';

export interface SentinelWatchEvents {
  /** The sentinels promoted another server for this master: its address before and after (`host:port`). */
  switch: [from: string, to: string];
  /** A sentinel's connection or answer changed (for the status). */
  change: [];
}

interface Watched {
  address: string;
  redis: Redis;
  state: ConnectionState;
  /** Its answer to `SENTINEL get-master-addr-by-name` since it (re)connected: null until it answered. */
  knowsMaster: boolean | null;
  /** Why asking or subscribing failed since it (re)connected (NOAUTH, WRONGPASS, NOPERM), if it did. */
  error: string | null;
}

/**
 * Listens to every configured sentinel for `+switch-master` of one master name, each on a connection of its own,
 * so that a failover is heard as soon as any one sentinel announces it. ioredis's own `failoverDetector` does the
 * same per client (up to 10 sentinel connections for each of lockscope's two node connections) and reacts to a
 * switch of any master those sentinels monitor; one watch per target, filtered by name, is lighter and also
 * tells which server took over (for the header). After each (re)connect it asks the sentinel whether it knows the
 * master at all (`SENTINEL get-master-addr-by-name`), so a misspelt master name is said as such.
 */
export class SentinelWatch extends EventEmitter<SentinelWatchEvents> {
  private readonly watched: Watched[];

  constructor(
    sentinels: SentinelAddress[],
    private readonly masterName: string,
    /** Host-independent options for every sentinel connection: credentials, TLS. */
    options: RedisOptions,
  ) {
    super();
    this.watched = sentinels.map(({ host, port }) => {
      const redis = connectRedis({ ...options, host, port }, 'sentinel-watch', {
        // Subscribed again by `ready` below, after the master check (a subscribed connection can run nothing else).
        autoResubscribe: false,
        enableReadyCheck: false,
      });
      const w: Watched = { address: hostPort(host, port), redis, state: new ConnectionState(redis), knowsMaster: null, error: null };
      w.state.on('change', () => this.emit('change'));
      redis.on('ready', () => void this.subscribe(w));
      redis.on('message', (channel: string, message: string) => {
        if (channel === SWITCH_MASTER) this.announced(message);
      });
      return w;
    });
  }

  async start(): Promise<void> {
    await Promise.all(this.watched.map((w) => w.redis.connect().catch(() => {})));
  }

  stop(): void {
    for (const w of this.watched) {
      w.state.dispose();
      w.redis.disconnect();
    }
  }

  sentinels(): SentinelStatus['sentinels'] {
    return this.watched.map((w) => {
      const ready = w.state.state === 'ready';
      return {
        address: w.address,
        connection: w.state.state,
        knowsMaster: ready ? w.knowsMaster : null,
        lastError: ready ? w.error : w.state.lastError,
        listening: ready && w.knowsMaster === true && w.error === null,
      };
    });
  }

  private async subscribe(w: Watched): Promise<void> {
    w.knowsMaster = null;
    w.error = null;
    let knows: boolean | null = null;
    try {
      knows = (await w.redis.call('SENTINEL', 'get-master-addr-by-name', this.masterName)) !== null;
      await w.redis.subscribe(SWITCH_MASTER);
    } catch (err) {
      w.error = (err as Error).message;
    }
    // Known once subscribed (or failed): `listening` never runs ahead of the subscription.
    w.knowsMaster = knows;
    this.emit('change');
  }

  private announced(message: string): void {
    const [name, fromIp, fromPort, toIp, toPort] = message.split(' ');
    if (name !== this.masterName || !toIp || !toPort) return;
    this.emit('switch', hostPort(fromIp!, Number(fromPort)), hostPort(toIp, Number(toPort)));
  }
}

/** `host:port`, an IPv6 host in brackets. */
export function hostPort(host: string, port: number | undefined): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port ?? ''}`;
}
