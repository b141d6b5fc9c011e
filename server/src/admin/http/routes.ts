import { randomBytes } from 'node:crypto';
import { stringifySetCookie } from 'cookie';
import express, { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { MemoryStore, rateLimit, type RateLimitInfo } from 'express-rate-limit';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  SESSION_COOKIE,
  type AdminErrorCode,
  type AuditAction,
  type BulkReleaseItem,
  type BulkReleaseResponse,
  type ReleaseOutcome,
  type ReleaseResponse,
  type ReleaseScope,
  type SetTtlOutcome,
  type SetTtlResponse,
} from '../../../../shared/admin';
import type { BytesView } from '../../../../shared/locks';
import { fail, ok } from '../../../../shared/result';
import { AdminError } from '../errors';
import { openApiDocument, type OpenApiDocument } from './openapi';
import type { LockAdmins } from '../lock-admins';
import type { AuditLog } from '../audit/audit-log';
import { sessionIdFrom, type Access, type Authenticator, type Credentials } from '../auth/authenticator';
import { crossOriginProblem } from '../auth/csrf';
import type { Throttled } from '../auth/failure-limiter';
import { sessionFingerprint } from '../auth/sessions';
import { bytesView } from '../../model/bytes';
import { refusalOf } from '../../targets/node/refusal';
import {
  attempted,
  auditQuerySchema,
  bulkReleaseSchema,
  describeIssues,
  keyBytes,
  loginSchema,
  ownerBytes,
  releaseSchema,
  setTtlSchema,
} from './schemas';

export interface AdminRouteDeps {
  auth: Authenticator;
  audit: AuditLog;
  /** The lock admin of each target, by id (`target` in a request body; the first when absent). */
  locks: LockAdmins;
  logger: Logger;
  limits?: AdminLimits;
  /** lockscope's version, for the OpenAPI document. */
  version: string;
  /** Where lockscope is served (`''` or `/ops/locks`): the session cookie's path and the OpenAPI document's base. */
  basePath: string;
}

export interface AdminLimits {
  /**
   * Wrong admin tokens per IP per 5 minutes, wherever they are sent (login, bearer on any route, Socket.IO
   * handshake); applied by the Authenticator's limiter, built in admin/index.ts.
   */
  loginFailures?: number;
  /** Admin actions (release, bulk, TTL) per IP per minute; a bulk release counts once. */
  actionsPerMinute?: number;
}

/** Largest JSON body of a single-lock action or a login. */
export const BODY_LIMIT = '16kb';
/** Largest JSON body of a bulk release (500 locks with their owners). */
export const BULK_BODY_LIMIT = '512kb';

interface Who {
  actor: string;
  ip: string;
}

/**
 * Admin HTTP API, mounted at `/api` (contract: shared/admin.ts). Every state-changing request passes, in order:
 * rate limit → failed-login limit (a token from an address with too many wrong ones) → cross-site check
 * (Sec-Fetch-Site / Origin vs Host) → mode and credentials → body (JSON, size) → validation → the action. Every
 * refusal from the cross-site check onwards is audited, and so is the first 429 of each limit's window per address.
 * A wrong bearer token counts against the failed-login limit on every route, reads included, and is audited there too.
 * `dispose()` stops the rate limits' clean-up timers.
 */
