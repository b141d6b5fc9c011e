import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';

export type LockscopeSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * One socket per page, same origin as the page (the server refuses other origins). Each (re)connect names the
 * target to show (`auth.target`), so a reconnect comes back to the same one.
 */
export function createSocket(target: () => string | null): LockscopeSocket {
  return io({
    transports: ['websocket', 'polling'],
    reconnectionDelayMax: 2000,
    auth: (cb) => {
      const t = target();
      cb(t ? { target: t } : {});
    },
  });
}
