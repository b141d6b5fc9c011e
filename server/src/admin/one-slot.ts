import type { PlanStep, ReleasePlan } from '../libraries';
import { keySlot } from '../targets/node/scan';

/**
 * A release plan cut down to what one script may do in a Redis Cluster: touch keys (and shard channels) of the
 * lock's own hash slot only. A step on a helper key of another slot is left out — python-redis-lock's signal list
 * under a name without a hash tag, whose own unlock fails there with CROSSSLOT — so the lock is still released and
 * that step's wake-up is simply not reported as done. Libraries that hash-tag their helper keys (Redisson) keep
 * every step.
 */
export function withinSlot(key: Buffer, plan: ReleasePlan): { plan: ReleasePlan; dropped: PlanStep['op'][] } {
  const slot = keySlot(key);
  const here = (k: Buffer) => keySlot(k) === slot;
  const steps: PlanStep[] = [];
  const dropped: PlanStep['op'][] = [];
  for (const step of plan.steps) {
    const kept = local(step, here);
    if (kept) steps.push(kept);
    else dropped.push(step.op);
  }
  return { plan: dropped.length ? { ...plan, steps } : plan, dropped };
}

function local(step: PlanStep, here: (key: Buffer) => boolean): PlanStep | null {
  switch (step.op) {
    case 'del-keys': {
      const keys = step.keys.filter(here);
      return keys.length === step.keys.length ? step : keys.length ? { ...step, keys } : null;
    }
    case 'signal-list':
      return here(step.key) ? step : null;
    case 'fair-wake':
      return here(step.queue) && here(step.timeouts) && (step.command === 'PUBLISH' || (here(step.fallbackChannel) && here(step.channelPrefix))) ? step : null;
    case 'incr-publish':
      return here(step.counter) && (step.command === 'PUBLISH' || here(step.channel)) ? step : null;
    case 'publish':
      // A shard channel is routed like a key; a plain channel reaches every node from anywhere.
      return step.command === 'PUBLISH' || here(step.channel) ? step : null;
    default:
      return step;
  }
}
