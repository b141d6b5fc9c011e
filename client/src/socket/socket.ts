import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';

export type LockscopeSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** One socket per page, same origin as the page (the server refuses other origins). */
export function createSocket(): LockscopeSocket {
  return io({ transports: ['websocket', 'polling'], reconnectionDelayMax: 2000 });
}
