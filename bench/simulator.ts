/**
 * Simulator throughput: sustained successful acquisitions per second with 200 workers, each on its own Redis
 * connection, against one local Redis (hold and think time 0, so the figure is the machine's limit, not the
 * workload's). Sustained = median of the per-second rates after a 2 s warm-up.
 */
import { defaultSimConfig } from '../server/src/simulator/config';
import { runSimulation } from '../server/src/simulator/simulator';
import type { SimConfig, SimStats } from '../shared/simulator';
import type { BenchContext } from './run';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function measure(redisUrl: string, config: SimConfig) {
  const stats: SimStats[] = [];
  const summary = await runSimulation(config, { redisUrl }, (s) => stats.push(s));
  const rates = stats.filter((s) => s.elapsedMs > 2000 && s.windowMs >= 900).map((s) => s.acquisitionsPerSec);
  return { sustained: median(rates), summary };
}

export default async function run({ redisUrl, log }: BenchContext): Promise<void> {
  const base = { workers: 200, resources: 200, durationMs: 8000, ttlMs: 5000, holdMs: 0, holdDistribution: 'fixed', thinkMs: 0, retryDelayMs: 5 } as const;
  for (const strategy of ['safe', 'set-nx-ex-renew'] as const) {
    const { sustained, summary } = await measure(redisUrl, defaultSimConfig({ ...base, strategy }));
    log(
      `simulator ${strategy}, 200 workers × 200 resources: ${sustained.toFixed(0)} acquisitions/s sustained ` +
        `(run mean ${summary.acquisitionsPerSec}/s, wait p99 ${summary.waitMs.p99} ms, fairness ${summary.fairness}, violations ${summary.violations})`,
    );
  }
  const contended = await measure(redisUrl, defaultSimConfig({ ...base, strategy: 'safe', resources: 5, holdMs: 2 }));
  log(
    `simulator safe, 200 workers × 5 resources, 2 ms holds (contended): ${contended.sustained.toFixed(0)} acquisitions/s sustained ` +
      `(wait p50/p99 ${contended.summary.waitMs.p50}/${contended.summary.waitMs.p99} ms, failed ${contended.summary.failedAcquires}, violations ${contended.summary.violations})`,
  );
}
