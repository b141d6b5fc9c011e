import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import express from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Server } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/events';
import type { SimAvailability } from '../../shared/simulator';
import { createAdmin, type Admin } from './admin/index';
import type { Config } from './config/config';
import { healthRoutes } from './http/health';
import { jsonApi } from './http/json-api';
import { staticClient } from './http/static-client';
import { Inspector } from './inspector/inspector';
import { LockTracker } from './model/lock-tracker';
import { createMetrics, type Metrics } from './metrics/metrics';
import { LockBroadcaster } from './realtime/lock-broadcaster';
import { jsonParser } from './realtime/json-parser';
import { registerLockHandlers } from './realtime/lock-handlers';
import { clientAddress, type TrustFn } from './realtime/client-address';
import { broadcastSimEvents, registerSimHandlers } from './realtime/sim-handlers';
import { sameOrigin } from './realtime/origin-check';
import { StatusReporter } from './realtime/status-reporter';
import { ConnectionState } from './redis/connection-state';
import { dbFromUrl, serverVersion } from './redis/connect';
import { SimulatorService } from './simulator/service';

export interface AppDeps {
  config: Config;
  /** Connection for commands. */
  redis: Redis;
  /** Connection for keyspace notifications only. */
  subscriber: Redis;
  logger: Logger;
  /** Redis URL of the inspected server (unmasked; only its database number is used). */
  redisUrl: string;
  /** What the header shows as the Redis target (password masked). */
  target: string;
  /** Whether lockscope may turn on keyspace notifications (its own embedded Redis). */
  configureNotifications: boolean;
  /** Built client to serve, or null (API only). */
  clientDir: string | null;
  /** lockscope started its own embedded Redis: with no ADMIN_TOKEN, admin then works from loopback (default false). */
  embedded?: boolean;
  /**
   * Whether the contention simulator may run (its workers connect to `redisUrl`). Default: on with the embedded
   * Redis or with `--simulator` (SIMULATOR=1), off otherwise. `--read-only` turns it off whatever this says.
   */
  simulator?: SimAvailability;
  version: string;
  clock?: () => number;
}

export interface App {
  httpServer: HttpServer;
  io: Server<ClientToServerEvents, ServerToClientEvents>;
  tracker: LockTracker;
  inspector: Inspector;
  /** Force-release, set TTL, sessions and the audit log (`admin.mode` says whether admin is possible at all). */
  admin: Admin;
  /** Prometheus metrics of this app (its own registry), served at `GET /metrics`. */
  metrics: Metrics;
  /** The contention simulator (one run at a time). */
  simulator: SimulatorService;
  /** Starts following Redis (first sync included when it is reachable). */
  start(): Promise<void>;
  /** Ordered shutdown: sockets, HTTP, inspector. Redis connections belong to the caller. */
  close(): Promise<void>;
}

/** Builds the whole server without touching the network: the caller connects Redis and listens. */
export function createApp(deps: AppDeps): App {
  const { config, redis, subscriber, logger } = deps;
  const clock = deps.clock ?? Date.now;

  const tracker = new LockTracker({ heldTooLongMs: config.heldTooLongMs, clock });
  const inspector = new Inspector(
    { redis, subscriber, tracker, logger: logger.child({ part: 'inspector' }) },
    {
      patterns: config.lockPatterns,
      scanCount: config.scanCount,
      pollMs: config.pollMs,
      db: dbFromUrl(deps.redisUrl),
      configureNotifications: deps.configureNotifications,
    },
  );
  const connection = new ConnectionState(redis);
  let redisVersion: string | null = null;
  redis.on('ready', () => void serverVersion(redis).then((v) => (redisVersion = v)));

  const web = express();
  web.disable('x-powered-by');
  // TRUST_PROXY: req.ip and req.secure (rate limits, audit, the Secure cookie) then honour X-Forwarded-For/-Proto.
  web.set('trust proxy', config.trustProxy);
  const trust = web.get('trust proxy fn') as TrustFn;
  const clientIp = (req: IncomingMessage) => clientAddress(req, trust);
  web.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  const httpServer = createServer(web);
  const io = new Server<ClientToServerEvents, ServerToClientEvents>(httpServer, {
    allowRequest: (req, callback) => {
      const allowed = sameOrigin(req);
      // `admin` is built below (it needs `io`); requests only arrive once the server listens.
      if (!allowed) admin.refusedOrigin(req);
      callback(null, allowed);
    },
    maxHttpBufferSize: 64 * 1024,
    parser: jsonParser,
  });
  const status = new StatusReporter(io, {
    connection,
    inspector,
    target: deps.target,
    version: deps.version,
    patterns: config.lockPatterns,
    redisVersion: () => redisVersion,
  });
  const broadcaster = new LockBroadcaster(io, tracker, clock);
  const admin = createAdmin({
    config,
    redis,
    tracker,
    inspector,
    io,
    logger: logger.child({ part: 'admin' }),
    embedded: deps.embedded ?? false,
    clock,
    clientIp,
  });
  io.use(admin.socketMiddleware);
  const metrics = createMetrics({ tracker, inspector, clock });
  const simulator = new SimulatorService({
    redisUrl: deps.redisUrl,
    availability: config.readOnly
      ? { enabled: false, reason: 'lockscope was started read-only (--read-only / READ_ONLY), and simulations write to Redis.' }
      : (deps.simulator ??
        (config.simulator || deps.embedded
          ? { enabled: true }
          : { enabled: false, reason: 'lockscope is watching an external Redis: restart it with --simulator (SIMULATOR=1) to allow simulations there.' })),
    logger: logger.child({ part: 'simulator' }),
  });
  const unbindSim = broadcastSimEvents(io, simulator);

  web.use('/api', jsonApi(admin.router, logger.child({ part: 'api' })));
  web.use(healthRoutes(status));
  web.use(metrics.routes());
  if (deps.clientDir) web.use(staticClient(deps.clientDir));

  io.on('connection', (socket) => {
    socket.emit('server:status', status.current());
    broadcaster.sendSnapshot(socket);
    registerLockHandlers(socket, { tracker });
    admin.onConnection(socket);
    registerSimHandlers(io, socket, { simulator, refusal: admin.socketWriteRefusal, audit: admin.auditSocket });
  });

  return {
    httpServer,
    io,
    tracker,
    inspector,
    admin,
    metrics,
    simulator,
    async start() {
      if (redis.status === 'ready') redisVersion = await serverVersion(redis);
      await inspector.start();
    },
    async close() {
      broadcaster.dispose();
      admin.dispose();
      // io.close() also closes the HTTP server; it refuses new connections first, then ends the open ones.
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      if (httpServer.listening) await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      // A running simulation releases its locks and deletes its keys while Redis is still there.
      await simulator.close();
      unbindSim();
      await inspector.stop();
      metrics.dispose();
      connection.dispose();
    },
  };
}
