import { create } from 'zustand';
import type { LockChanges, LockSnapshot, LockView } from '../../../shared/locks';
import type { ServerStatus } from '../../../shared/status';

export type SocketState = 'connecting' | 'connected' | 'disconnected';

interface LockStore {
  /** Live table, by lock id. Replaced (not mutated) on every update so selectors see a new reference. */
  locks: Map<string, LockView>;
  /** Server clock minus this browser's clock (ms), from the latest message: deadlines are on the server's clock. */
  clockOffsetMs: number;
  status: ServerStatus | null;
  socket: SocketState;
  applySnapshot(snapshot: LockSnapshot): void;
  applyChanges(changes: LockChanges): void;
  setStatus(status: ServerStatus): void;
  setSocket(state: SocketState): void;
}

export const useLockStore = create<LockStore>()((set) => ({
  locks: new Map(),
  clockOffsetMs: 0,
  status: null,
  socket: 'connecting',
  applySnapshot: ({ locks, serverTime }) =>
    set({ locks: new Map(locks.map((l) => [l.id, l])), clockOffsetMs: serverTime - Date.now() }),
  applyChanges: ({ upserts, removed, serverTime }) =>
    set((s) => {
      const locks = new Map(s.locks);
      for (const l of upserts) locks.set(l.id, l);
      for (const id of removed) locks.delete(id);
      return { locks, clockOffsetMs: serverTime - Date.now() };
    }),
  setStatus: (status) => set({ status }),
  setSocket: (socket) => set({ socket }),
}));
