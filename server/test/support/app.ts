import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { io as connectClient, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { LockView } from '../../../shared/locks';
import { createApp, type App } from '../../src/app';
import { resolveConfig, type Config } from '../../src/config/config';
import { connectRedis } from '../../src/redis/connect';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TestApp {
  app: App;
  url: string;
  config: Config;
  /** A connected browser-like client that keeps the live lock table as a browser would. */
  connect(): Promise<LiveClient>;
  close(): Promise<void>;
}

/** Boots the real app on port 0 against `redisUrl`, as the entry point would (minus signals). */
export async function startTestApp(
  redisUrl: string,
  env: Record<string, string> = {},
  extra: {
    configureNotifications?: boolean;
    /** Pretend lockscope started this Redis itself (admin "open" mode without a token). */
    embedded?: boolean;
    /** A logger to inspect (default: silent). */
    logger?: Logger;
  } = {},
): Promise<TestApp> {
  const resolved = resolveConfig({ REDIS_URL: redisUrl, LOG_LEVEL: 'silent', ...env }, []);
  if (resolved.kind !== 'ok') throw new Error(`bad test config: ${JSON.stringify(resolved)}`);
  const config = resolved.config;
  const redis = connectRedis(redisUrl, 'commands');
  const subscriber = connectRedis(redisUrl, 'subscriber');
  await Promise.all([redis.connect(), subscriber.connect()]);
  const app = createApp({
    config,
    redis,
    subscriber,
    logger: extra.logger ?? pino({ level: 'silent' }),
    redisUrl,
    target: redisUrl,
    configureNotifications: extra.configureNotifications ?? true,
    embedded: extra.embedded ?? false,
    clientDir: null,
    version: 'test',
  });
  await app.start();
  await new Promise<void>((r) => app.httpServer.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(app.httpServer.address() as AddressInfo).port}`;
  const clients: LiveClient[] = [];
  return {
    app,
    url,
    config,
    async connect() {
      const client = await LiveClient.connect(url);
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.socket.disconnect();
      await app.close();
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}

/** Applies snapshots and change sets exactly as the browser store does, and records every batch. */
export class LiveClient {
  readonly locks = new Map<string, LockView>();
  readonly batches: { at: number; upserts: LockView[]; removed: string[] }[] = [];

  private constructor(readonly socket: TestSocket) {
    socket.on('lock:snapshot', ({ locks }) => {
      this.locks.clear();
      for (const l of locks) this.locks.set(l.id, l);
    });
    socket.on('lock:changes', ({ upserts, removed }) => {
      this.batches.push({ at: Date.now(), upserts, removed });
      for (const l of upserts) this.locks.set(l.id, l);
      for (const id of removed) this.locks.delete(id);
    });
  }

  static connect(url: string): Promise<LiveClient> {
    const socket: TestSocket = connectClient(url, { transports: ['websocket'], reconnection: false });
    const client = new LiveClient(socket);
    return new Promise((resolve, reject) => {
      socket.once('lock:snapshot', () => resolve(client));
      socket.once('connect_error', reject);
    });
  }

  byKey(key: string): LockView | undefined {
    for (const l of this.locks.values()) if (l.key.text === key) return l;
    return undefined;
  }
}
