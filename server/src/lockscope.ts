import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { SimAvailability } from '../../shared/simulator';
import { createAdmin, type Admin } from './admin/index';
import type { Config } from './config/config';
import type { TargetConfig } from './config/targets';
import { healthRoutes } from './http/health';
import { jsonApi } from './http/json-api';
import { staticClient } from './http/static-client';
import { createLibraries } from './libraries';
import { createMetrics, type Metrics } from './metrics/metrics';
import { clientAddress, clientHost, type TrustFn } from './realtime/client-address';
import { registerLockHandlers } from './realtime/lock-handlers';
import { broadcastSimEvents, registerSimHandlers } from './realtime/sim-handlers';
import { createSocketServer, type AttachableServer, type IO, type SocketServerOptions } from './realtime/socket-server';
import { StatusReporter } from './realtime/status-reporter';
import { TargetViews } from './realtime/target-views';
import { Replication, replicationPlan } from './replication/replication';
import { SimulatorService } from './simulator/service';
import type { TargetOptions } from './targets/target';
import { TargetSet } from './targets/target-set';

/** Everything lockscope is made of, whichever way it runs: its own server (createApp) or inside another app. */
export interface LockscopeParts {
  /** Validated settings; `config.basePath` is where the router is mounted and Socket.IO answers. */
  config: Config;
  /**
   * The Redis deployments to watch, in order (the first is the default view, keeps the audit log and runs the
   * simulator). Default: `config.targets`.
   */
  targets?: TargetConfig[];
  logger: Logger;
  /** Whether lockscope may turn on keyspace notifications (its own embedded Redis, or --configure-notifications). */
  configureNotifications: boolean;
  /** Built client to serve, or null (API only). */
  clientDir: string | null;
  /** lockscope started its own embedded Redis: with no admin token, admin then works from loopback (default false). */
  embedded?: boolean;
  /**
   * Whether the contention simulator may run (its workers connect to the first target). Default: on with the
   * embedded Redis or with `config.simulator`, off otherwise, and off when the first target is not a URL.
   * `config.readOnly` turns it off whatever this says.
   */
  simulator?: SimAvailability;
  version: string;
  clock?: () => number;
  /** Timings that are not settings (tests shorten them): reconcile scans, feed re-checks. */
  tuning?: Pick<TargetOptions, 'reconcileMs' | 'feedRecheckMs'>;
  /**
   * Leave `trust proxy` to the application the router is mounted in (Express sub-apps inherit it) instead of
   * setting `config.trustProxy`: embedding without a `trustProxy` option.
   */
  inheritTrustProxy?: boolean;
  /**
   * A Socket.IO adapter (rooms shared between lockscope instances); default: in memory, or the Redis streams adapter
   * replicas talk over. Given, replicas talk over it instead (it must support `serverSideEmit`, as cluster adapters do).
   */
  socketAdapter?: SocketServerOptions['adapter'];
  /**
   * Coordinate with other lockscope replicas watching the same targets (default true): one elected leader per
   * target watches it, the others follow its change stream. False: this lockscope watches every target by itself.
   */
  replication?: boolean;
  /** This replica's name in leases and the status (default `host:port#pid`, the port being `config.port`). */
  replicaName?: string;
}

/** lockscope, composed: nothing connects or listens until `start()` and `attach()`. */
export interface LockscopeCore {
  /** `''` (the root) or `/ops/locks`: where `router` must be mounted. */
  basePath: string;
  /** The dashboard, `/api`, `/healthz` and `/metrics` as an Express sub-app, to mount at `basePath`. */
  router: Express;
  /** lockscope's own Socket.IO server, answering at `${basePath}/socket.io/` on every server attached to. */
  io: IO;
  /** Every watched deployment, each with its lock table and node watchers (`targets.first` is the default view). */
  targets: TargetSet;
  /** Force-release, set TTL, sessions and the audit log (`admin.mode` says whether admin is possible at all). */
  admin: Admin;
  /** Prometheus metrics (its own registry), served at `${basePath}/metrics`. */
  metrics: Metrics;
  /** The contention simulator (one run at a time). */
  simulator: SimulatorService;
  /** Every target's status, as `/healthz` and the dashboard's header see it. */
  status: StatusReporter;
  /** Coordination with other replicas (null when `replication: false`). */
  replication: Replication | null;
  /** Serves Socket.IO on `server` (the host's own requests and upgrades pass by); undone by `close()`. */
  attach(server: AttachableServer): void;
  /** Connects and starts following every target (first sync included for those reachable now). */
  start(): Promise<void>;
  /**
   * Ordered shutdown: sockets (and every server let go of), simulator, targets (their Redis connections), timers and
   * listeners. Servers attached to, and the application the router is mounted in, stay up.
   */
  close(): Promise<void>;
}

