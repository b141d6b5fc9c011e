import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';

export interface Session {
  /** SHA-256 (hex) of the session id: the store never keeps the id itself. */
  digest: string;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms after which the session no longer authorises anything. */
  expiresAt: number;
}

export interface SessionStoreOptions {
  /** Lifetime of a session in ms (absolute, not sliding). */
  ttlMs?: number;
  /** Most live sessions; the oldest is dropped beyond it. */
  max?: number;
  clock?: () => number;
}

/** 12 hours: one working day plus slack. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;

/**
 * Admin sessions, in memory (a restart logs everyone out). Ids are 256 random bits; the map is keyed by their
 * SHA-256 so that neither a heap dump nor the audit log (which shows a fingerprint of the digest) holds a usable id.
 */
export class SessionStore extends EventEmitter<{
  /** A session started here (other lockscope replicas adopt it: a browser may reach any of them). */
  created: [session: Session];
  /** A session ended here (logout). */
  deleted: [digest: string];
}> {
  private readonly sessions = new Map<string, Session>();
  private readonly ttlMs: number;
  private readonly max: number;
  private readonly clock: () => number;

  constructor(options: SessionStoreOptions = {}) {
    super();
    this.ttlMs = options.ttlMs ?? SESSION_TTL_MS;
    this.max = options.max ?? 1000;
    this.clock = options.clock ?? Date.now;
  }

  /** Starts a session; the returned id goes into the cookie and nowhere else. */
  create(): { id: string; session: Session } {
    this.sweep();
    while (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const now = this.clock();
    const session: Session = { digest: digestOf(id), createdAt: now, expiresAt: now + this.ttlMs };
    this.sessions.set(session.digest, session);
    this.emit('created', session);
    return { id, session };
  }

  /** A session another replica started: the same cookie works here (the store keeps digests only). */
  adopt(session: Session): void {
    if (!/^[0-9a-f]{64}$/.test(session.digest) || !(session.expiresAt > this.clock())) return;
    this.sweep();
    while (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(session.digest, { digest: session.digest, createdAt: Number(session.createdAt), expiresAt: Number(session.expiresAt) });
  }

  /** A session another replica ended. */
  forget(digest: string): void {
    this.sessions.delete(digest);
  }

  /** Live sessions (for a replica that starts later). */
  list(): Session[] {
    this.sweep();
    return [...this.sessions.values()];
  }

  /** The live session for a cookie value, or undefined (unknown, expired or malformed). */
  get(id: string | undefined): Session | undefined {
    if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const session = this.sessions.get(digestOf(id));
    if (!session) return undefined;
    if (session.expiresAt <= this.clock()) {
      this.sessions.delete(session.digest);
      return undefined;
    }
    return session;
  }

  delete(id: string | undefined): boolean {
    const session = this.get(id);
    if (!session) return false;
    this.sessions.delete(session.digest);
    this.emit('deleted', session.digest);
    return true;
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.clock();
    for (const [digest, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(digest);
  }
}

function digestOf(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** What the audit log shows for a session: 8 hex digits of the id's digest (stable for the session, useless to replay). */
export function sessionFingerprint(session: Session): string {
  return `session:${session.digest.slice(0, 8)}`;
}
