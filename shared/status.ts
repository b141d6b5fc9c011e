/** The state of lockscope's connection to Redis, as the header shows it. */
export type RedisConnectionState = 'connecting' | 'ready' | 'reconnecting' | 'down';

/**
 * How lockscope learns about changes: `notifications` = Redis keyspace notifications plus periodic reconcile
 * scans; `polling` = probing tracked keys every POLL_MS and scanning for new ones (notifications unavailable).
 */
export type ChangeFeedMode = 'notifications' | 'polling' | 'starting';

/** lockscope found a different Redis server process behind its connection: Redis restarted, or failed over. */
export interface RedisRestart {
  /** When lockscope noticed (epoch ms, server clock). */
  at: number;
  /**
   * Locks held before it that were gone after it (state `lost`): their holders may still believe they hold them.
   * Null while lockscope is still looking.
   */
  lost: number | null;
}

export interface ServerStatus {
  redis: RedisConnectionState;
  /** Redis URL with any password masked, or `embedded (redis://127.0.0.1:PORT)`. */
  target: string;
  /** Redis server version string (e.g. `7.0.15`), when known. */
  redisVersion: string | null;
  /** Last connection error message, when not ready. */
  lastError: string | null;
  feed: ChangeFeedMode;
  /** lockscope's own version. */
  version: string;
  /** Glob patterns scanned for lock keys. */
  patterns: string[];
  /** The last Redis restart or failover lockscope saw while running, if any. */
  lastRestart: RedisRestart | null;
}