const EXTERNAL_SIMULATOR =
  'lockscope is watching an external Redis: start it with --simulator (SIMULATOR=1, or `simulator: true` when embedded) to allow simulations there.';

/** The one composition of lockscope's parts, used by its own server (createApp) and by createLockscope. */
export function composeLockscope(parts: LockscopeParts): LockscopeCore {
  const { config, logger } = parts;
  const { basePath } = config;
  const clock = parts.clock ?? Date.now;
  const targetConfigs = parts.targets ?? config.targets;
  const replicationSettings = {
    patterns: config.lockPatterns,
    heldTooLongMs: config.heldTooLongMs,
    stateRedisUrl: config.stateRedisUrl ?? null,
    leaseMs: config.leaseMs,
  };
  const plan = parts.replication === false ? null : replicationPlan(targetConfigs, replicationSettings);
  const targets = TargetSet.fromConfig(
    targetConfigs,
    {
      patterns: config.lockPatterns,
      scanCount: config.scanCount,
      pollMs: config.pollMs,
      heldTooLongMs: config.heldTooLongMs,
      ...parts.tuning,
    },
    {
      logger: logger.child({ part: 'targets' }),
      clock,
      configureNotifications: parts.configureNotifications,
      // One registry for every target: declared formats apply wherever their keys are found.
      libraries: createLibraries(config.lockFormats),
      // Replicas: no target watches its nodes before this replica is elected its leader (or works alone).
      standby: plan !== null,
      instanceIdOf: (id) => plan?.get(id)?.group,
    },
  );

  const web = express();
  web.disable('x-powered-by');
  // TRUST_PROXY: req.ip, req.host and req.secure (rate limits, audit, cross-site checks, the Secure cookie) then
  // honour X-Forwarded-For/-Host/-Proto. Read per request: a sub-app sees its parent's setting only once mounted.
  if (!parts.inheritTrustProxy) web.set('trust proxy', config.trustProxy);
  const trust: TrustFn = (addr, i) => (web.get('trust proxy fn') as TrustFn)(addr, i);

  const sockets = createSocketServer({
    path: `${basePath}/socket.io/`,
    // `admin` is built below (it needs `io`); requests only arrive once a server is attached and listening.
    allowRequest: (req, callback) => callback(null, admin.allowHandshake(req)),
    adapter: parts.socketAdapter,
  });
  const { io } = sockets;
  const replication =
    plan &&
    new Replication({
      io,
      targets,
      plan,
      settings: replicationSettings,
      self: parts.replicaName ?? `${hostname()}:${config.port}#${process.pid}`,
      logger: logger.child({ part: 'replication' }),
      clock,
      // The application's adapter carries the replicas' messages: lockscope installs none of its own.
      adapterInstalled: parts.socketAdapter !== undefined,
    });
  const status = new StatusReporter(io, { targets, version: parts.version, patterns: config.lockPatterns });
  const views = new TargetViews(io, targets, clock);
  const admin = createAdmin({
    config,
    targets,
    io,
    logger: logger.child({ part: 'admin' }),
    embedded: parts.embedded ?? false,
    clock,
    clientIp: (req: IncomingMessage) => clientAddress(req, trust),
    clientHost: (req: IncomingMessage) => clientHost(req, trust),
    version: parts.version,
    basePath,
  });
  io.use(admin.socketMiddleware);
  const metrics = createMetrics({ targets, replication, clock });
  const first = targetConfigs[0]!;
  const simulator = new SimulatorService({
    redisUrl: simulatorUrl(first),
    availability: simulatorAvailability(parts, first),
    logger: logger.child({ part: 'simulator' }),
  });
  const unbindSim = broadcastSimEvents(io, simulator);

  let closed = false;
  web.use((_req, res, next) => {
    if (!closed) return next();
    res.status(503).type('text').send('lockscope has been closed.');
  });
  web.use(mountCheck(basePath, logger));
  web.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  web.use(directorySlash);
  // Every answer under /api is JSON (404, 405, 500 included), the OpenAPI document's path too.
  web.use('/api', jsonApi(admin.router, logger.child({ part: 'api' })));
  web.use(healthRoutes(status));
  web.use(metrics.routes());
  if (parts.clientDir) web.use(staticClient(parts.clientDir));

  io.on('connection', (socket) => {
    socket.emit('server:status', status.current());
    views.attach(socket);
    registerLockHandlers(socket, { views });
    admin.onConnection(socket);
    registerSimHandlers(io, socket, { simulator, refusal: admin.socketWriteRefusal, audit: admin.auditSocket });
  });

  const attached = new Set<AttachableServer>();
  return {
    basePath,
    router: web,
    io,
    targets,
    admin,
    metrics,
    simulator,
    status,
    replication,
    attach(server) {
      if (closed) throw new Error('lockscope has been closed');
      if (attached.has(server)) return;
      attached.add(server);
      sockets.attach(server);
    },
    async start() {
      await targets.start();
      await replication?.start();
      replication?.share({ admin, simulator });
    },
    async close() {
      if (closed) return;
      closed = true;
      views.dispose();
      status.dispose();
      admin.dispose();
      // The lease is given up (and followers told) while the state store is still connected.
      await replication?.stop();
      await sockets.close();
      // After Socket.IO has closed its adapter (the bus), which must not be left reading from closed connections.
      replication?.disconnect();
      // A running simulation releases its locks and deletes its keys while Redis is still there.
      await simulator.close();
      unbindSim();
      await targets.stop();
      metrics.dispose();
    },
  };
}