export function adminRoutes(deps: AdminRouteDeps): Router & { dispose(): void } {
  const { auth, audit, locks } = deps;
  const router = Router();
  const stores: MemoryStore[] = [];
  const cookiePath = deps.basePath || '/';

  const refuse = async (
    req: Request,
    res: Response,
    action: AuditAction,
    who: Who,
    status: number,
    code: AdminErrorCode,
    message: string,
  ) => {
    const tried = attempted(req.body);
    await audit.record({ action, ...who, ...tried, result: 'refused', error: { code, message } });
    res.status(status).json(fail(code, message));
  };

  const limiter = (windowMs: number, limit: number): RequestHandler => {
    const store = new MemoryStore();
    stores.push(store);
    return rateLimit({
      windowMs,
      limit,
      store,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      handler: (req, res) => {
        const info = (req as Request & { rateLimit: RateLimitInfo }).rateLimit;
        const retry = info.resetTime ? Math.max(1, Math.ceil((info.resetTime.getTime() - Date.now()) / 1000)) : 60;
        const message = `Too many admin requests from this address; try again in ${retry} s.`;
        noStore(res);
        // Only the first refusal of a window is audited, so a flood cannot push real history out of the capped stream.
        if (info.used === info.limit + 1) {
          void refuse(req, res, actionOf(req), whoOf(auth.check(credentials(req)), req), 429, 'rate_limited', message);
        } else {
          res.status(429).json(fail('rate_limited', message));
        }
      },
    });
  };
  const actionLimit = limiter(60_000, deps.limits?.actionsPerMinute ?? 60);

  /** 429 for a token from an address over the failed-login limit; the first of its window is audited. */
  const throttledReply = async (req: Request, res: Response, action: AuditAction, throttled: Throttled) => {
    noStore(res);
    res.setHeader('Retry-After', String(throttled.retryAfterS));
    if (throttled.first) return refuse(req, res, action, { actor: 'anonymous', ip: ipOf(req) }, 429, 'rate_limited', throttled.message);
    res.status(429).json(fail('rate_limited', throttled.message));
  };

  /**
   * Credentials of a request under the failed-login limit: null when it was answered (429). A wrong bearer token
   * on a route that is not an action (which audits its own refusals) is audited here as `auth`.
   */
  const authenticate = async (req: Request, res: Response, action: AuditAction, route: string): Promise<Access | null> => {
    const ip = ipOf(req);
    const attempt = auth.attempt(credentials(req), ip);
    if (attempt.throttled) {
      await throttledReply(req, res, action, attempt.throttled);
      return null;
    }
    const { access } = attempt;
    if (!access.allowed && access.tokenRejected && action === 'auth') {
      await audit.record({ action, actor: 'anonymous', ip, result: 'refused', error: { code: access.code, message: `${route}: ${access.message}` } });
    }
    return access;
  };

  /** Runs `run` if the caller passes every check; audits each refusal. `run` audits the outcome itself. */
  function adminAction<S extends z.ZodType>(
    action: AuditAction,
    schema: S,
    run: (who: Who, body: z.output<S>) => Promise<unknown>,
  ): RequestHandler {
    return async (req, res) => {
      noStore(res);
      const access = await authenticate(req, res, action, req.path);
      if (!access) return;
      const who = whoOf(access, req);
      const csrf = crossOriginProblem(originHeaders(req));
      if (csrf) return refuse(req, res, action, who, 403, 'cross_origin', `Refused: ${csrf}.`);
      if (!access.allowed) return refuse(req, res, action, who, access.status, access.code, access.message);
      const bodyProblem = problemWithBody(req, res);
      if (bodyProblem) return refuse(req, res, action, who, bodyProblem.status, bodyProblem.code, bodyProblem.message);
      const parsed = schema.safeParse(req.body);
      if (!parsed.success) return refuse(req, res, action, who, 400, 'bad_request', `Invalid request: ${describeIssues(parsed.error)}.`);
      try {
        res.json(ok(await run(who, parsed.data)));
      } catch (err) {
        if (err instanceof AdminError) return refuse(req, res, action, who, err.status, err.code, err.message);
        const message = refusalOf(err)
          ? `Redis refused it: lockscope's Redis user may not do what this action needs (${(err as Error).message}). Nothing was changed; grant the admin ACL rule (README, "ACL users").`
          : `Redis did not answer (${(err as Error).message}): nothing was changed, or the change could not be confirmed.`;
        await audit.record({ action, ...who, ...attempted(req.body), result: 'failed', error: { code: 'redis_unavailable', message } });
        res.status(503).json(fail('redis_unavailable', message));
      }
    };
  }

  let document: OpenApiDocument | null = null;
  router.get('/openapi.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.json((document ??= openApiDocument({ version: deps.version, basePath: deps.basePath })));
  });

  router.get('/session', async (req, res) => {
    noStore(res);
    const access = await authenticate(req, res, 'auth', 'GET /api/session');
    if (access) res.json(ok(auth.describeAccess(access)));
  });

  router.post('/session', jsonBody(BODY_LIMIT), async (req, res) => {
    noStore(res);
    const who: Who = { actor: 'anonymous', ip: ipOf(req) };
    const throttled = auth.mode.mode === 'token' ? auth.limiter?.throttled(who.ip) : null;
    if (throttled) return throttledReply(req, res, 'login', throttled);
    const csrf = crossOriginProblem(originHeaders(req));
    if (csrf) return refuse(req, res, 'login', who, 403, 'cross_origin', `Refused: ${csrf}.`);
    const { mode, reason } = auth.mode;
    if (mode === 'read-only') return refuse(req, res, 'login', who, 403, 'read_only', `Admin actions are disabled: ${reason}.`);
    if (mode === 'open') {
      return refuse(req, res, 'login', who, 409, 'login_not_needed', 'No ADMIN_TOKEN is set: admin actions need no login here (loopback only).');
    }
    const bodyProblem = problemWithBody(req, res);
    if (bodyProblem) return refuse(req, res, 'login', who, bodyProblem.status, bodyProblem.code, bodyProblem.message);
    const parsed = loginSchema.safeParse(req.body);
    if (!parsed.success) return refuse(req, res, 'login', who, 400, 'bad_request', `Invalid request: ${describeIssues(parsed.error)}.`);
    if (!auth.matches(parsed.data.token)) {
      auth.limiter?.fail(who.ip);
      return refuse(req, res, 'login', who, 401, 'unauthorized', 'Wrong admin token.');
    }
    const { id, session } = auth.sessions.create();
    res.setHeader(
      'Set-Cookie',
      stringifySetCookie(SESSION_COOKIE, id, {
        httpOnly: true,
        sameSite: 'strict',
        path: cookiePath,
        secure: req.secure,
        maxAge: Math.floor((session.expiresAt - session.createdAt) / 1000),
      }),
    );
    await audit.record({ action: 'login', actor: sessionFingerprint(session), ip: who.ip, result: 'logged-in' });
    res.json(ok(auth.describe({ ...credentials(req), cookie: `${SESSION_COOKIE}=${id}` })));
  });

  router.delete('/session', async (req, res) => {
    noStore(res);
    const creds = credentials(req);
    const access = await authenticate(req, res, 'auth', 'DELETE /api/session');
    if (!access) return;
    const who = whoOf(access, req);
    const csrf = crossOriginProblem(originHeaders(req));
    if (csrf) return refuse(req, res, 'logout', who, 403, 'cross_origin', `Refused: ${csrf}.`);
    if (auth.sessions.delete(sessionIdFrom(creds.cookie))) {
      await audit.record({ action: 'logout', ...who, result: 'logged-out' });
    }
    res.setHeader('Set-Cookie', stringifySetCookie(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: cookiePath, secure: req.secure, maxAge: 0 }));
    res.json(ok(auth.describe({ ...creds, cookie: undefined })));
  });

  router.post(
    '/locks/release',
    actionLimit,
    jsonBody(BODY_LIMIT),
    adminAction('release', releaseSchema, async (who, body): Promise<ReleaseResponse> => {
      const key = keyBytes(body);
      const owner = ownerBytes(body);
      const { target, admin } = locks.of(body.target);
      const { outcome, library } = await admin.release(key, owner, body.scope);
      const entry = await audit.record({
        action: 'release',
        ...who,
        target,
        key,
        ownerSeen: owner,
        result: outcome.result,
        currentOwner: ownerFound(outcome, owner),
        woke: outcome.result === 'released' ? outcome.woke : null,
        reason: body.reason,
        detail: scopeDetail(body.scope, outcome),
      });
      return { ...outcome, target, key: bytesView(key), library, auditId: entry.id };
    }),
  );

  router.post(
    '/locks/release-bulk',
    actionLimit,
    jsonBody(BULK_BODY_LIMIT),
    adminAction('release', bulkReleaseSchema, async (who, body): Promise<BulkReleaseResponse> => {
      const bulkId = `bulk-${randomBytes(6).toString('hex')}`;
      const results: BulkReleaseItem[] = [];
      const { target, admin } = locks.of(body.target);
      // One at a time, in order: each lock is checked on its own, and the audit log reads in request order.
      for (const lock of body.locks) {
        const key = keyBytes(lock);
        const owner = ownerBytes(lock);
        const base = { action: 'release' as const, ...who, target, key, ownerSeen: owner, reason: body.reason, bulkId };
        try {
          const { outcome, library } = await admin.release(key, owner);
          const entry = await audit.record({
            ...base,
            result: outcome.result,
            currentOwner: ownerFound(outcome, owner),
            woke: outcome.result === 'released' ? outcome.woke : null,
          });
          results.push({ ok: true, ...outcome, target, key: bytesView(key), library, auditId: entry.id });
        } catch (err) {
          const known = err instanceof AdminError;
          const error = known
            ? { code: err.code, message: err.message }
            : { code: 'redis_unavailable', message: `Redis did not answer (${(err as Error).message}).` };
          const entry = await audit.record({ ...base, result: known ? 'refused' : 'failed', error });
          results.push({ ok: false, key: bytesView(key), error, auditId: entry.id });
        }
      }
      const count = (r: string) => results.filter((x) => x.ok && x.result === r).length;
      return {
        results,
        released: count('released'),
        ownerChanged: count('owner-changed'),
        alreadyGone: count('already-gone'),
        shared: count('shared'),
        failed: results.filter((x) => !x.ok).length,
        bulkId,
      };
    }),
  );

  router.post(
    '/locks/ttl',
    actionLimit,
    jsonBody(BODY_LIMIT),
    adminAction('set-ttl', setTtlSchema, async (who, body): Promise<SetTtlResponse> => {
      const key = keyBytes(body);
      const owner = ownerBytes(body);
      const { target, admin } = locks.of(body.target);
      const { outcome, library } = await admin.setTtl(key, owner, body.ttlMs);
      const entry = await audit.record({
        action: 'set-ttl',
        ...who,
        target,
        key,
        ownerSeen: owner,
        result: outcome.result,
        currentOwner: ownerFound(outcome, owner),
        ttlMs: body.ttlMs,
        reason: body.reason,
      });
      return { ...outcome, target, key: bytesView(key), library, auditId: entry.id };
    }),
  );

  router.get('/audit', async (req, res) => {
    noStore(res);
    const access = await authenticate(req, res, 'auth', 'GET /api/audit');
    if (!access) return;
    if (!access.allowed) return void res.status(access.status).json(fail(access.code, access.message));
    const query = auditQuerySchema.safeParse(req.query);
    if (!query.success) return void res.status(400).json(fail('bad_request', `Invalid query: ${describeIssues(query.error, 'query')}.`));
    try {
      res.json(ok(await audit.list(query.data.count, query.data.before)));
    } catch (err) {
      res.status(503).json(fail('redis_unavailable', `Could not read the audit log: ${(err as Error).message}.`));
    }
  });

  // Errors nothing above caught (none expected): answer in the API's shape, never with an HTML page or a stack.
  router.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ err: err.message }, 'admin route failed');
    if (!res.headersSent) res.status(500).json(fail('internal', 'The server failed to handle this request; see its log.'));
  });

  return Object.assign(router, { dispose: () => stores.forEach((s) => s.shutdown()) });
}

