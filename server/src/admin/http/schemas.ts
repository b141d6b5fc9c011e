import { z } from 'zod';
import { visibleText } from '../../../../shared/visible-text';
import {
  BULK_RELEASE_MAX,
  REASON_MAX_CHARS,
  SET_TTL_MAX_MS,
  SET_TTL_MIN_MS,
  type BulkReleaseRequest,
  type LockTarget,
  type LoginRequest,
  type ReleaseRequest,
  type SetTtlRequest,
} from '../../../../shared/admin';

/** Canonical, padded standard base64 (what the server sends in `BytesView.base64`). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Keys and owners longer than this are not locks anyone types or clicks (and must fit the 16 KB body anyway). */
const MAX_TEXT = 8192;
const MAX_BASE64 = Math.ceil(MAX_TEXT / 3) * 4;
// eslint-disable-next-line no-control-regex
const CONTROL_EXCEPT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** "is required" when the field is missing, "must be <what>" when it has the wrong type. */
const typed = (what: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`),
});

/** Names the caller sent, quoted for an error message: at most 5, each at most 100 characters, as they may be shown. */
const names = (keys: string[]) =>
  keys
    .slice(0, 5)
    .map((k) => `"${visibleText(k.length > 100 ? `${k.slice(0, 100)}…` : k)}"`)
    .join(', ') + (keys.length > 5 ? ` and ${keys.length - 5} more` : '');

const object = {
  error: (issue: { code?: string; keys?: string[] }) =>
    issue.code === 'unrecognized_keys'
      ? `unknown field${issue.keys!.length > 1 ? 's' : ''} ${names(issue.keys!)}`
      : 'must be a JSON object',
};

const base64 = z
  .string(typed('a base64 string'))
  .max(MAX_BASE64, { message: `must be at most ${MAX_BASE64} characters` })
  .regex(BASE64, { message: 'must be base64 (standard alphabet, with padding)' });

const targetShape = {
  key: z.string(typed('a string')).min(1, { message: 'must not be empty' }).max(MAX_TEXT, { message: `must be at most ${MAX_TEXT} characters` })
    .optional()
    .meta({ description: 'The key as UTF-8 text.' }),
  keyBase64: base64
    .min(1, { message: 'must not be empty' })
    .optional()
    .meta({ description: "The key's exact bytes, base64 (`LockView.key.base64`): binary-safe, what the UI sends." }),
  expectedOwner: z
    .string(typed('a string'))
    .min(1, { message: 'must not be empty: name the owner you saw (the lock\'s value, or its holder field)' })
    .max(MAX_TEXT, { message: `must be at most ${MAX_TEXT} characters` })
    .optional()
    .meta({ description: "The owner you saw, as UTF-8 text: a string lock's value, or a hash lock's holder field (Redisson: `<client uuid>:<thread id>`)." }),
  expectedOwnerBase64: base64
    .min(1, { message: 'must not be empty: name the owner you saw' })
    .optional()
    .meta({ description: 'The same owner as exact bytes, base64 (`LockView.owner.base64`).' }),
};

const reason = z
  .string(typed('a string'))
  .trim()
  .min(1, { message: 'is required: say why (it goes into the audit log)' })
  .max(REASON_MAX_CHARS, { message: `must be at most ${REASON_MAX_CHARS} characters` })
  .refine((v) => !CONTROL_EXCEPT_WHITESPACE.test(v), { message: 'must be plain text (no control characters)' })
  .meta({ description: 'Why: free text, kept in the audit log.' });

/** `target`: a watched target's id (the name in REDIS_URL, or `default`); absent = the first target. */
const targetId = z
  .string(typed('a target id (a string)'))
  .min(1, { message: 'must not be empty' })
  .max(64, { message: 'must be at most 64 characters' })
  .optional();

type TargetInput = { [K in keyof typeof targetShape]?: string };

/** Run the pair check even when other fields already failed, so one answer names every missing field. */
const always = { when: (p: { value: unknown }) => typeof p.value === 'object' && p.value !== null && !Array.isArray(p.value) };

function exactlyOneOf(t: TargetInput, ctx: z.RefinementCtx): void {
  const pairs = [
    ['key', 'keyBase64'],
    ['expectedOwner', 'expectedOwnerBase64'],
  ] as const;
  for (const [text, b64] of pairs) {
    if (t[text] === undefined && t[b64] === undefined) {
      ctx.addIssue({ code: 'custom', path: [text], message: `is required (or ${b64})` });
    } else if (t[text] !== undefined && t[b64] !== undefined) {
      ctx.addIssue({ code: 'custom', path: [text], message: `give ${text} or ${b64}, not both` });
    }
  }
}

/** `exactlyOneOf` for readers of the JSON Schema (OpenAPI): zod refinements have no JSON Schema form of their own. */
const oneOfEachPair = {
  allOf: [
    { oneOf: [{ required: ['key'] }, { required: ['keyBase64'] }] },
    { oneOf: [{ required: ['expectedOwner'] }, { required: ['expectedOwnerBase64'] }] },
  ],
};

const scope = z
  .enum(['lock', 'holder', 'all'], { error: 'must be "lock", "holder" (free the named holder alone) or "all" (every holder)' })
  .optional()
  .meta({
    description:
      'What to free: `lock` (default) the lock its owner holds; `holder` only the holder named in expectedOwner of a lock several hold (a semaphore permit, a reader); `all` every holder, where the library allows it.',
  });

export const lockTargetSchema = z
  .strictObject(targetShape, object)
  .superRefine(exactlyOneOf, always)
  .meta({ description: 'A lock and the owner the caller saw: exactly one of key/keyBase64 and one of expectedOwner/expectedOwnerBase64.', ...oneOfEachPair });

export const releaseSchema = z
  .strictObject({ ...targetShape, target: targetId, reason, scope }, object)
  .superRefine(exactlyOneOf, always)
  .meta(oneOfEachPair) satisfies z.ZodType<ReleaseRequest>;

export const setTtlSchema = z
  .strictObject(
    {
      ...targetShape,
      target: targetId,
      ttlMs: z
        .number(typed('a number (milliseconds)'))
        .int({ message: 'must be a whole number of milliseconds' })
        .min(SET_TTL_MIN_MS, { message: `must be at least ${SET_TTL_MIN_MS} ms` })
        .max(SET_TTL_MAX_MS, { message: `must be at most ${SET_TTL_MAX_MS} ms (30 days)` }),
      reason,
    },
    object,
  )
  .superRefine(exactlyOneOf, always)
  .meta(oneOfEachPair) satisfies z.ZodType<SetTtlRequest>;

export const bulkReleaseSchema = z.strictObject(
  {
    locks: z
      .array(lockTargetSchema, typed('an array of locks'))
      .min(1, { message: 'must name at least one lock' })
      .max(BULK_RELEASE_MAX, { message: `must name at most ${BULK_RELEASE_MAX} locks` }),
    target: targetId,
    reason,
  },
  object,
) satisfies z.ZodType<BulkReleaseRequest>;

export const loginSchema = z.strictObject(
  { token: z.string(typed('a string')).min(1, { message: 'is required' }).max(1024, { message: 'is too long' }) },
  object,
) satisfies z.ZodType<LoginRequest>;

export const auditQuerySchema = z.strictObject(
  {
    count: z.coerce
      .number({ message: 'must be a number' })
      .int({ message: 'must be a whole number' })
      .min(1, { message: 'must be at least 1' })
      .max(1000, { message: 'must be at most 1000' })
      .default(100)
      .meta({ description: 'Entries per page.' }),
    before: z
      .string()
      .regex(/^\d{1,20}-\d{1,20}$/, { message: 'must be an audit entry id (<ms>-<seq>)' })
      .optional()
      .meta({ description: 'Entries older than this id (`nextBefore` of the previous page).' }),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `unknown parameter${issue.keys.length > 1 ? 's' : ''} ${names(issue.keys)}` : 'must be a query string',
  },
);

/** One sentence naming each bad field: `reason: is required; keyBase64: must be base64 …`. */
export function describeIssues(error: z.ZodError, root = 'body'): string {
  return error.issues
    .slice(0, 4)
    .map((issue) => `${fieldPath(issue.path, root)}: ${issue.message}`)
    .join('; ');
}

function fieldPath(path: PropertyKey[], root: string): string {
  if (!path.length) return root;
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/** The key bytes a validated target names. */
export function keyBytes(t: LockTarget): Buffer {
  return t.keyBase64 !== undefined ? Buffer.from(t.keyBase64, 'base64') : Buffer.from(t.key!, 'utf8');
}

/** The owner bytes a validated target names. */
export function ownerBytes(t: LockTarget): Buffer {
  return t.expectedOwnerBase64 !== undefined ? Buffer.from(t.expectedOwnerBase64, 'base64') : Buffer.from(t.expectedOwner!, 'utf8');
}

/** Best effort, for auditing a refused request: whatever key/owner/reason an unvalidated body names. */
export function attempted(body: unknown): {
  target: string | null;
  key: Buffer | null;
  ownerSeen: Buffer | null;
  reason: string | null;
  ttlMs: number | null;
} {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const bytes = (text: unknown, b64: unknown): Buffer | null => {
    if (typeof b64 === 'string' && BASE64.test(b64) && b64.length) return Buffer.from(b64.slice(0, MAX_BASE64), 'base64');
    if (typeof text === 'string') return Buffer.from(text.slice(0, MAX_TEXT), 'utf8');
    return null;
  };
  return {
    target: typeof b.target === 'string' && b.target ? b.target.slice(0, 64) : null,
    key: bytes(b.key, b.keyBase64),
    ownerSeen: bytes(b.expectedOwner, b.expectedOwnerBase64),
    reason: typeof b.reason === 'string' && b.reason.trim() ? b.reason.trim().slice(0, REASON_MAX_CHARS) : null,
    ttlMs: typeof b.ttlMs === 'number' && Number.isFinite(b.ttlMs) ? b.ttlMs : null,
  };
}
