import type { Redis } from 'ioredis';

/** Writes one batch of `[key, value]` owners (each with a 60 s TTL). */
export type OwnerWriter = (owners: [string, string][]) => void;

/** Writes each batch to `redis` in one pipeline. */
export const pipelineWriter =
  (redis: Redis): OwnerWriter =>
  (owners) => {
    const pipe = redis.pipeline();
    for (const [key, value] of owners) pipe.set(key, value, 'PX', 60_000);
    void pipe.exec();
  };

/**
 * The latency benches' writer: `rate` new owners a second over `keys` keys (`lock:bench:<n>`), each value stamped
 * with the time it was sent (`bench:<ms>:<seq>`, which the browser stand-ins read), paced by elapsed time rather
 * than by timer ticks. `onMeasure` runs once the warm-up is over; resolves with the number of owners written.
 */
export function churnOwners(
  write: OwnerWriter,
  { rate, keys, warmupMs, measureMs, onMeasure = () => {} }: { rate: number; keys: number; warmupMs: number; measureMs: number; onMeasure?: () => void },
): Promise<number> {
  let seq = 0;
  const started = performance.now();
  let measuring = false;
  return new Promise((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - started;
      if (!measuring && elapsed >= warmupMs) {
        measuring = true;
        onMeasure();
      }
      if (elapsed >= warmupMs + measureMs) {
        clearInterval(tick);
        resolve(seq);
        return;
      }
      const due = Math.floor((elapsed / 1000) * rate) - seq;
      if (due <= 0) return;
      const owners: [string, string][] = [];
      for (let i = 0; i < due; i++, seq++) {
        const stamp = (performance.timeOrigin + performance.now()).toFixed(3);
        owners.push([`lock:bench:${seq % keys}`, `bench:${stamp}:${seq}`]);
      }
      write(owners);
    }, 2);
  });
}
