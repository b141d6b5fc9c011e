import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Server, Socket } from 'socket.io';
import type { AuditEntry } from '../../../shared/admin';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import { AuditLog } from '../audit/audit-log';
import { resolveAdminMode, type ResolvedAdminMode } from '../auth/admin-mode';
import { Authenticator } from '../auth/authenticator';
import { SessionStore } from '../auth/sessions';
import type { Config } from '../config/config';
import { adminRoutes, type AdminLimits } from '../http/admin/routes';
import type { Inspector } from '../inspector/inspector';
import type { LockTracker } from '../inspector/lock-tracker';
import { AdminSockets } from '../realtime/admin-handlers';
import { LockAdmin } from './lock-admin';

type IO = Server<ClientToServerEvents, ServerToClientEvents>;

export interface AdminDeps {
  config: Pick<Config, 'readOnly' | 'adminToken' | 'adminTokenSha256' | 'host'>;
  /** Command connection to the inspected Redis (locks and the audit stream live there). */
  redis: Redis;
  tracker: LockTracker;
  inspector: Inspector;
  io: IO;
  logger: Logger;
  /** lockscope runs its own embedded Redis. */
  embedded: boolean;
  clock?: () => number;
  limits?: AdminLimits;
}

export interface Admin {
  /** How admin was resolved at start-up (for the start-up banner). */
  mode: ResolvedAdminMode;
  /** Mount at `/api`. */
  router: ReturnType<typeof adminRoutes>;
  /** `io.use(...)`: authenticates the handshake. */
  socketMiddleware: AdminSockets['middleware'];
  /** Call for each new socket. */
  onConnection(socket: Socket<ClientToServerEvents, ServerToClientEvents>): void;
  /**
   * May this socket start things that write to Redis besides admin actions (the simulator)? With an admin
   * token configured, only an authenticated socket may; without one, whoever reaches lockscope may.
   */
  socketMayWrite(socket: Socket<ClientToServerEvents, ServerToClientEvents>): boolean;
  audit: AuditLog;
  dispose(): void;
}

/** Builds the admin side (force-release, set TTL, sessions, audit) from config and the app's parts. */
export function createAdmin(deps: AdminDeps): Admin {
  const { config, redis, tracker, inspector, io, logger } = deps;
  const tokenDigest = config.adminToken ?? config.adminTokenSha256 ?? null;
  const mode = resolveAdminMode({
    readOnly: config.readOnly,
    tokenConfigured: tokenDigest !== null,
    embedded: deps.embedded,
    host: config.host,
  });
  const auth = new Authenticator(mode, tokenDigest, new SessionStore({ clock: deps.clock }));
  const audit = new AuditLog(redis, logger, { store: mode.mode !== 'read-only', clock: deps.clock });
  const locks = new LockAdmin({ redis, tracker, inspector, logger });
  const sockets = new AdminSockets(io, auth);
  const onEntry = (entry: AuditEntry) => sockets.broadcast(entry);
  audit.on('entry', onEntry);
  return {
    mode,
    router: adminRoutes({ auth, audit, locks, logger, limits: deps.limits }),
    socketMiddleware: sockets.middleware,
    onConnection: (socket) => sockets.onConnection(socket),
    socketMayWrite: (socket) => mode.mode !== 'token' || sockets.allowed(socket),
    audit,
    dispose: () => void audit.off('entry', onEntry),
  };
}
