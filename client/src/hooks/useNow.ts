import { useSyncExternalStore } from 'react';

/*
 * Shared tickers for every countdown on the page: TTLs are computed from deadlines on each tick instead of
 * being re-sent by the server, and only mounted (visible) cells subscribe. Two rates: ten times a second for
 * values shown to the tenth (under 10 s), once a second for the rest, so a table of long TTLs costs little.
 */
interface Ticker {
  subscribe(listener: () => void): () => void;
  get(): number;
}

const tickers = new Map<number, Ticker>();

function ticker(intervalMs: number): Ticker {
  let t = tickers.get(intervalMs);
  if (t) return t;
  const listeners = new Set<() => void>();
  let now = Date.now();
  let timer: ReturnType<typeof setInterval> | null = null;
  t = {
    subscribe(listener) {
      listeners.add(listener);
      // The ticker sleeps while nothing is mounted: never hand a newly mounted countdown a stale clock.
      if (!timer) now = Date.now();
      timer ??= setInterval(() => {
        now = Date.now();
        for (const l of listeners) l();
      }, intervalMs);
      return () => {
        listeners.delete(listener);
        if (!listeners.size && timer) {
          clearInterval(timer);
          timer = null;
        }
      };
    },
    get: () => now,
  };
  tickers.set(intervalMs, t);
  return t;
}

const idle: Ticker = { subscribe: () => () => {}, get: () => 0 };

/** This browser's clock, refreshed every `intervalMs` (default 100 ms); `null` subscribes to nothing and gives 0. */
export function useNow(intervalMs: number | null = 100): number {
  const t = intervalMs === null ? idle : ticker(intervalMs);
  return useSyncExternalStore(t.subscribe, t.get);
}

/** Below this, durations show tenths of a second (see `formatDuration`) and need the fast ticker. */
export const FINE_BELOW_MS = 10_000;

/**
 * The clock for a countdown towards (or count-up from) `target`: once a second while the distance is large,
 * ten times a second once it shows tenths.
 */
export function useCountdownNow(distance: (now: number) => number): number {
  const coarse = useNow(1000);
  const fine = useNow(Math.abs(distance(coarse)) < FINE_BELOW_MS + 1000 ? 100 : null);
  return Math.max(coarse, fine);
}
