import type { AdminErrorCode } from '../../../shared/admin';

/** A refusal with its HTTP status and stable code (shared/admin.ts `AdminErrorCode`). */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: AdminErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}
