import type { HoldDistribution, PauseAt, SimConfig, SimConfigInput, SimStrategy } from '../../../../shared/simulator';

/** The simulator form as typed: numbers stay strings until Start. */
export interface Form {
  strategy: SimStrategy;
  workers: string;
  resources: string;
  durationS: string;
  ttlMs: string;
  renewIntervalMs: string;
  acquireTimeoutMs: string;
  holdMs: string;
  holdDistribution: HoldDistribution;
  crashProb: string;
  crashBetweenProb: string;
  pauseProb: string;
  pauseMs: string;
  pauseAt: PauseAt;
  slowProb: string;
  slowMs: string;
}

export const INITIAL: Form = {
  strategy: 'safe',
  workers: '20',
  resources: '5',
  durationS: '30',
  ttlMs: '1000',
  renewIntervalMs: '',
  acquireTimeoutMs: '2000',
  holdMs: '50',
  holdDistribution: 'exponential',
  crashProb: '0',
  crashBetweenProb: '0',
  pauseProb: '0',
  pauseMs: '1500',
  pauseAt: 'hold',
  slowProb: '0',
  slowMs: '50',
};

/** The settings of a run as the form shows them (while it runs, whoever started it). */
export function fromConfig(c: SimConfig): Form {
  const t = String;
  return {
    strategy: c.strategy,
    workers: t(c.workers),
    resources: t(c.resources),
    durationS: t(c.durationMs / 1000),
    ttlMs: t(c.ttlMs),
    renewIntervalMs: c.renewIntervalMs === null ? '' : t(c.renewIntervalMs),
    acquireTimeoutMs: t(c.acquireTimeoutMs),
    holdMs: t(c.holdMs),
    holdDistribution: c.holdDistribution,
    crashProb: t(c.faults.crashProb),
    crashBetweenProb: t(c.faults.crashBetweenProb),
    pauseProb: t(c.faults.pauseProb),
    pauseMs: t(c.faults.pauseMs),
    pauseAt: c.faults.pauseAt,
    slowProb: t(c.faults.slowProb),
    slowMs: t(c.faults.slowMs),
  };
}

export function toInput(f: Form): SimConfigInput {
  const n = (v: string) => Number(v);
  return {
    strategy: f.strategy,
    workers: n(f.workers),
    resources: n(f.resources),
    durationMs: Math.round(n(f.durationS) * 1000),
    ttlMs: n(f.ttlMs),
    renewIntervalMs: f.renewIntervalMs.trim() === '' ? null : n(f.renewIntervalMs),
    acquireTimeoutMs: n(f.acquireTimeoutMs),
    holdMs: n(f.holdMs),
    holdDistribution: f.holdDistribution,
    faults: {
      crashProb: n(f.crashProb),
      crashBetweenProb: n(f.crashBetweenProb),
      pauseProb: n(f.pauseProb),
      pauseMs: n(f.pauseMs),
      pauseAt: f.pauseAt,
      slowProb: n(f.slowProb),
      slowMs: n(f.slowMs),
    },
  };
}
