import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { io as connectClient, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { LockView } from '../../../shared/locks';
import { createApp, type App } from '../../src/app';
import { resolveConfig, type Config } from '../../src/config/config';
import { applyTlsFiles } from '../../src/config/tls-files';
import type { LockTracker } from '../../src/model/lock-tracker';
import type { NodeWatcher } from '../../src/targets/node/node-watcher';
import type { Target } from '../../src/targets/target';
import { afterAll, beforeAll } from 'vitest';
import { startTestRedis, waitFor, type TestRedis } from './redis';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TestApp {
  app: App;
  url: string;
  config: Config;
  /** The first (default) target. */
  target: Target;
  /** Its lock table. */
  tracker: LockTracker;
  /** Its first node watcher (a standalone server's only one). */
  node: NodeWatcher;
  /** A connected browser-like client that keeps the live lock table as a browser would. */
  connect(): Promise<LiveClient>;
  close(): Promise<void>;
}

/**
 * Boots the real app on port 0 against `redisUrl` (one URL, or several named targets: `a=redis://…,b=redis://…`;
 * empty: the targets come from `env`, e.g. REDIS_SENTINELS), as the entry point would (minus signals), TLS files
 * included.
 */
export async function startTestApp(
  redisUrl: string,
  env: Record<string, string> = {},
  extra: {
    configureNotifications?: boolean;
    /** Pretend lockscope started this Redis itself (admin "open" mode without a token). */
    embedded?: boolean;
    /** A logger to inspect (default: silent). */
    logger?: Logger;
    /** Anything else for createApp. */
    app?: Partial<Parameters<typeof createApp>[0]>;
    /** Extra redis-server arguments (liveApp only). */
    redisArgs?: string[];
  } = {},
): Promise<TestApp> {
  const resolved = resolveConfig({ ...(redisUrl ? { REDIS_URL: redisUrl } : {}), LOG_LEVEL: 'silent', ...env }, []);
  if (resolved.kind !== 'ok') throw new Error(`bad test config: ${JSON.stringify(resolved)}`);
  const loaded = applyTlsFiles(resolved.config);
  if (!loaded.ok) throw new Error(`bad test TLS files: ${loaded.problems.join('; ')}`);
  const config = loaded.config;
  const app = createApp({
    config,
    logger: extra.logger ?? pino({ level: 'silent' }),
    configureNotifications: extra.configureNotifications ?? true,
    embedded: extra.embedded ?? false,
    clientDir: null,
    version: 'test',
    ...extra.app,
  });
  await app.start();
  await new Promise<void>((r) => app.httpServer.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(app.httpServer.address() as AddressInfo).port}`;
  const clients: LiveClient[] = [];
  const target = app.targets.first;
  return {
    app,
    url,
    config,
    target,
    tracker: target.tracker,
    node: target.nodes[0]!,
    async connect() {
      const client = await LiveClient.connect(url);
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.socket.disconnect();
      await app.close();
    },
  };
}

/** A suite's private Redis, the real app on it and one live client: started before its tests, stopped after. */
export interface LiveApp {
  redis: TestRedis;
  app: TestApp;
  client: LiveClient;
}

/** Sets up a `LiveApp` for the enclosing `describe` (read its fields inside tests and hooks). */
export function liveApp(env: Record<string, string> = {}, extra: Parameters<typeof startTestApp>[2] = {}): LiveApp {
  const live = {} as LiveApp;
  beforeAll(async () => {
    live.redis = await startTestRedis(extra.redisArgs ? { args: extra.redisArgs } : {});
    live.app = await startTestApp(live.redis.url, env, extra);
    live.client = await live.app.connect();
  });
  afterAll(async () => {
    await live.app?.close();
    await live.redis?.stop();
  });
  return live;
}

export interface LiveClientOptions {
  /** Socket.IO's path (default `/socket.io`; lockscope under a base path answers at `<base>/socket.io`). */
  path?: string;
  transports?: ('websocket' | 'polling')[];
  extraHeaders?: Record<string, string>;
  /** The handshake's `auth` (`{ target }` views that target from the start). */
  auth?: Record<string, unknown>;
}

/** What a client received, in order (for tests of how snapshot parts and changes interleave). */
export type Received = { kind: 'part'; seq: number; locks: number; done: boolean } | { kind: 'changes'; upserts: number; removed: number };

/**
 * Applies snapshots (in parts) and change sets exactly as the browser store does (see `LockSnapshot`), and
 * records every batch.
 */
export class LiveClient {
  readonly locks = new Map<string, LockView>();
  readonly batches: { at: number; upserts: LockView[]; removed: string[] }[] = [];
  readonly received: Received[] = [];
  /** Snapshots received in full. */
  snapshots = 0;
  /** While a snapshot arrives: ids shown before it that no part or change has mentioned yet. */
  private unseen: Set<string> | null = null;

  private constructor(readonly socket: TestSocket) {
    socket.on('lock:snapshot', ({ seq, locks, done }) => {
      this.received.push({ kind: 'part', seq, locks: locks.length, done });
      if (seq === 0) this.unseen = new Set(this.locks.keys());
      for (const l of locks) {
        this.locks.set(l.id, l);
        this.unseen?.delete(l.id);
      }
      if (!done) return;
      for (const id of this.unseen ?? []) this.locks.delete(id);
      this.unseen = null;
      this.snapshots++;
    });
    socket.on('lock:changes', ({ upserts, removed }) => {
      this.received.push({ kind: 'changes', upserts: upserts.length, removed: removed.length });
      this.batches.push({ at: Date.now(), upserts, removed });
      for (const l of upserts) {
        this.locks.set(l.id, l);
        this.unseen?.delete(l.id);
      }
      for (const id of removed) {
        this.locks.delete(id);
        this.unseen?.delete(id);
      }
    });
  }

  /** Connects and resolves once the first snapshot is complete. */
  static connect(url: string, options: LiveClientOptions = {}): Promise<LiveClient> {
    const client = LiveClient.open(url, options);
    return new Promise((resolve, reject) => {
      const onPart = ({ done }: { done: boolean }) => {
        if (!done) return;
        client.socket.off('lock:snapshot', onPart);
        resolve(client);
      };
      client.socket.on('lock:snapshot', onPart);
      client.socket.once('connect_error', reject);
    });
  }

  /** A client whose socket is still connecting (websocket only unless told otherwise, no reconnection). */
  static open(url: string, options: LiveClientOptions = {}): LiveClient {
    return new LiveClient(connectClient(url, { transports: ['websocket'], reconnection: false, ...options }));
  }

  byKey(key: string): LockView | undefined {
    for (const l of this.locks.values()) if (l.key.text === key) return l;
    return undefined;
  }

  /** The lock at `key` once it shows and satisfies `cond`; a timeout naming `what` otherwise. */
  until(key: string, cond: (v: LockView) => boolean = () => true, what = key, timeoutMs = 5000): Promise<LockView> {
    return waitFor(() => {
      const v = this.byKey(key);
      return v && cond(v) ? v : undefined;
    }, what, timeoutMs);
  }
}
