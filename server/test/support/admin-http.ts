import type { AuditEntry } from '../../../shared/admin';
import type { Result } from '../../../shared/result';

export interface ApiReply<T> {
  status: number;
  body: Result<T>;
  headers: Headers;
}

export interface ApiInit {
  method?: string;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as-is (for malformed bodies). */
  raw?: string;
  contentType?: string;
  token?: string;
  cookie?: string;
  headers?: Record<string, string>;
}

/** One real HTTP request to the admin API, as a non-browser client (no Origin) unless headers say otherwise. */
export async function api<T = unknown>(baseUrl: string, path: string, init: ApiInit = {}): Promise<ApiReply<T>> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.json !== undefined || init.raw !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.cookie) headers.cookie = init.cookie;
  const res = await fetch(`${baseUrl}${path}`, {
    method: init.method ?? (init.json !== undefined || init.raw !== undefined ? 'POST' : 'GET'),
    headers,
    body: init.raw ?? (init.json !== undefined ? JSON.stringify(init.json) : undefined),
  });
  return { status: res.status, body: (await res.json()) as Result<T>, headers: res.headers };
}

/** The data of a successful reply, or a thrown error showing the reply. */
export function data<T>(reply: ApiReply<T>): T {
  if (!reply.body.ok) throw new Error(`expected ok, got ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.data;
}

/** Newest audit entries (bearer token). */
export async function auditEntries(baseUrl: string, token: string, count = 20): Promise<AuditEntry[]> {
  return data(await api<{ entries: AuditEntry[] }>(baseUrl, `/api/audit?count=${count}`, { token })).entries;
}

export const b64 = (v: string | Buffer): string => (typeof v === 'string' ? Buffer.from(v) : v).toString('base64');
