/**
 * The admin contract: force-release, set TTL, sessions and the audit log. Every HTTP endpoint here answers
 * with a `Result<T>` (shared/result.ts); the HTTP status says the same thing for non-browser clients.
 *
 * | method + path                 | body                  | `data` on success      | failures (status, error.code)                       |
 * |-------------------------------|-----------------------|------------------------|-----------------------------------------------------|
 * | `GET    /api/session`         | —                     | `SessionInfo`          | 429 (a bearer token sent while over the login limit) |
 * | `POST   /api/session`         | `LoginRequest`        | `SessionInfo` + cookie | 401 unauthorized, 403 read_only, 409 login_not_needed, 429 |
 * | `DELETE /api/session`         | —                     | `SessionInfo`          | 403 cross_origin                                    |
 * | `POST   /api/locks/release`   | `ReleaseRequest`      | `ReleaseResponse`      | see `AdminErrorCode`                                |
 * | `POST   /api/locks/release-bulk` | `BulkReleaseRequest` | `BulkReleaseResponse` | as release, for the request as a whole            |
 * | `POST   /api/locks/ttl`       | `SetTtlRequest`       | `SetTtlResponse`       | see `AdminErrorCode`                                |
 * | `GET    /api/audit?count=N&before=ID` | —             | `AuditPage`            | 401, 403 read_only, 429                             |
 *
 * Every other answer under `/api` is a `Result` error too: an unknown path 404 `not_found`, a known path with a
 * method it does not take 405 `method_not_allowed` (with an `Allow` header), a malformed request 400
 * `bad_request`; OPTIONS answers 204 with `Allow`, HEAD as GET without a body.
 *
 * Failed logins are limited per client address (10 per 5 minutes by default), and every wrong token counts,
 * wherever it is sent: the login body, `Authorization: Bearer` on any route, or a Socket.IO handshake's
 * `auth.token`. Over the limit, every token from that address is refused with 429 `rate_limited` (a handshake
 * with a `rate_limited` connect error) until the window ends, the right token included.
 *
 * "Owner changed" and "already gone" are answers, not errors: they come with `ok: true` and status 200, because
 * the server did exactly what was asked (check, then delete only if unchanged). Errors mean nothing was tried.
 */
import type { BytesView, LibraryId } from './locks';
import type { ApiError } from './result';

/** Name of the session cookie (HttpOnly, SameSite=Strict, Path=/; Secure when served over https). */
export const SESSION_COOKIE = 'lockscope_session';

/** Redis stream (of the inspected Redis) that keeps the audit log, capped at about `AUDIT_MAX_ENTRIES`. */
export const AUDIT_STREAM = 'lockscope:audit';
export const AUDIT_MAX_ENTRIES = 10_000;

/** Most locks one bulk release may name. */
export const BULK_RELEASE_MAX = 500;
/** Most characters of a reason. */
export const REASON_MAX_CHARS = 500;
/** Bounds of the TTL that "Set TTL" may give, in ms. */
export const SET_TTL_MIN_MS = 100;
export const SET_TTL_MAX_MS = 30 * 24 * 3600 * 1000;

/**
 * How this lockscope was started, for admin actions:
 * - `token`: an admin token is configured; callers log in (cookie) or send `Authorization: Bearer <token>`.
 * - `open`: embedded Redis and lockscope listens on loopback only: admin works without a token (from loopback
 *   host names only, which defeats DNS rebinding).
 * - `read-only`: no admin action is possible (see `SessionInfo.reason`).
 */
export type AdminMode = 'token' | 'open' | 'read-only';

/**
 * What this caller may do right now:
 * - `allowed`: show the admin buttons.
 * - `login-required`: show a login prompt (POST /api/session with the token).
 * - `read-only`: hide the admin buttons and show `reason`.
 */
export type AdminAccess = 'allowed' | 'login-required' | 'read-only';

/** `GET /api/session`: what the UI needs to decide whether to show admin buttons, and why not. */
export interface SessionInfo {
  admin: AdminAccess;
  mode: AdminMode;
  /** One sentence for the UI when `admin` is not `allowed`, e.g. "external Redis and no ADMIN_TOKEN". */
  reason?: string;
  /** How an `allowed` caller is authorised: session cookie, bearer token, or `open` mode (no token needed). */
  via?: 'session' | 'bearer' | 'open';
  /** When the session cookie stops working (epoch ms, server clock); only with `via: 'session'`. */
  expiresAt?: number;
}

