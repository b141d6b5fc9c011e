import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { useLockStore } from '../store/lock-store';
import { useViewStore } from '../store/view-store';
import { createSocket, type LockscopeSocket } from './socket';

const SocketContext = createContext<LockscopeSocket | null>(null);

/** The target to show: the one asked for, else the one shown (a reconnect keeps it). */
const wantedTarget = () => useViewStore.getState().target ?? useLockStore.getState().target;

/** Owns the page's socket and feeds the store; every listener is named so cleanup removes exactly it. */
export function SocketProvider({ children }: { children: ReactNode }) {
  const [socket] = useState(() => createSocket(wantedTarget));
  useEffect(() => {
    const store = useLockStore.getState();
    // With several targets the address bar names the one the table shows (the server shows the first for a link
    // naming none, or one it does not know); with a single target, links stay plain.
    const unsubscribeShown = useLockStore.subscribe((next, prev) => {
      const asked = useViewStore.getState().target;
      if (next.target === prev.target || next.target === null || next.target === asked) return;
      if (asked === null && (next.status?.targets.length ?? 1) <= 1) return;
      useViewStore.setState({ target: next.target });
    });
    // Another target chosen: the server switches this socket over and sends its snapshot.
    const unsubscribeWanted = useViewStore.subscribe((next, prev) => {
      if (next.target === prev.target || next.target === null || next.target === useLockStore.getState().target) return;
      if (socket.connected) socket.emit('lock:view', next.target, () => {});
    });
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
      unsubscribeShown();
      unsubscribeWanted();
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