/**
 * JSON parsing that never throws into Express: a parse or size error is kept for the handler, which audits it
 * and answers with a Result (400 bad_json / 413 body_too_large).
 */
function jsonBody(limit: string): RequestHandler {
  const parse = express.json({ limit, strict: false });
  return (req, res, next) => {
    parse(req, res, (err?: unknown) => {
      if (err) res.locals.bodyError = err;
      next();
    });
  };
}

function problemWithBody(req: Request, res: Response): { status: number; code: AdminErrorCode; message: string } | null {
  const err = res.locals.bodyError as { type?: string; limit?: number; message?: string } | undefined;
  if (err?.type === 'entity.too.large') {
    return { status: 413, code: 'body_too_large', message: `The request body is larger than ${err.limit ?? ''} bytes: nothing was changed.` };
  }
  if (err) return { status: 400, code: 'bad_json', message: `The request body is not valid JSON (${err.message ?? 'parse error'}).` };
  if (!req.is('application/json')) {
    return { status: 415, code: 'unsupported_media_type', message: 'Send the body as JSON with "Content-Type: application/json".' };
  }
  return null;
}

export function credentials(req: Request): Credentials {
  return { host: req.headers.host, authorization: req.headers.authorization, cookie: req.headers.cookie };
}

function originHeaders(req: Request) {
  const site = req.headers['sec-fetch-site'];
  // req.host: X-Forwarded-Host when a trusted proxy sent it (TRUST_PROXY), else Host.
  return { origin: req.headers.origin, host: req.host, secFetchSite: Array.isArray(site) ? site[0] : site };
}

function whoOf(access: Access, req: Request): Who {
  return { actor: access.allowed ? access.actor : 'anonymous', ip: ipOf(req) };
}

function ipOf(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? '';
}

function actionOf(req: Request): AuditAction {
  if (req.path === '/locks/ttl') return 'set-ttl';
  return 'release';
}

function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
}

/** For the audit log: what a release of one holder, or of every holder, did. */
function scopeDetail(scope: ReleaseScope | undefined, outcome: ReleaseOutcome): string | null {
  if (scope === undefined || scope === 'lock') return null;
  const what = scope === 'holder' ? 'one holder' : 'every holder';
  return outcome.result === 'released' && outcome.freed ? `${what}: freed ${outcome.freed.count}` : what;
}

/** For the audit log: the owner found instead of the one named (`owner-changed`), or another holder (`shared`). */
function ownerFound(outcome: ReleaseOutcome | SetTtlOutcome, named: Buffer): BytesView | null {
  if (outcome.result === 'owner-changed') return outcome.currentOwner;
  if (outcome.result === 'shared') return outcome.holders.find((h) => !Buffer.from(h.base64, 'base64').equals(named)) ?? null;
  return null;
}