/** `POST /api/session` body. */
export interface LoginRequest {
  /** The admin token (ADMIN_TOKEN, or the text whose SHA-256 is ADMIN_TOKEN_SHA256). */
  token: string;
}

/**
 * Names a lock and the owner the caller saw. Give exactly one of `key`/`keyBase64` and exactly one of
 * `expectedOwner`/`expectedOwnerBase64`. The UI should always send the base64 forms from `LockView.key.base64`
 * and `LockView.owner.base64` (exact bytes, binary-safe); the text forms are for humans with curl.
 */
export interface LockTarget {
  /** The key as UTF-8 text. */
  key?: string;
  /** The key's exact bytes, base64 (`LockView.id` / `LockView.key.base64`). */
  keyBase64?: string;
  /**
   * The owner the caller saw, as UTF-8 text: the string value of a string lock, or the holder's hash field of a
   * hash lock (Redisson: `<client uuid>:<thread id>`).
   */
  expectedOwner?: string;
  /** The same, as exact bytes in base64 (`LockView.owner.base64`). */
  expectedOwnerBase64?: string;
}

/**
 * Which watched Redis deployment an action is for: a target id (`TargetStatus.id`, the name given in REDIS_URL, or
 * `default`). Optional: without it, the first target.
 */
export interface TargetChoice {
  target?: string;
}

/**
 * What a release frees, on a lock that several hold at once (a semaphore, a read lock shared by readers):
 * - `lock` (the default): the whole lock, only if the named owner holds it alone; with other holders the answer is
 *   `shared` and nothing is deleted (every lock with one owner is released this way).
 * - `holder`: only the named holder (`expectedOwner` = its token, `HolderView.token`), as its own release would;
 *   every other holder keeps its claim. `already-gone` when that holder no longer holds it.
 * - `all`: every holder at once, provided the named one still holds it (proof the lock is still the one the caller
 *   looked at) and the library's format allows it (`HoldersView.releaseAll`).
 */
export type ReleaseScope = 'lock' | 'holder' | 'all';

/** `POST /api/locks/release` body. */
export interface ReleaseRequest extends LockTarget, TargetChoice {
  /** Why: required free text (1–500 characters), kept in the audit log. */
  reason: string;
  /** What to free on a lock several hold at once; default `lock`. */
  scope?: ReleaseScope;
}

/** `POST /api/locks/ttl` body: give a TTL to a lock that has none (the gentle fix for a stuck lock). */
export interface SetTtlRequest extends LockTarget, TargetChoice {
  /** The TTL to set, in ms (`SET_TTL_MIN_MS`..`SET_TTL_MAX_MS`). */
  ttlMs: number;
  /** Why: required free text, kept in the audit log. */
  reason: string;
}

/** `POST /api/locks/release-bulk` body: each lock is checked and released on its own (all on one target). */
export interface BulkReleaseRequest extends TargetChoice {
  /** 1..`BULK_RELEASE_MAX` locks, each with the owner the caller saw. */
  locks: LockTarget[];
  /** One reason for all of them. */
  reason: string;
}

/**
 * How waiters were woken after a release, the library's own way:
 * - `redisson-channel`: PUBLISH on `redisson_lock__channel:{name}` (message 0), or for a read-write lock on
 *   `redisson_rwlock:{name}` (message 1, which wakes every waiter).
 * - `redisson-fair-queue`: a Redisson fair lock (it has a `redisson_lock_queue:{name}`): as its own unlock does,
 *   waiters whose wait has ended are dropped from the head of the queue (and `redisson_lock_timeout:{name}`), and
 *   the first in line is woken on its own channel, `redisson_lock__channel:{name}:<its id>` (message 0).
 * - `python-redis-lock-signal`: `LPUSH lock-signal:<name> 1` (the list expires after 1000 ms, as the library does).
 * - `spring-channel`: Spring Integration `RedisLockRegistry` in pub/sub mode: `PUBLISH <registryKey>-channel:<key>`
 *   with the full lock key as the message (its waiters pattern-subscribe to `<registryKey>-channel:*` and match the
 *   message against their own key). The registry key is the part of the key before a `:`; since it may itself
 *   contain `:`, every such split is published on (at most 8), which wakes nothing but waiters of this very key.
 * - `redisson-semaphore-channel`: a Redisson permit-expirable semaphore: the freed permits go back to its counter
 *   (`INCRBY <name>`) and the new count is published on `redisson_sc:{name}`, as its own release does.
 * - `simple-redis-mutex-channel`: `PUBLISH @simple-redis-mutex:locks-releases {"key": …, "value": …}`, the message
 *   its waiters (one subscriber per process, for every lock) match by key.
 * - `declared-channel`: the channel a format declared in `LOCK_FORMATS` names (`onRelease.publish`).
 * - null: the library has no wake-up mechanism (its waiters poll), or it is not known.
 */
