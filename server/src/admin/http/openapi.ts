import { z } from 'zod';
import { SESSION_COOKIE } from '../../../../shared/admin';
import {
  auditPageSchema,
  apiErrorSchema,
  auditEntrySchema,
  bulkReleaseResponseSchema,
  bytesViewSchema,
  errorResultSchema,
  okResult,
  releaseResponseSchema,
  sessionInfoSchema,
  setTtlResponseSchema,
} from './response-schemas';
import { auditQuerySchema, bulkReleaseSchema, lockTargetSchema, loginSchema, releaseSchema, setTtlSchema } from './schemas';

/** An OpenAPI 3.1 document (plain JSON). */
export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> };

interface Operation {
  method: 'get' | 'post' | 'delete';
  /** Under the mount point of the admin router (`/api`). */
  path: string;
  summary: string;
  description?: string;
  /** Whether credentials (token or session; none in open mode) decide what the caller gets. */
  credentials: boolean;
  /** Component id of the request body schema. */
  body?: string;
  /** Component id of the success reply (`Result` with this `data`), or null for a raw JSON document. */
  reply: string | null;
  /** HTTP statuses of the error replies (each a `Result` with `ok: false`). */
  errors: number[];
  setsCookie?: boolean;
}

const ACTION_ERRORS = [400, 401, 403, 404, 409, 413, 415, 429, 503];

/** Every route the admin router serves, documented. The test compares this with the router's own list. */
const OPERATIONS: Operation[] = [
  {
    method: 'get',
    path: '/session',
    summary: 'What this caller may do',
    description: 'Whether admin actions are possible here and for this caller, and why not. Never audited unless a wrong bearer token is sent.',
    credentials: true,
    reply: 'SessionInfo',
    errors: [429],
  },
  {
    method: 'post',
    path: '/session',
    summary: 'Log in with the admin token',
    description: `Sets the \`${SESSION_COOKIE}\` cookie (HttpOnly, SameSite=Strict). Only in \`token\` mode; wrong tokens count against the failed-login limit (10 per 5 minutes per address).`,
    credentials: false,
    body: 'LoginRequest',
    reply: 'SessionInfo',
    errors: [400, 401, 403, 409, 413, 415, 429],
    setsCookie: true,
  },
  {
    method: 'delete',
    path: '/session',
    summary: 'Log out',
    description: 'Ends the session of the cookie sent and clears the cookie.',
    credentials: true,
    reply: 'SessionInfo',
    errors: [403, 429],
    setsCookie: true,
  },
  {
    method: 'post',
    path: '/locks/release',
    summary: 'Force-release a lock',
    description:
      'Deletes the lock only if its owner is still the one named (atomically), then wakes its waiters the library\'s own way. ' +
      '`owner-changed`, `shared` and `already-gone` are answers (200), not errors. Audited.',
    credentials: true,
    body: 'ReleaseRequest',
    reply: 'ReleaseResponse',
    errors: ACTION_ERRORS,
  },
  {
    method: 'post',
    path: '/locks/release-bulk',
    summary: 'Force-release several locks',
    description: 'Each lock is checked and released on its own, in order; each item says what happened to it. One audit entry per lock.',
    credentials: true,
    body: 'BulkReleaseRequest',
    reply: 'BulkReleaseResponse',
    errors: [400, 401, 403, 413, 415, 429],
  },
  {
    method: 'post',
    path: '/locks/ttl',
    summary: 'Give a TTL to a lock that has none',
    description: 'The gentle fix for a stuck lock: only a lock without a TTL, still held by the owner named, gets one. Audited.',
    credentials: true,
    body: 'SetTtlRequest',
    reply: 'SetTtlResponse',
    errors: ACTION_ERRORS,
  },
  {
    method: 'get',
    path: '/audit',
    summary: 'The audit log, newest first',
    description: 'Pages of the `lockscope:audit` stream: pass `nextBefore` as `before` for older entries.',
    credentials: true,
    reply: 'AuditPage',
    errors: [400, 401, 403, 429, 503],
  },
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    credentials: false,
    reply: null,
    errors: [],
  },
];

const STATUS_TEXT: Record<number, string> = {
  400: '`bad_json` (the body is not JSON) or `bad_request` (a field is missing or invalid: the message names it)',
  401: '`unauthorized`: no or wrong token or session',
  403: '`cross_origin` (cross-site request), `read_only` (admin is off here) or `host_not_allowed` (no token, reached through a non-loopback host name)',
  404: '`unknown_key`: lockscope does not track that key as a lock',
  409: '`unsupported_type` (not a string or hash lock) or `login_not_needed` (open mode)',
  413: '`body_too_large`',
  415: '`unsupported_media_type`: send `Content-Type: application/json`',
  429: '`rate_limited`: too many admin requests, or too many wrong tokens, from this address (see `Retry-After`)',
  500: '`internal`: a bug; see the server log',
  503: '`redis_unavailable`: Redis did not answer (the action was audited as `failed`)',
};

