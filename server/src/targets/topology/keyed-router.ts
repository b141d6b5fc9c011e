import type { EventEmitter } from 'node:events';
import { Redis, type Command } from 'ioredis';

/** Anything ioredis can send a command through: a `Redis` connection or a `Cluster`. */
export interface CommandSink extends EventEmitter {
  sendCommand(command: Command, stream?: never): unknown;
}

/**
 * A `Redis` that owns no connection: each command it is given goes to whichever client `current()` names now — a
 * server's command connection, or an ioredis `Cluster` that routes it by slot and follows MOVED/ASK. The admin
 * side holds one for the life of a target (it defines its scripts on it once), while the target learns only after
 * connecting whether its URL leads to one server or to a cluster.
 *
 * Every command method, custom scripts included (`defineCommand`: EVALSHA, then EVAL after NOSCRIPT), ends in
 * `sendCommand`, which is all this overrides. `ready` is passed on from the clients it follows. Pipelines and
 * transactions are not supported (they write to a connection's own stream): nothing keyed uses them.
 */
export class KeyedRouter extends Redis {
  constructor(private readonly current: () => CommandSink) {
    super({ lazyConnect: true, enableOfflineQueue: false });
  }

  /** Passes the client's `ready` on (a reconnect may have reached another server). */
  follow(client: CommandSink): void {
    client.on('ready', () => this.emit('ready'));
  }

  override sendCommand(command: Command): unknown {
    return this.current().sendCommand(command);
  }

  override connect(): Promise<void> {
    return Promise.resolve();
  }

  override disconnect(): void {}
}