export type WakeMethod =
  | 'redisson-channel'
  | 'redisson-fair-queue'
  | 'python-redis-lock-signal'
  | 'spring-channel'
  | 'redisson-semaphore-channel'
  | 'simple-redis-mutex-channel'
  | 'declared-channel';

/** What a force-release did. Nothing is ever deleted unless the owner was still the one the caller named. */
export type ReleaseOutcome =
  | {
      result: 'released';
      /** How waiters were woken, or null when the library has no wake-up mechanism. */
      woke: WakeMethod | null;
      /** How the delete was made atomic: Redis's `DELEX key IFEQ owner`, or lockscope's compare-and-delete Lua script. */
      via: 'delex' | 'lua';
      /**
       * On a lock several hold at once: the holders freed (`scope: 'holder'`: the one named; `all`: every one, at
       * most 32 listed) and how many that was. Absent on a lock with one owner.
       */
      freed?: { holders: BytesView[]; count: number };
    }
  | {
      /** The lock has another owner now: nothing was deleted. */
      result: 'owner-changed';
      /**
       * The owner holding it now (string: a prefix of at most 512 bytes; hash: the holder field), or null when a
       * hash has no readable holder field.
       */
      currentOwner: BytesView | null;
    }
  | {
      /**
       * The named owner holds it, but not alone (other readers of a Redisson read-write lock, other holders of a
       * semaphore): nothing was deleted, since deleting the key would take it from them too. Free the one holder
       * (`scope: 'holder'`) or, where allowed, all of them (`scope: 'all'`).
       */
      result: 'shared';
      /** Every holder field found (at most 32). */
      holders: BytesView[];
    }
  | {
      /** The key no longer exists (released or expired meanwhile): nothing to do. */
      result: 'already-gone';
    };

export type ReleaseResult = ReleaseOutcome['result'];

/** Common to the answers of one action on one lock. */
export interface LockActionMeta {
  /** The target acted on (`TargetStatus.id`). */
  target: string;
  /** The key acted on. */
  key: BytesView;
  /** The library lockscope recognised the lock as, read from Redis just before the action; null when it was not read. */
  library: LibraryId | null;
  /** Id of the audit entry written for this action (`AuditEntry.id`; the UI can match the live `admin:audit` event by it). */
  auditId: string;
}

/** `POST /api/locks/release` answer. */
export type ReleaseResponse = ReleaseOutcome & LockActionMeta;

/** What a set-TTL did. */
export type SetTtlOutcome =
  | {
      /** The lock had no TTL and now has `ttlMs`. */
      result: 'ttl-set';
      /** The TTL set, in ms. */
      ttlMs: number;
    }
  | {
      /** The lock already has a TTL: nothing was changed (lockscope only fixes locks that would never expire). */
      result: 'has-ttl';
      /** Its remaining TTL in ms. */
      pttlMs: number;
    }
  | { result: 'owner-changed'; currentOwner: BytesView | null }
  | { result: 'already-gone' };

export type SetTtlResult = SetTtlOutcome['result'];

/** `POST /api/locks/ttl` answer. */
export type SetTtlResponse = SetTtlOutcome & LockActionMeta;

/** One lock's answer within a bulk release: the outcome, or why this lock was not tried. */
export type BulkReleaseItem =
  | ({ ok: true } & ReleaseResponse)
  | {
      ok: false;
      /** The key as sent (rendered safely), or null when it could not be decoded. */
      key: BytesView | null;
      error: ApiError;
      /** Id of the audit entry recording the refusal. */
      auditId: string;
    };

/** `POST /api/locks/release-bulk` answer: one item per requested lock, in request order. */
export interface BulkReleaseResponse {
  results: BulkReleaseItem[];
  /** Counts by result, for a one-line summary. */
  released: number;
  ownerChanged: number;
  alreadyGone: number;
  /** Shared by other holders: not deleted. */
  shared: number;
  /** Items that were not tried (unknown key, unsupported type, bad input, Redis error). */
  failed: number;
  /** Shared by the audit entries of this bulk release (`AuditEntry.bulkId`). */
  bulkId: string;
}