/** The URL the simulator's workers connect by: a plain URL target's, with no TLS material a URL cannot carry. */
function simulatorUrl(first: TargetConfig): string | null {
  return first.kind === 'url' && !first.tls?.ca && !first.tls?.cert ? first.url : null;
}

function simulatorAvailability(parts: LockscopeParts, first: TargetConfig): SimAvailability {
  if (parts.config.readOnly) {
    return { enabled: false, reason: 'lockscope was started read-only (--read-only / READ_ONLY), and simulations write to Redis.' };
  }
  if (simulatorUrl(first) === null) {
    const why =
      first.kind === 'client'
        ? 'the first Redis target was given as a connection'
        : first.kind === 'sentinel'
          ? 'the first Redis target is a Sentinel group'
          : 'the first Redis target needs TLS certificates, which a URL cannot carry';
    return { enabled: false, reason: `The simulator connects its workers (and its slow-link proxy) by URL, and ${why}.` };
  }
  if (parts.simulator) return parts.simulator;
  return parts.config.simulator || parts.embedded ? { enabled: true } : { enabled: false, reason: EXTERNAL_SIMULATOR };
}

/**
 * `/ops/locks` → `/ops/locks/`: the page's relative URLs (assets, API, Socket.IO) resolve against its directory, so
 * the dashboard must be loaded from the directory itself. Only this path: everything below already has one.
 */
const directorySlash: express.RequestHandler = (req, res, next) => {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || req.path !== '/') return next();
  const q = req.originalUrl.indexOf('?');
  const pathname = q < 0 ? req.originalUrl : req.originalUrl.slice(0, q);
  if (pathname.endsWith('/')) return next();
  res.redirect(301, `${pathname}/${q < 0 ? '' : req.originalUrl.slice(q)}`);
};

/**
 * Says once, in the log, that the router is mounted somewhere else than `basePath`: the page would then look for
 * Socket.IO under the path it was served from, where lockscope's Socket.IO does not answer.
 */
function mountCheck(basePath: string, logger: Logger): express.RequestHandler {
  let checked = false;
  return (req, _res, next) => {
    if (!checked) {
      checked = true;
      if (req.baseUrl !== basePath) {
        logger.error(
          { mountedAt: req.baseUrl || '/', basePath: basePath || '/' },
          `lockscope's router is mounted at ${req.baseUrl || '/'} but its basePath is ${basePath || '/'}: the dashboard's live connection will fail. Mount it at its basePath (app.use(ls.basePath, ls.router)).`,
        );
      }
    }
    next();
  };
}
