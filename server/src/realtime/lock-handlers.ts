import type { Socket } from 'socket.io';
import { z } from 'zod';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import { fail, ok } from '../../../shared/result';
import type { LockTracker } from '../inspector/lock-tracker';

const lockId = z.string().min(1).max(10_000).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be a base64 key id');

/** `lock:*` requests from one browser. Every payload is validated; every request is answered. */
export function registerLockHandlers(
  socket: Socket<ClientToServerEvents, ServerToClientEvents>,
  deps: { tracker: LockTracker },
): void {
  socket.on('lock:history', (id, ack) => {
    if (typeof ack !== 'function') return;
    const parsed = lockId.safeParse(id);
    if (!parsed.success) return ack(fail('bad_request', `lock id ${parsed.error.issues[0]?.message ?? 'is invalid'}`));
    const history = deps.tracker.history(parsed.data);
    ack(history ? ok(history) : fail('not_found', 'lockscope is not tracking that lock (it may have been dropped).'));
  });
}
