import { useSyncExternalStore } from 'react';

/*
 * One shared ticker for every countdown on the page: TTLs are computed from deadlines on each tick instead of
 * being re-sent by the server, and only mounted (visible) cells subscribe.
 */
const listeners = new Set<() => void>();
let now = Date.now();
let timer: ReturnType<typeof setInterval> | null = null;

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  // The ticker sleeps while nothing is mounted: never hand a newly mounted countdown a stale clock.
  if (!timer) now = Date.now();
  timer ??= setInterval(() => {
    now = Date.now();
    for (const l of listeners) l();
  }, 100);
  return () => {
    listeners.delete(listener);
    if (!listeners.size && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}

/** This browser's clock, refreshed ten times a second. */
export function useNow(): number {
  return useSyncExternalStore(subscribe, () => now);
}
