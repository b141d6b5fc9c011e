import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';

export type LockscopeSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * One socket per page, same origin as the page (the server refuses other origins). It connects when told to
 * (SocketProvider, once every listener is on): events that arrive with no listener are lost.
 */
export function createSocket(): LockscopeSocket {
  return io({ transports: ['websocket', 'polling'], reconnectionDelayMax: 2000, autoConnect: false });
}
