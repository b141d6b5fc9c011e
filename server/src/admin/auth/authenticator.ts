import { parseCookie } from 'cookie';
import { SESSION_COOKIE, type AdminAccess, type SessionInfo } from '../../../../shared/admin';
import { hostnameOf, isLoopbackHost, type ResolvedAdminMode } from './admin-mode';
import type { FailureLimiter, Throttled } from './failure-limiter';
import { sessionFingerprint, type Session, type SessionStore } from './sessions';
import { tokenMatches } from './token';

/** What a request or socket handshake presents. */
export interface Credentials {
  /** `Host` header. */
  host?: string;
  /** `Authorization` header. */
  authorization?: string;
  /** `Cookie` header. */
  cookie?: string;
  /** Socket.IO handshake `auth.token`. */
  token?: unknown;
}

export type Access =
  | {
      allowed: true;
      /** Audit-log actor: `session:<8 hex>`, `bearer` or `open`. */
      actor: string;
      via: 'session' | 'bearer' | 'open';
      /** The session, when `via` is `session`. */
      session?: Session;
    }
  | {
      allowed: false;
      actor: 'anonymous';
      access: Exclude<AdminAccess, 'allowed'>;
      status: 401 | 403;
      code: 'unauthorized' | 'read_only' | 'host_not_allowed';
      message: string;
      /** A token was presented and compared, and it was wrong (counts against the failed-login limit). */
      tokenRejected?: true;
    };

/** `Authenticator.attempt`: the access decided, or a refusal because the caller's address is over the limit. */
export type Attempt = { throttled: null; access: Access } | { throttled: Throttled; access?: undefined };

/** Longest token accepted for hashing; anything longer is simply wrong. */
const MAX_TOKEN_CHARS = 1024;

/** Decides who may do admin actions, from the start-up mode and the caller's credentials. Synchronous, no I/O. */
export class Authenticator {
  constructor(
    readonly mode: ResolvedAdminMode,
    /** SHA-256 hex of the admin token, or null when none is configured. */
    private readonly tokenDigest: string | null,
    readonly sessions: SessionStore,
    /** The failed-login limit that `attempt` applies (none: nothing is limited). */
    readonly limiter: FailureLimiter | null = null,
  ) {}

  /**
   * `check` for a request or handshake from `ip`, under the failed-login limit: a presented token (bearer or
   * handshake `auth.token`) is refused unchecked while the address is over the limit, and a wrong one counts.
   * Cookies do not count: session ids are 256 random bits, and a stale cookie after a restart is no guess.
   */
  attempt(c: Credentials, ip: string): Attempt {
    if (this.limiter && this.presentsToken(c)) {
      const throttled = this.limiter.throttled(ip);
      if (throttled) return { throttled };
    }
    const access = this.check(c);
    if (!access.allowed && access.tokenRejected) this.limiter?.fail(ip);
    return { throttled: null, access };
  }

  /** True when `c` carries a token this mode would compare (bearer header or handshake token, token mode only). */
  presentsToken(c: Credentials): boolean {
    return this.mode.mode === 'token' && (c.authorization !== undefined || c.token !== undefined);
  }

  check(c: Credentials): Access {
    const { mode, reason } = this.mode;
    if (mode === 'read-only') {
      return deny('read-only', 403, 'read_only', `Admin actions are disabled: ${reason ?? 'read-only mode'}.`);
    }
    if (mode === 'open') {
      const hostname = hostnameOf(c.host);
      if (hostname && isLoopbackHost(hostname)) return { allowed: true, actor: 'open', via: 'open' };
      // Open mode trusts "this machine"; a page that reached us through its own DNS name is not this machine.
      return deny(
        'read-only',
        403,
        'host_not_allowed',
        'Without ADMIN_TOKEN, admin actions are only allowed through a loopback address (http://127.0.0.1 or http://localhost).',
      );
    }
    if (c.authorization !== undefined) {
      const m = /^Bearer[ ]+(\S.*)$/i.exec(c.authorization.trim());
      if (m && this.matches(m[1]!)) return { allowed: true, actor: 'bearer', via: 'bearer' };
      if (m) return { ...deny('login-required', 401, 'unauthorized', 'The bearer token is wrong.'), tokenRejected: true };
      return deny('login-required', 401, 'unauthorized', 'Send the admin token as "Authorization: Bearer <token>".');
    }
    if (c.token !== undefined) {
      if (typeof c.token === 'string' && this.matches(c.token)) return { allowed: true, actor: 'bearer', via: 'bearer' };
      return { ...deny('login-required', 401, 'unauthorized', 'The admin token is wrong.'), tokenRejected: true };
    }
    const session = this.sessions.get(sessionIdFrom(c.cookie));
    if (session) return { allowed: true, actor: sessionFingerprint(session), via: 'session', session };
    return deny('login-required', 401, 'unauthorized', 'Log in with the admin token first (or send "Authorization: Bearer <token>").');
  }

  /** `GET /api/session`. */
  describe(c: Credentials): SessionInfo {
    return this.describeAccess(this.check(c));
  }

  /** `describe` for an access already decided. */
  describeAccess(access: Access): SessionInfo {
    if (access.allowed) {
      return { admin: 'allowed', mode: this.mode.mode, via: access.via, ...(access.session && { expiresAt: access.session.expiresAt }) };
    }
    const reason = this.mode.mode === 'read-only' ? this.mode.reason! : access.message;
    return { admin: access.access, mode: this.mode.mode, reason };
  }

  /** True when `token` is the configured admin token (constant time). */
  matches(token: string): boolean {
    return this.tokenDigest !== null && token.length <= MAX_TOKEN_CHARS && tokenMatches(token, this.tokenDigest);
  }
}

function deny(
  access: Exclude<AdminAccess, 'allowed'>,
  status: 401 | 403,
  code: 'unauthorized' | 'read_only' | 'host_not_allowed',
  message: string,
): Extract<Access, { allowed: false }> {
  return { allowed: false, actor: 'anonymous', access, status, code, message };
}

/** The session id from a `Cookie` header, if any. */
export function sessionIdFrom(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  try {
    return parseCookie(cookieHeader)[SESSION_COOKIE];
  } catch {
    return undefined;
  }
}
