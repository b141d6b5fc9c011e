import type { IncomingMessage } from 'node:http';
import type { Server, Socket } from 'socket.io';
import type { AuditEntry } from '../../../shared/admin';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { AuditLog } from './audit/audit-log';
import type { Authenticator, Credentials } from './auth/authenticator';
import { PerIpWindow } from './auth/failure-limiter';

type IO = Server<ClientToServerEvents, ServerToClientEvents>;
type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

const ADMIN_ROOM = 'admin:audit';

/** How often a refused cross-site handshake is audited: the first per address per window. */
const ORIGIN_AUDIT_WINDOW_MS = 5 * 60_000;

/**
 * Socket.IO side of admin. Cross-site handshakes are already refused by `allowRequest` (Admin.allowHandshake),
 * which reports them to `refusedOrigin` for the audit log; here the handshake is authenticated: the session cookie or
 * `auth: { token }` makes a socket admin-capable (it then receives `admin:audit` live), a wrong `auth.token` is
 * refused outright (audited, and counted against the failed-login limit, which refuses every handshake token
 * from an address over it), and a socket without credentials stays a viewer of the (read-only) lock stream.
 *
 * Browsers send cookies only with the handshake, so the UI reconnects its socket after logging in or out
 * (`socket.disconnect().connect()`) to gain or drop the audit feed.
 */
export class AdminSockets {
  private readonly credentials = new WeakMap<ClientSocket, Credentials>();
  private readonly originRefusals = new PerIpWindow({ windowMs: ORIGIN_AUDIT_WINDOW_MS });

  constructor(
    private readonly io: IO,
    private readonly auth: Authenticator,
    private readonly audit: AuditLog,
    /** The client's address for a raw request (honours `trust proxy`). */
    private readonly clientIp: (req: IncomingMessage) => string,
  ) {}

  /** `io.use()` middleware. */
  readonly middleware = (socket: ClientSocket, next: (err?: Error) => void): void => {
    const creds = handshakeCredentials(socket);
    const ip = this.clientIp(socket.request);
    const attempt = this.auth.attempt(creds, ip);
    if (attempt.throttled) {
      const { message, first } = attempt.throttled;
      return void this.refuse(ip, 'rate_limited', message, first).then(() => next(connectError('rate_limited', message)));
    }
    const { access } = attempt;
    // Only a token the client chose to send can be wrong; a stale cookie just means "viewer".
    if (!access.allowed && access.code === 'unauthorized' && creds.token !== undefined) {
      return void this.refuse(ip, 'unauthorized', access.message, true).then(() => next(connectError('unauthorized', access.message)));
    }
    this.credentials.set(socket, creds);
    next();
  };

  /**
   * For `allowRequest`: a handshake refused as cross-site. Audited once per address per window (engine.io asks on
   * every polling request and clients retry, so each refusal would flood the capped stream).
   */
  refusedOrigin(req: IncomingMessage, problem: string): void {
    const ip = this.clientIp(req);
    if (this.originRefusals.hit(ip) !== 1) return;
    void this.refuse(ip, 'cross_origin', `Socket.IO handshake refused: ${problem}.`, true);
  }

  onConnection(socket: ClientSocket): void {
    if (this.allowed(socket)) void socket.join(ADMIN_ROOM);
  }

  /** Sends an audit entry to every socket that is still admin-capable (a logout or expiry ends the feed). */
  broadcast(entry: AuditEntry): void {
    // A copy: leaving the room while iterating it would skip members.
    for (const id of [...(this.io.of('/').adapter.rooms.get(ADMIN_ROOM) ?? [])]) {
      const s = this.io.of('/').sockets.get(id);
      if (!s) continue;
      if (this.allowed(s)) s.emit('admin:audit', entry);
      else void s.leave(ADMIN_ROOM);
    }
  }

  /** Who this socket acts as, for the audit log (`anonymous` when it may not act), and from where. */
  who(socket: ClientSocket): { actor: string; ip: string } {
    const creds = this.credentials.get(socket);
    return { actor: creds ? this.auth.check(creds).actor : 'anonymous', ip: this.clientIp(socket.request) };
  }

  allowed(socket: ClientSocket): boolean {
    const creds = this.credentials.get(socket);
    return creds !== undefined && this.auth.check(creds).allowed;
  }

  private async refuse(ip: string, code: string, message: string, audited: boolean): Promise<void> {
    if (audited) await this.audit.record({ action: 'connect', actor: 'anonymous', ip, result: 'refused', error: { code, message } });
  }
}

/** A handshake refusal as the client sees it: `connect_error` with `err.message` = code and `err.data`. */
function connectError(code: string, message: string): Error {
  const err = new Error(code) as Error & { data?: unknown };
  err.data = { code, message };
  return err;
}

function handshakeCredentials(socket: ClientSocket): Credentials {
  const { headers, auth } = socket.handshake;
  const token = auth && typeof auth === 'object' ? (auth as Record<string, unknown>).token : undefined;
  return { host: headers.host, cookie: headers.cookie, ...(token !== undefined && { token }) };
}
