import { z } from 'zod';
import type {
  AdminErrorCode,
  AuditEntry,
  AuditPage,
  BulkReleaseResponse,
  ReleaseResponse,
  SessionInfo,
  SetTtlResponse,
} from '../../../../shared/admin';
import { BUILTIN_LIBRARIES, DECLARED_PREFIX, type BuiltinLibraryId } from '../../../../shared/libraries';
import type { BytesView, LibraryId } from '../../../../shared/locks';
import type { ApiError } from '../../../../shared/result';

/**
 * The admin API's replies as zod schemas, for the OpenAPI document (openapi.ts). The wire types stay TypeScript in
 * shared/admin.ts (shared/ imports nothing, and the browser bundle carries no zod); the checks at the bottom of
 * this file fail the build when a schema and its type drift apart, in either direction.
 */

const BUILTIN_IDS = Object.keys(BUILTIN_LIBRARIES) as [BuiltinLibraryId, ...BuiltinLibraryId[]];

const ADMIN_ERROR_CODES = [
  'bad_json',
  'bad_request',
  'unauthorized',
  'cross_origin',
  'read_only',
  'host_not_allowed',
  'unknown_key',
  'unknown_target',
  'unsupported_type',
  'release_not_allowed',
  'login_not_needed',
  'body_too_large',
  'unsupported_media_type',
  'rate_limited',
  'redis_unavailable',
  'internal',
] as const satisfies readonly AdminErrorCode[];

export const bytesViewSchema = z
  .object({
    text: z.string().meta({
      description:
        'What to show, as text only: the UTF-8 text when every character shows as itself; `\\u{XXXX}` for characters that would not (bidi controls, zero-width and other invisible characters), backslashes then doubled; `\\xNN` per byte when the bytes are not text (`binary`).',
    }),
    base64: z.string().meta({ description: 'The exact bytes, base64: send these (not `text`) back to the server, or copy them.' }),
    binary: z.boolean().meta({ description: 'True when the bytes are not text (invalid UTF-8 or control characters): `text` is `\\xNN`-escaped.' }),
    escaped: z.boolean().meta({ description: 'True when `text` is an escaped rendering rather than the literal text: `binary`, or `\\u{XXXX}` escapes.' }),
  })
  .meta({ description: 'Bytes from Redis, rendered safely (keys and values may be binary, or hide characters).' });

export const apiErrorSchema = z
  .object({
    code: z.string().meta({ description: `Stable, machine-readable. The admin endpoints use: ${ADMIN_ERROR_CODES.join(', ')}. Any path under /api also answers not_found (404: no such path), method_not_allowed (405, with Allow) and internal (500).`, examples: ['bad_request'] }),
    message: z.string().meta({ description: 'One human sentence saying what went wrong and, where possible, what to do.' }),
  })
  ;

/** Every error reply: `{ ok: false, error }` with the HTTP status saying the same. */
export const errorResultSchema = z.object({ ok: z.literal(false), error: apiErrorSchema });

/** The success envelope `{ ok: true, data }` of a Result. */
export const okResult = <T extends z.ZodType>(data: T) => z.object({ ok: z.literal(true), data });

/** A built-in library, or a format declared in LOCK_FORMATS as `declared:<its label>` (1–40 characters). */
const libraryId = z.union([
  z.enum(BUILTIN_IDS),
  z.templateLiteral([DECLARED_PREFIX, z.string().min(1).max(40)]).meta({ description: 'A format declared in LOCK_FORMATS: `declared:<its label>`.' }),
]);
const library = libraryId.nullable().meta({ description: 'The library lockscope recognised the lock as, read from Redis just before the action; null when it was not read.' });
const ownerOrNull = bytesViewSchema.nullable();

export const sessionInfoSchema = z
  .object({
    admin: z.enum(['allowed', 'login-required', 'read-only']).meta({ description: 'What this caller may do right now.' }),
    mode: z.enum(['token', 'open', 'read-only']).meta({ description: 'How this lockscope was started, for admin actions.' }),
    reason: z.string().optional().meta({ description: 'Why `admin` is not `allowed`, in one sentence.' }),
    via: z.enum(['session', 'bearer', 'open']).optional().meta({ description: 'How an `allowed` caller is authorised.' }),
    expiresAt: z.number().optional().meta({ description: 'When the session cookie stops working (epoch ms); only with `via: session`.' }),
  })
  ;

const meta = {
  target: z.string().meta({ description: 'The target acted on (`TargetStatus.id`: the name given in REDIS_URL, or `default`).' }),
  key: bytesViewSchema.meta({ description: 'The key acted on.' }),
  library,
  auditId: z.string().meta({ description: 'Id of the audit entry written for this action.' }),
};
const wakeMethod = z.enum([
  'redisson-channel',
  'redisson-fair-queue',
  'python-redis-lock-signal',
  'spring-channel',
  'redisson-semaphore-channel',
  'simple-redis-mutex-channel',
  'declared-channel',
]);