/**
 * Every admin action, including refused ones and logins, simulations started and stopped (refused attempts: the
 * first per address and window), plus two kinds of refused access:
 * - `auth`: a wrong bearer token on a route that is not an action (`GET /api/session`, `GET /api/audit`,
 *   `DELETE /api/session`), or a token sent while the address is over the failed-login limit;
 * - `connect`: a refused Socket.IO handshake (wrong `auth.token`, over the limit, or a cross-site Origin).
 * Wrong tokens are audited each (there can be at most the failed-login limit of them per address and window);
 * of the refusals that follow, and of cross-site handshakes, only the first per address and window.
 */
export type AuditAction = 'release' | 'set-ttl' | 'login' | 'logout' | 'auth' | 'connect' | 'sim-start' | 'sim-stop';

/**
 * The result column of the audit log: an outcome of the action, or `refused` (not tried: `error` says why, e.g.
 * `unauthorized`, `cross_origin`, `bad_request`), or `failed` (tried, but Redis failed).
 */
export type AuditResult =
  | ReleaseResult
  | SetTtlResult
  | 'logged-in'
  | 'logged-out'
  | 'started'
  | 'stopped'
  | 'refused'
  | 'failed';

/** One line of the audit log (`GET /api/audit`, socket event `admin:audit`). */
export interface AuditEntry {
  /** Redis stream id (`<ms>-<seq>`), unique and increasing; `log-<ms>-<n>` when Redis could not store it. */
  id: string;
  /** When (epoch ms, lockscope server clock). */
  at: number;
  action: AuditAction;
  /**
   * Who: `session:<8 hex>` (a fingerprint of the session, never the session id itself), `bearer` (API token),
   * `open` (open mode, no token), or `anonymous` (not authenticated: the action was refused).
   */
  actor: string;
  /** The client's IP address as the server saw it (behind a proxy named in TRUST_PROXY: the forwarded client's). */
  ip: string;
  /** The target (`TargetStatus.id`) of a lock action, or null (login/logout, simulator, refused before it was known). */
  target: string | null;
  /** The key acted on, or null (login/logout, or a request too malformed to name one). */
  key: BytesView | null;
  /** The owner the caller said it saw, or null. */
  ownerSeen: BytesView | null;
  result: AuditResult;
  /** For `owner-changed`: the owner found instead; for `shared`: another holder; otherwise null. */
  currentOwner: BytesView | null;
  /** For `refused`/`failed`: the error the caller got; otherwise null. */
  error: ApiError | null;
  /** The reason the caller gave (trimmed, at most 500 characters), or null when none was given. */
  reason: string | null;
  /** For set-TTL: the TTL asked for, in ms; otherwise null. */
  ttlMs: number | null;
  /** For `released`: how waiters were woken; otherwise null. */
  woke: WakeMethod | null;
  /** Shared by the entries of one bulk release; null for single actions. */
  bulkId: string | null;
  /**
   * For `sim-start`: the run's settings; for `sim-stop`: what the run did; for a release of one holder or of every
   * holder (`scope` `holder`/`all`): which, and how many were freed. Null otherwise.
   */
  detail: string | null;
}

/** `GET /api/audit` answer. */
export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** Pass as `before` to get the next (older) page; null when there is none. */
  nextBefore: string | null;
}

/**
 * Stable `error.code` values of the admin endpoints, with their HTTP status:
 * 400 `bad_json` (body is not JSON), 400 `bad_request` (a field is missing or invalid: the message names it),
 * 401 `unauthorized` (no or wrong token/session), 403 `cross_origin` (CSRF check), 403 `read_only`,
 * 403 `host_not_allowed` (open mode reached through a non-loopback host name), 404 `unknown_key` (the key matches
 * none of the lock patterns, is a library's helper key, or does not exist and was never tracked), 404
 * `unknown_target` (no watched target has that id), 409 `unsupported_type` (a type no lock library uses), 409
 * `release_not_allowed` (a declared format forbids force-release, the library does not allow freeing every holder
 * at once, or `scope` names holders of a lock with one owner), 409 `login_not_needed`,
 * 413 `body_too_large`, 415 `unsupported_media_type` (send `Content-Type: application/json`), 429 `rate_limited`,
 * 503 `redis_unavailable` (the action was audited as `failed`), 500 `internal` (a bug: see the server log).
 */
export type AdminErrorCode =
  | 'bad_json'
  | 'bad_request'
  | 'unauthorized'
  | 'cross_origin'
  | 'read_only'
  | 'host_not_allowed'
  | 'unknown_key'
  | 'unknown_target'
  | 'unsupported_type'
  | 'release_not_allowed'
  | 'login_not_needed'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'redis_unavailable'
  | 'internal';
