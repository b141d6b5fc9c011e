import { afterAll } from 'vitest';

/**
 * Named durations of a suite's slow steps (cluster start, failover, …), printed after the file (vitest shows them
 * with the results): how long the real thing takes on this machine.
 */
export function suiteTimings(label: string): {
  timings: Record<string, number>;
  timed: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
} {
  const timings: Record<string, number> = {};
  afterAll(() => console.info(`${label} (ms): ${JSON.stringify(timings)}`));
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      timings[name] = Math.round(performance.now() - t);
    }
  };
  return { timings, timed };
}
