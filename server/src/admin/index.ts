import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Server, Socket } from 'socket.io';
import type { AuditEntry } from '../../../shared/admin';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { ApiError } from '../../../shared/result';
import { AuditLog, type AuditInput } from './audit/audit-log';
import { crossOriginProblem } from './auth/csrf';
import { hostnameOf, isLoopbackHost, resolveAdminMode, type ResolvedAdminMode } from './auth/admin-mode';
import { Authenticator } from './auth/authenticator';
import { FailureLimiter, PerIpWindow } from './auth/failure-limiter';
import { SessionStore } from './auth/sessions';
import type { Config } from '../config/config';
import { adminRoutes, type AdminLimits } from './http/routes';
import type { TargetSet } from '../targets/target-set';
import { AdminSockets } from './socket-handlers';
import { LockAdmin } from './lock-admin';
import { LockAdmins } from './lock-admins';

type IO = Server<ClientToServerEvents, ServerToClientEvents>;

export interface AdminDeps {
  config: Pick<Config, 'readOnly' | 'adminToken' | 'adminTokenSha256' | 'host' | 'lockPatterns'>;
  /** The watched targets: actions go to the one they name; the audit stream lives in the first. */
  targets: TargetSet;
  io: IO;
  logger: Logger;
  /** lockscope runs its own embedded Redis. */
  embedded: boolean;
  clock?: () => number;
  limits?: AdminLimits;
  /** lockscope's version (the OpenAPI document at `/api/openapi.json` carries it). */
  version?: string;
  /** The client's address for a raw request (Socket.IO handshakes), honouring `trust proxy`; default: the peer. */
  clientIp?: (req: IncomingMessage) => string;
  /** The host a raw request addressed, honouring `trust proxy` (X-Forwarded-Host); default: `Host`. */
  clientHost?: (req: IncomingMessage) => string | undefined;
  /** Where lockscope is served (`''` or `/ops/locks`): the session cookie's path. Default: the root. */
  basePath?: string;
}

export type { AuditInput };

export interface Admin {
  /** How admin was resolved at start-up (for the start-up banner). */
  mode: ResolvedAdminMode;
  /** Mount at `/api`. */
  router: ReturnType<typeof adminRoutes>;
  /** `io.use(...)`: authenticates the handshake. */
  socketMiddleware: AdminSockets['middleware'];
  /**
   * For Socket.IO's `allowRequest`: false for a handshake from another site (cross-site WebSocket hijacking: browsers
   * apply no CORS to WebSockets), which is audited, at most once per address and window.
   */
  allowHandshake(req: IncomingMessage): boolean;
  /** Call for each new socket. */
  onConnection(socket: Socket<ClientToServerEvents, ServerToClientEvents>): void;
  /**
   * Why this socket may not start things that write to Redis besides admin actions (the simulator), or null when
   * it may. `--read-only` forbids it outright; with an admin token configured, only an authenticated socket may;
   * without one (open mode, or read-only for want of a token with the simulator enabled) only a socket that
   * reached lockscope through a loopback host name, as for HTTP admin in open mode, so that a DNS-rebinding page
   * cannot start simulations.
   */
  socketWriteRefusal(socket: Socket<ClientToServerEvents, ServerToClientEvents>): ApiError | null;
  /**
   * Audits something a socket did (the simulator's start and stop), as that socket's actor and address; of its
   * refused attempts only the first per address and window, so that a refusing loop cannot flood the log.
   */
  auditSocket(socket: Socket<ClientToServerEvents, ServerToClientEvents>, input: Omit<AuditInput, 'actor' | 'ip'>): void;
  audit: AuditLog;
  /** Admin sessions (browser logins): other replicas adopt the ones started here, and this one theirs. */
  sessions: SessionStore;
  /** Shows an audit entry recorded elsewhere (another replica) to this server's admin browsers. */
  showAudit(entry: AuditEntry): void;
  dispose(): void;
}

/** Builds the admin side (force-release, set TTL, sessions, audit) from config and the app's parts. */
export function createAdmin(deps: AdminDeps): Admin {
  const { config, targets, io, logger } = deps;
  const tokenDigest = config.adminToken ?? config.adminTokenSha256 ?? null;
  const mode = resolveAdminMode({
    readOnly: config.readOnly,
    tokenConfigured: tokenDigest !== null,
    embedded: deps.embedded,
    host: config.host,
  });
  const limiter = new FailureLimiter({ limit: deps.limits?.loginFailures ?? 10, windowMs: 5 * 60_000, clock: deps.clock });
  const sessions = new SessionStore({ clock: deps.clock });
  const auth = new Authenticator(mode, tokenDigest, sessions, limiter);
  const audit = new AuditLog(targets.first.keyed, logger, { store: mode.mode !== 'read-only', clock: deps.clock });
  const locks = new LockAdmins(
    new Map(
      targets.list.map((t) => [
        t.id,
        new LockAdmin({
          redis: t.keyed,
          tracker: t.tracker,
          inspector: t,
          logger: logger.child({ target: t.id }),
          patterns: config.lockPatterns,
          cluster: () => t.topology.kind === 'cluster',
        }),
      ]),
    ),
    targets.first.id,
  );
  const sockets = new AdminSockets(io, auth, audit, deps.clientIp ?? ((req) => req.socket.remoteAddress ?? ''));
  const onEntry = (entry: AuditEntry) => sockets.broadcast(entry);
  const socketRefusals = new PerIpWindow({ windowMs: 5 * 60_000, clock: deps.clock });
  audit.on('entry', onEntry);
  const router = adminRoutes({ auth, audit, locks, logger, limits: deps.limits, version: deps.version ?? 'dev', basePath: deps.basePath ?? '' });
  return {
    mode,
    router,
    socketMiddleware: sockets.middleware,
    allowHandshake: (req) => {
      const site = req.headers['sec-fetch-site'];
      const problem = crossOriginProblem({
        origin: req.headers.origin,
        host: deps.clientHost?.(req) ?? req.headers.host,
        secFetchSite: Array.isArray(site) ? site[0] : site,
      });
      if (problem) sockets.refusedOrigin(req, problem);
      return problem === null;
    },
    onConnection: (socket) => sockets.onConnection(socket),
    socketWriteRefusal: (socket) => {
      if (config.readOnly) return { code: 'read_only', message: `Simulations write to Redis, and ${mode.reason ?? 'lockscope is read-only'}.` };
      if (mode.mode === 'token') {
        return sockets.allowed(socket) ? null : { code: 'unauthorized', message: 'Log in as admin to start or stop simulations: they write to Redis.' };
      }
      const hostname = hostnameOf(socket.handshake.headers.host);
      if (hostname && isLoopbackHost(hostname)) return null;
      return {
        code: 'host_not_allowed',
        message: 'Without ADMIN_TOKEN, simulations can only be started or stopped through a loopback address (http://127.0.0.1 or http://localhost).',
      };
    },
    auditSocket: (socket, input) => {
      const who = sockets.who(socket);
      if (input.result === 'refused' && socketRefusals.hit(who.ip) !== 1) return;
      void audit.record({ ...input, ...who });
    },
    audit,
    sessions,
    showAudit: onEntry,
    dispose: () => {
      audit.off('entry', onEntry);
      router.dispose();
    },
  };
}
