import { useEffect } from 'react';
import { useSocket } from '../../socket/SocketProvider';
import { useSimStore } from './sim-store';

/** Feeds `sim:state` and `sim:stats` into the simulator store for as long as the panel is mounted. */
export function useSimulatorFeed(): void {
  const socket = useSocket();
  useEffect(() => {
    const { setState, addStats } = useSimStore.getState();
    socket.on('sim:state', setState);
    socket.on('sim:stats', addStats);
    return () => {
      socket.off('sim:state', setState);
      socket.off('sim:stats', addStats);
    };
  }, [socket]);
}
