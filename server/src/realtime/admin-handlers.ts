import type { Server, Socket } from 'socket.io';
import type { AuditEntry } from '../../../shared/admin';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { Authenticator, Credentials } from '../auth/authenticator';

type IO = Server<ClientToServerEvents, ServerToClientEvents>;
type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

const ADMIN_ROOM = 'admin:audit';

/**
 * Socket.IO side of admin. Cross-site handshakes are already refused by `allowRequest` (origin-check.ts);
 * here the handshake is authenticated: the session cookie or `auth: { token }` makes a socket admin-capable
 * (it then receives `admin:audit` live), a wrong `auth.token` is refused outright, and a socket without
 * credentials stays a viewer of the (read-only) lock stream.
 *
 * Browsers send cookies only with the handshake, so the UI reconnects its socket after logging in or out
 * (`socket.disconnect().connect()`) to gain or drop the audit feed.
 */
export class AdminSockets {
  private readonly credentials = new WeakMap<ClientSocket, Credentials>();

  constructor(
    private readonly io: IO,
    private readonly auth: Authenticator,
  ) {}

  /** `io.use()` middleware. */
  readonly middleware = (socket: ClientSocket, next: (err?: Error) => void): void => {
    const creds = handshakeCredentials(socket);
    const access = this.auth.check(creds);
    // Only a token the client chose to send can be wrong; a stale cookie just means "viewer".
    if (!access.allowed && access.code === 'unauthorized' && creds.token !== undefined) {
      const err = new Error('unauthorized') as Error & { data?: unknown };
      err.data = { code: 'unauthorized', message: access.message };
      return next(err);
    }
    this.credentials.set(socket, creds);
    next();
  };

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

  allowed(socket: ClientSocket): boolean {
    const creds = this.credentials.get(socket);
    return creds !== undefined && this.auth.check(creds).allowed;
  }
}

function handshakeCredentials(socket: ClientSocket): Credentials {
  const { headers, auth } = socket.handshake;
  const token = auth && typeof auth === 'object' ? (auth as Record<string, unknown>).token : undefined;
  return { host: headers.host, cookie: headers.cookie, ...(token !== undefined && { token }) };
}
