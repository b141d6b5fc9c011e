import { create } from 'zustand';
import type { SimState, SimStats } from '../../../../shared/simulator';

/** Stats kept for the charts: 10 minutes at 1 Hz. Older points are dropped first. */
export const MAX_POINTS = 600;

interface SimStore {
  /** Latest `sim:state` from the server; null until the first one arrives. */
  state: SimState | null;
  /** Stats of the current (or last) run, oldest first, bounded by MAX_POINTS. */
  history: SimStats[];
  setState(state: SimState): void;
  addStats(stats: SimStats): void;
}

export const useSimStore = create<SimStore>((set) => ({
  state: null,
  history: [],
  setState: (state) => set({ state }),
  addStats: (stats) =>
    set((s) => {
      // A new run starts a new history.
      const same = s.history.length > 0 && s.history[0]!.runId === stats.runId;
      const history = same ? [...s.history.slice(-(MAX_POINTS - 1)), stats] : [stats];
      return { history };
    }),
}));
