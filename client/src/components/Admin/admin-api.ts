import type {
  AuditPage,
  BulkReleaseRequest,
  BulkReleaseResponse,
  ReleaseRequest,
  ReleaseResponse,
  SessionInfo,
  SetTtlRequest,
  SetTtlResponse,
} from '../../../../shared/admin';
import type { Result } from '../../../../shared/result';
import { servedAt } from '../../lib/served-at';
import { useLockStore } from '../../store/lock-store';

/** Lock actions go to the target whose table is shown (the server's first when none is known yet). */
function onShownTarget<T extends object>(req: T): T & { target?: string } {
  const target = useLockStore.getState().target;
  return target ? { ...req, target } : req;
}

/** Calls one admin endpoint (`path` relative to the dashboard, see servedAt); network failures become a Result too, so every caller handles one shape. */
async function call<T>(method: string, path: string, body?: unknown): Promise<Result<T>> {
  try {
    const res = await fetch(servedAt(path), {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.json()) as Result<T>;
  } catch (err) {
    return { ok: false, error: { code: 'network', message: `The lockscope server did not answer (${(err as Error).message}).` } };
  }
}

export const adminApi = {
  session: () => call<SessionInfo>('GET', 'api/session'),
  login: (token: string) => call<SessionInfo>('POST', 'api/session', { token }),
  logout: () => call<SessionInfo>('DELETE', 'api/session'),
  release: (req: ReleaseRequest) => call<ReleaseResponse>('POST', 'api/locks/release', onShownTarget(req)),
  releaseBulk: (req: BulkReleaseRequest) => call<BulkReleaseResponse>('POST', 'api/locks/release-bulk', onShownTarget(req)),
  setTtl: (req: SetTtlRequest) => call<SetTtlResponse>('POST', 'api/locks/ttl', onShownTarget(req)),
  audit: (count = 200) => call<AuditPage>('GET', `api/audit?count=${count}`),
};
