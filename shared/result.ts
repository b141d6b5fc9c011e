/** Every acknowledgement and JSON API reply has this shape: data on success, a coded error otherwise. */
export type Result<T> = { ok: true; data: T } | { ok: false; error: ApiError };

export interface ApiError {
  /** Machine-readable, stable: e.g. `bad_request`, `unauthorized`, `not_found`, `redis_unavailable`. */
  code: string;
  /** One human sentence saying what went wrong and, where possible, what to do. */
  message: string;
}

export const ok = <T>(data: T): Result<T> => ({ ok: true, data });
export const fail = (code: string, message: string): Result<never> => ({ ok: false, error: { code, message } });
