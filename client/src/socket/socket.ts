import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import { servedAt } from '../lib/served-at';

export type LockscopeSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * One socket per page, same origin as the page (the server refuses other origins), at `socket.io/` beside the
 * page (under the dashboard's base path, not the root's `/socket.io/`). It connects when told to
 * (SocketProvider, once every listener is on): events that arrive with no listener are lost. Each (re)connect
 * names the target to show (`auth.target`), so a reconnect comes back to the same one.
 */
export function createSocket(target: () => string | null): LockscopeSocket {
  return io({
    path: servedAt('socket.io').pathname,
    transports: ['websocket', 'polling'],
    reconnectionDelayMax: 2000,
    autoConnect: false,
    auth: (cb) => {
      const t = target();
      cb(t ? { target: t } : {});
    },
  });
}