/**
 * The admin HTTP API as OpenAPI 3.1, generated from the zod schemas that validate requests (schemas.ts) and describe
 * replies (response-schemas.ts). `basePath` is where lockscope is served (empty: at the root).
 */
export function openApiDocument({ version, basePath = '' }: { version: string; basePath?: string }): OpenApiDocument {
  const uri = (id: string) => `#/components/schemas/${id}`;
  const requests = z.registry<{ id: string }>();
  requests.add(loginSchema, { id: 'LoginRequest' });
  requests.add(lockTargetSchema, { id: 'LockTarget' });
  requests.add(releaseSchema, { id: 'ReleaseRequest' });
  requests.add(setTtlSchema, { id: 'SetTtlRequest' });
  requests.add(bulkReleaseSchema, { id: 'BulkReleaseRequest' });
  const replies = z.registry<{ id: string }>();
  const data = {
    SessionInfo: sessionInfoSchema,
    ReleaseResponse: releaseResponseSchema,
    SetTtlResponse: setTtlResponseSchema,
    BulkReleaseResponse: bulkReleaseResponseSchema,
    AuditPage: auditPageSchema,
  };
  for (const [id, schema] of Object.entries(data)) {
    replies.add(schema, { id });
    replies.add(okResult(schema), { id: `${id}Result` });
  }
  replies.add(bytesViewSchema, { id: 'BytesView' });
  replies.add(apiErrorSchema, { id: 'ApiError' });
  replies.add(auditEntrySchema, { id: 'AuditEntry' });
  replies.add(errorResultSchema, { id: 'ErrorResult' });
  const schemas = {
    ...components(z.toJSONSchema(requests, { io: 'input', uri, target: 'draft-2020-12' }).schemas),
    ...components(z.toJSONSchema(replies, { io: 'output', uri, target: 'draft-2020-12' }).schemas),
  };

  const paths: OpenApiDocument['paths'] = {};
  for (const op of OPERATIONS) {
    const path = `/api${op.path}`;
    paths[path] ??= {};
    paths[path][op.method] = operation(op);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'lockscope admin API',
      version,
      description:
        'Force-release, set TTL, sessions and the audit log of lockscope, a live dashboard for distributed locks in Redis. ' +
        'Every reply is a Result: `{ "ok": true, "data": … }`, or `{ "ok": false, "error": { "code", "message" } }` with the HTTP status saying the same. ' +
        'State-changing requests from browsers must be same-origin; API clients send `Authorization: Bearer <ADMIN_TOKEN>`. ' +
        'With the embedded Redis on loopback and no ADMIN_TOKEN ("open" mode), no credentials are needed from loopback host names.',
    },
    ...(basePath ? { servers: [{ url: basePath }] } : {}),
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The admin token (ADMIN_TOKEN).' },
        session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'Set by `POST /api/session`.' },
      },
    },
  };
}

/** Zod's per-schema JSON Schemas as OpenAPI components (which carry neither `$schema` nor `$id`). */
function components(schemas: Record<string, Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]));
}

function operation(op: Operation): Record<string, unknown> {
  const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });
  const cookie = op.setsCookie
    ? { headers: { 'Set-Cookie': { description: `\`${SESSION_COOKIE}\` (HttpOnly, SameSite=Strict; Secure over https)`, schema: { type: 'string' } } } }
    : {};
  const responses: Record<string, unknown> = {
    200: op.reply
      ? { description: 'Done: `data` says what happened.', content: json(`${op.reply}Result`), ...cookie }
      : { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } },
  };
  for (const status of [...op.errors, 500]) responses[status] = { description: STATUS_TEXT[status], content: json('ErrorResult') };
  // `{}`: open mode (embedded Redis, loopback, no ADMIN_TOKEN) needs no credentials.
  const security = op.credentials ? [{ bearer: [] }, { session: [] }, {}] : [];
  return {
    operationId: `${op.method}${op.path.replace(/\.json$/, '').replace(/[/-](\w)/g, (_m, c: string) => c.toUpperCase())}`,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    security,
    ...(op.path === '/audit' ? { parameters: queryParameters(auditQuerySchema) } : {}),
    ...(op.body ? { requestBody: { required: true, content: json(op.body) } } : {}),
    responses,
  };
}

function queryParameters(schema: z.ZodObject): Record<string, unknown>[] {
  const { properties = {}, required = [] } = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' }) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(properties).map(([name, s]) => ({ name, in: 'query', required: required.includes(name), schema: s }));
}
