import type { Socket } from 'socket.io';
import { z } from 'zod';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import { fail, ok } from '../../../shared/result';
import { isBacklogged } from './backlog';
import type { TargetViews } from './target-views';
import { visibleText } from '../../../shared/visible-text';

const lockId = z.string().min(1).max(10_000).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be a base64 key id');
const targetName = z.string().min(1).max(64);

/**
 * History replies (up to ~20 KB each) to one socket that may still wait in its send buffer: replies written since
 * engine.io last handed that buffer to the transport. A client that reads keeps this near 0.
 */
export const HISTORY_IN_FLIGHT_MAX = 16;
/**
 * Busy answers (~100 B each) to one socket since its buffer last drained. Past this the client is not reading at
 * all but keeps asking: it is disconnected and what was queued for it dropped.
 */
export const HISTORY_REFUSALS_MAX = 1000;

/**
 * `lock:*` requests from one browser: which target it views, and lock histories of that target. Every payload is validated; every request is answered. A client that does
 * not read its replies cannot make the server buffer without bound: past the stream's slow-client limit, or with
 * too many history replies still queued for it, it is answered `busy` (small), and past a hard cap disconnected.
 */
export function registerLockHandlers(
  socket: Socket<ClientToServerEvents, ServerToClientEvents>,
  deps: { views: TargetViews },
): void {
  socket.on('lock:view', (target, ack) => {
    if (typeof ack !== 'function') return;
    const parsed = targetName.safeParse(target);
    if (!parsed.success) return ack(fail('bad_request', 'target must be a target id (a string)'));
    if (!deps.views.has(parsed.data)) return ack(fail('not_found', `lockscope watches no target named "${visibleText(parsed.data.slice(0, 64))}".`));
    // Answered first: the new snapshot's parts follow the reply.
    ack(ok({ target: parsed.data }));
    deps.views.view(socket, parsed.data);
  });
  let inFlight = 0;
  let refused = 0;
  // Emitted each time engine.io hands its queued packets to the transport (synchronously when it is writable).
  socket.conn.on('drain', () => {
    inFlight = 0;
    refused = 0;
  });
  socket.on('lock:history', (id, ack) => {
    if (typeof ack !== 'function') return;
    if (inFlight >= HISTORY_IN_FLIGHT_MAX || isBacklogged(socket)) {
      if (++refused > HISTORY_REFUSALS_MAX) {
        const conn = socket.conn;
        socket.disconnect(true);
        conn.close(true); // discard what is queued instead of waiting for a client that does not read
        return;
      }
      return ack(fail('busy', 'This connection is behind on reading its replies: retry the history request in a moment.'));
    }
    const parsed = lockId.safeParse(id);
    if (!parsed.success) return ack(fail('bad_request', `lock id ${parsed.error.issues[0]?.message ?? 'is invalid'}`));
    const history = deps.views.targetOf(socket).tracker.history(parsed.data);
    // Counted before the reply is written: a writable transport drains (and resets the count) inside ack().
    inFlight++;
    ack(history ? ok(history) : fail('not_found', 'lockscope is not tracking that lock (it may have been dropped).'));
  });
}