const released = z.object({
  result: z.literal('released'),
  woke: wakeMethod.nullable().meta({ description: 'How waiters were woken, the library\'s own way; null when it has no wake-up mechanism.' }),
  via: z.enum(['delex', 'lua']).meta({ description: 'How the compare-and-delete was made atomic.' }),
  freed: z
    .object({
      holders: z.array(bytesViewSchema).meta({ description: 'The holders freed (at most 32 listed).' }),
      count: z.number().int().meta({ description: 'How many holders were freed.' }),
    })
    .optional()
    .meta({ description: 'On a lock several hold at once: the holders freed (`scope: holder`: the one named; `all`: every one). Absent on a lock with one owner.' }),
});
const ownerChanged = z.object({
  result: z.literal('owner-changed'),
  currentOwner: ownerOrNull.meta({ description: 'The owner holding it now (nothing was deleted or changed).' }),
});
const shared = z.object({
  result: z.literal('shared'),
  holders: z.array(bytesViewSchema).meta({
    description: 'Every holder found: other readers or semaphore holders still hold it, so nothing was deleted (free one with `scope: holder`, or all with `scope: all` where allowed).',
  }),
});
const alreadyGone = z.object({ result: z.literal('already-gone') });

export const releaseResponseSchema = z
  .discriminatedUnion('result', [released.extend(meta), ownerChanged.extend(meta), shared.extend(meta), alreadyGone.extend(meta)])
  .meta({ description: 'What a force-release did. Nothing is deleted unless the owner was still the one named.' });

export const setTtlResponseSchema = z
  .discriminatedUnion('result', [
    z.object({ result: z.literal('ttl-set'), ttlMs: z.number().meta({ description: 'The TTL set, in ms.' }), ...meta }),
    z.object({ result: z.literal('has-ttl'), pttlMs: z.number().meta({ description: 'Its remaining TTL in ms: nothing was changed.' }), ...meta }),
    ownerChanged.extend(meta),
    alreadyGone.extend(meta),
  ])
  .meta({ description: 'What a set-TTL did (only a lock without a TTL gets one).' });

const succeeded = { ok: z.literal(true), ...meta };
const bulkItem = z.union([
  released.extend(succeeded),
  ownerChanged.extend(succeeded),
  shared.extend(succeeded),
  alreadyGone.extend(succeeded),
  z.object({
    ok: z.literal(false),
    key: ownerOrNull.meta({ description: 'The key as sent, or null when it could not be decoded.' }),
    error: apiErrorSchema,
    auditId: z.string(),
  }),
]);

export const bulkReleaseResponseSchema = z
  .object({
    results: z.array(bulkItem).meta({ description: 'One item per requested lock, in request order.' }),
    released: z.number().int(),
    ownerChanged: z.number().int(),
    alreadyGone: z.number().int(),
    shared: z.number().int(),
    failed: z.number().int().meta({ description: 'Items that were not tried (unknown key, unsupported type, bad input, Redis error).' }),
    bulkId: z.string().meta({ description: 'Shared by the audit entries of this bulk release.' }),
  })
  ;

const AUDIT_RESULTS = [
  'released',
  'owner-changed',
  'shared',
  'already-gone',
  'ttl-set',
  'has-ttl',
  'logged-in',
  'logged-out',
  'started',
  'stopped',
  'refused',
  'failed',
] as const satisfies readonly AuditEntry['result'][];

export const auditEntrySchema = z
  .object({
    id: z.string().meta({ description: 'Redis stream id (`<ms>-<seq>`); `log-<ms>-<n>` when Redis could not store it.' }),
    at: z.number().meta({ description: 'When (epoch ms, lockscope server clock).' }),
    action: z.enum(['release', 'set-ttl', 'login', 'logout', 'auth', 'connect', 'sim-start', 'sim-stop']),
    actor: z.string().meta({ description: '`session:<8 hex>`, `bearer`, `open` or `anonymous`.' }),
    target: z.string().nullable().meta({ description: 'The target of a lock action, or null (login/logout, simulator, refused before it was known).' }),
    ip: z.string(),
    key: ownerOrNull,
    ownerSeen: ownerOrNull,
    result: z.enum(AUDIT_RESULTS),
    currentOwner: ownerOrNull,
    error: apiErrorSchema.nullable(),
    reason: z.string().nullable(),
    ttlMs: z.number().nullable(),
    woke: wakeMethod.nullable(),
    bulkId: z.string().nullable(),
    detail: z.string().nullable().meta({ description: 'sim-start: the run\'s settings; sim-stop: what it did; a release of one or every holder: which, and how many were freed.' }),
  })
  ;

export const auditPageSchema = z
  .object({
    entries: z.array(auditEntrySchema).meta({ description: 'Newest first.' }),
    nextBefore: z.string().nullable().meta({ description: 'Pass as `before` for the next (older) page; null when there is none.' }),
  })
  ;

// Compile-time: each schema's output is exactly its wire type (both ways), so this file cannot drift from shared/.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies Same<z.output<typeof bytesViewSchema>, BytesView>;
true satisfies Same<z.output<typeof apiErrorSchema>, ApiError>;
true satisfies Same<z.output<typeof sessionInfoSchema>, SessionInfo>;
true satisfies Same<z.output<typeof releaseResponseSchema>, ReleaseResponse>;
true satisfies Same<z.output<typeof setTtlResponseSchema>, SetTtlResponse>;
true satisfies Same<z.output<typeof bulkReleaseResponseSchema>, BulkReleaseResponse>;
true satisfies Same<z.output<typeof auditEntrySchema>, AuditEntry>;
true satisfies Same<z.output<typeof auditPageSchema>, AuditPage>;
true satisfies Same<z.output<typeof libraryId>, LibraryId>;
true satisfies Same<(typeof ADMIN_ERROR_CODES)[number], AdminErrorCode>;
true satisfies Same<(typeof AUDIT_RESULTS)[number], AuditEntry['result']>;
