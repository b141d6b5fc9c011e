import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { hostname } from 'node:os';
import express from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { Server } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/events';
import type { SimAvailability } from '../../shared/simulator';
import { createAdmin, type Admin } from './admin/index';
import type { Config } from './config/config';
import type { TargetConfig } from './config/targets';
import { healthRoutes } from './http/health';
import { staticClient } from './http/static-client';
import { createMetrics, type Metrics } from './metrics/metrics';
import { registerLockHandlers } from './realtime/lock-handlers';
import { clientAddress, type TrustFn } from './realtime/client-address';
import { broadcastSimEvents, registerSimHandlers } from './realtime/sim-handlers';
import { Replication, replicationPlan } from './replication/replication';
import { sameOrigin } from './realtime/origin-check';
import { StatusReporter } from './realtime/status-reporter';
import { TargetViews } from './realtime/target-views';
import { SimulatorService } from './simulator/service';
import type { TargetOptions } from './targets/target';
import { TargetSet } from './targets/target-set';

export interface AppDeps {
  config: Config;
  /**
   * The Redis deployments to watch, in order (the first is the default view, keeps the audit log and runs the
   * simulator). Default: `config.targets`; the entry point passes its embedded Redis when none is configured.
   */
  targets?: TargetConfig[];
  logger: Logger;
  /** Whether lockscope may turn on keyspace notifications (its own embedded Redis, or --configure-notifications). */
  configureNotifications: boolean;
  /** Built client to serve, or null (API only). */
  clientDir: string | null;
  /** lockscope started its own embedded Redis: with no ADMIN_TOKEN, admin then works from loopback (default false). */
  embedded?: boolean;
  /**
   * Whether the contention simulator may run (its workers connect to the first target). Default: on with the
   * embedded Redis or with `--simulator` (SIMULATOR=1), off otherwise. `--read-only` turns it off whatever this says.
   */
  simulator?: SimAvailability;
  version: string;
  clock?: () => number;
  /** Timings that are not settings (tests shorten them): reconcile scans, feed re-checks. */
  tuning?: Pick<TargetOptions, 'reconcileMs' | 'feedRecheckMs'>;
  /**
   * Coordinate with other lockscope replicas watching the same targets (default true): one elected leader per
   * target watches it, the others follow its change stream. False: this server watches every target by itself.
   */
  replication?: boolean;
  /** This replica's name in leases and the status (default `host:port#pid`). */
  replicaName?: string;
}

export interface App {
  httpServer: HttpServer;
  io: Server<ClientToServerEvents, ServerToClientEvents>;
  /** Every watched deployment, each with its lock table and node watchers (`targets.first` is the default view). */
  targets: TargetSet;
  /** Force-release, set TTL, sessions and the audit log (`admin.mode` says whether admin is possible at all). */
  admin: Admin;
  /** Prometheus metrics of this app (its own registry), served at `GET /metrics`. */
  metrics: Metrics;
  /** The contention simulator (one run at a time). */
  simulator: SimulatorService;
  /** Coordination with other replicas (null when `replication: false`). */
  replication: Replication | null;
  /** Connects and starts following every target (first sync included for those reachable now). */
  start(): Promise<void>;
  /** Ordered shutdown: sockets, HTTP, simulator, targets (their Redis connections included). */
  close(): Promise<void>;
}

/** Builds the whole server without touching the network: the caller connects Redis and listens. */
export function createApp(deps: AppDeps): App {
  const { config, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const targetConfigs = deps.targets ?? config.targets;
  const replicationSettings = {
    patterns: config.lockPatterns,
    heldTooLongMs: config.heldTooLongMs,
    stateRedisUrl: config.stateRedisUrl ?? null,
    leaseMs: config.leaseMs,
  };
  const plan = deps.replication === false ? null : replicationPlan(targetConfigs, replicationSettings);
  const targets = TargetSet.fromConfig(
    targetConfigs,
    {
      patterns: config.lockPatterns,
      scanCount: config.scanCount,
      pollMs: config.pollMs,
      heldTooLongMs: config.heldTooLongMs,
      ...deps.tuning,
    },
    {
      logger: logger.child({ part: 'targets' }),
      clock,
      configureNotifications: deps.configureNotifications,
      standby: plan !== null,
      instanceIdOf: (id) => plan?.get(id)?.group,
    },
  );

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
  });
  const replication =
    plan &&
    new Replication({
      io,
      targets,
      plan,
      settings: replicationSettings,
      self: deps.replicaName ?? `${hostname()}:${config.port}#${process.pid}`,
      logger: logger.child({ part: 'replication' }),
      clock,
    });
  const status = new StatusReporter(io, { targets, version: deps.version, patterns: config.lockPatterns });
  const views = new TargetViews(io, targets, clock);
  const admin = createAdmin({
    config,
    targets,
    io,
    logger: logger.child({ part: 'admin' }),
    embedded: deps.embedded ?? false,
    clock,
    clientIp,
    version: deps.version,
  });
  io.use(admin.socketMiddleware);
  const metrics = createMetrics({ targets, replication, clock });
  const first = targetConfigs[0]!;
  const simulator = new SimulatorService({
    redisUrl: first.url,
    availability: config.readOnly
      ? { enabled: false, reason: 'lockscope was started read-only (--read-only / READ_ONLY), and simulations write to Redis.' }
      : (deps.simulator ??
        (config.simulator || deps.embedded
          ? { enabled: true }
          : { enabled: false, reason: 'lockscope is watching an external Redis: restart it with --simulator (SIMULATOR=1) to allow simulations there.' })),
    logger: logger.child({ part: 'simulator' }),
  });
  const unbindSim = broadcastSimEvents(io, simulator);

  web.use('/api', admin.router);
  web.use(healthRoutes(status));
  web.use(metrics.routes());
  if (deps.clientDir) web.use(staticClient(deps.clientDir));

  io.on('connection', (socket) => {
    socket.emit('server:status', status.current());
    views.attach(socket);
    registerLockHandlers(socket, { views });
    admin.onConnection(socket);
    registerSimHandlers(io, socket, { simulator, refusal: admin.socketWriteRefusal, audit: admin.auditSocket });
  });

  return {
    httpServer,
    io,
    targets,
    admin,
    metrics,
    simulator,
    replication,
    async start() {
      await targets.start();
      await replication?.start();
      replication?.share({ admin, simulator });
    },
    async close() {
      views.dispose();
      status.dispose();
      admin.dispose();
      // The lease is given up (and followers told) while the state store is still connected.
      await replication?.stop();
      // io.close() also closes the HTTP server; it refuses new connections first, then ends the open ones.
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      replication?.disconnect();
      if (httpServer.listening) await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      // A running simulation releases its locks and deletes its keys while Redis is still there.
      await simulator.close();
      unbindSim();
      await targets.stop();
      metrics.dispose();
    },
  };
}
