import { useEffect, useRef, useState } from 'react';
import type { LockHistory, LockView } from '../../../../shared/locks';
import { useSocket } from '../../socket/SocketProvider';
import { useLockStore } from '../../store/lock-store';

/** At most this many history requests a second for one lock, however fast it changes. */
const MIN_GAP_MS = 250;
const TIMEOUT_MS = 5000;

export interface HistoryState {
  history: LockHistory | null;
  error: string | null;
  loading: boolean;
}

/**
 * What in a view means the history has grown: a renewal, a state change, a new deadline or owner, the end, and
 * for a lock several hold, a holder coming or going.
 */
function signature(lock: LockView | null): string {
  if (!lock) return '';
  const holders = lock.holders ? lock.holders.list.map((h) => h.token.base64).join(',') : '';
  return `${lock.renewals}|${lock.state}|${lock.deadline}|${lock.owner?.base64 ?? ''}|${lock.endedAt}|${lock.reentryCount}|${holders}`;
}

/**
 * The selected lock's history (`lock:history`), fetched when it is selected and again whenever its view shows
 * that something happened to it (throttled), and after a reconnect. `lock` is null once the lock is no longer
 * tracked: nothing more is fetched.
 */
export function useLockHistory(id: string | null, lock: LockView | null): HistoryState {
  const socket = useSocket();
  const connected = useLockStore((s) => s.socket === 'connected');
  const [state, setState] = useState<HistoryState & { id: string | null }>({ id: null, history: null, error: null, loading: false });
  const lastFetch = useRef(0);
  const seq = useRef(0);
  const sig = signature(lock);

  useEffect(() => {
    // No view: the lock left the table; the history already shown is the last there will be.
    if (!id || !connected || !sig) return;
    const timer = setTimeout(
      () => {
        lastFetch.current = Date.now();
        const mine = ++seq.current;
        socket.timeout(TIMEOUT_MS).emit('lock:history', id, (err, result) => {
          if (mine !== seq.current) return; // a newer request is on its way
          if (err) setState((s) => ({ ...s, id, loading: false, error: 'The server did not answer the history request.' }));
          else if (result.ok) setState({ id, history: result.data, error: null, loading: false });
          else setState((s) => ({ ...s, id, loading: false, error: result.error.message }));
        });
      },
      Math.max(0, lastFetch.current + MIN_GAP_MS - Date.now()),
    );
    return () => clearTimeout(timer);
  }, [socket, id, sig, connected]);

  // A different lock: never show the previous one's history while the new one loads.
  if (state.id !== id) return { history: null, error: null, loading: id !== null };
  return state;
}
