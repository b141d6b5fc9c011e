import type { Server } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { ServerStatus } from '../../../shared/status';
import type { Inspector } from '../targets/node/node-watcher';
import type { ConnectionState } from '../redis/connection-state';

export interface StatusSources {
  connection: ConnectionState;
  inspector: Inspector;
  target: string;
  version: string;
  patterns: string[];
  redisVersion: () => string | null;
}

/** Assembles the header's status from its sources and pushes it to every browser whenever it changes. */
export class StatusReporter {
  constructor(
    private readonly io: Server<ClientToServerEvents, ServerToClientEvents>,
    private readonly sources: StatusSources,
  ) {
    const push = () => this.io.emit('server:status', this.current());
    sources.connection.on('change', push);
    sources.inspector.on('mode', push);
    sources.inspector.on('restart', push);
  }

  current(): ServerStatus {
    const { connection, inspector, target, version, patterns, redisVersion } = this.sources;
    return {
      redis: connection.state,
      target,
      redisVersion: redisVersion(),
      lastError: connection.state === 'ready' ? null : connection.lastError,
      feed: inspector.mode,
      version,
      patterns,
      lastRestart: inspector.lastRestart,
    };
  }
}
