import type { SimConfig, SimSummary } from '../../../shared/simulator';

/** One line for the audit log: what a run was set to do. */
export function describeSimConfig(c: SimConfig): string {
  const f = c.faults;
  const faults = [
    f.crashProb > 0 && `crash ${f.crashProb}`,
    f.crashBetweenProb > 0 && `crash between SETNX and EXPIRE ${f.crashBetweenProb}`,
    f.pauseProb > 0 && `pause ${f.pauseProb} × ${f.pauseMs} ms (${f.pauseAt})`,
    f.slowProb > 0 && `slow ${f.slowProb} × ${f.slowMs} ms`,
  ].filter(Boolean);
  return (
    `${c.strategy}: ${c.workers} workers × ${c.resources} resources for ${c.durationMs / 1000} s, TTL ${c.ttlMs} ms, ` +
    `under ${c.keyPrefix}; faults: ${faults.length ? faults.join(', ') : 'none'}`
  );
}

/** One line for the audit log: what a run did. */
export function describeSimSummary(s: SimSummary): string {
  return `${s.config.strategy} ran ${(s.durationMs / 1000).toFixed(1)} s: ${s.acquisitions} acquisitions, ${s.violations} violations (${s.endReason})`;
}
