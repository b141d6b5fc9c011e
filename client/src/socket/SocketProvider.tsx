import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { useLockStore } from '../store/lock-store';
import { createSocket, type LockscopeSocket } from './socket';

const SocketContext = createContext<LockscopeSocket | null>(null);

/** Owns the page's socket and feeds the store; every listener is named so cleanup removes exactly it. */
export function SocketProvider({ children }: { children: ReactNode }) {
  const [socket] = useState(createSocket);
  useEffect(() => {
    const store = useLockStore.getState();
    const onConnect = () => store.setSocket('connected');
    const onDisconnect = () => store.setSocket('disconnected');
    socket.on('connect', onConnect);
    socket.on('disconnect', onDisconnect);
    socket.io.on('reconnect_attempt', onDisconnect);
    socket.on('connect_error', onDisconnect);
    socket.on('lock:snapshot', store.applySnapshot);
    socket.on('lock:changes', store.applyChanges);
    socket.on('server:status', store.setStatus);
    // Children's effects (admin, simulator feeds) ran before this one: every listener is on.
    socket.connect();
    return () => {
      socket.off('connect', onConnect);
      socket.off('disconnect', onDisconnect);
      socket.io.off('reconnect_attempt', onDisconnect);
      socket.off('connect_error', onDisconnect);
      socket.off('lock:snapshot', store.applySnapshot);
      socket.off('lock:changes', store.applyChanges);
      socket.off('server:status', store.setStatus);
    };
  }, [socket]);
  return <SocketContext.Provider value={socket}>{children}</SocketContext.Provider>;
}

export function useSocket(): LockscopeSocket {
  const socket = useContext(SocketContext);
  if (!socket) throw new Error('useSocket must be used inside <SocketProvider>');
  return socket;
}
