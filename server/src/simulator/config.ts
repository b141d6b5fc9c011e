import { z } from 'zod';
import { SIM_STRATEGIES, type SimConfig, type SimConfigInput } from '../../../shared/simulator';

/** Hard bounds: a run is always finite and sized for one machine. */
export const SIM_LIMITS = {
  maxWorkers: 500,
  maxResources: 10_000,
  maxDurationMs: 10 * 60_000,
  maxTtlMs: 10 * 60_000,
  maxPauseMs: 60_000,
} as const;

/**
 * Every key the simulator writes lives under this root, whatever the caller asks for: it deletes its keys at
 * start and at the end of a run, so a prefix of the caller's choosing (`lock:`, `bull:`) would delete theirs.
 */
export const SIM_KEY_ROOT = 'lockscope:sim:';
export const DEFAULT_SIM_PREFIX = SIM_KEY_ROOT;
/** A run's own name below the root (`lockscope:sim:<name>:`), e.g. for parallel CI jobs on one Redis. */
export const SIM_PREFIX_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const SIM_PREFIX = /^lockscope:sim:(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,31}:)?$/;
export const SIM_PREFIX_RULE =
  'the simulator’s keys always live under lockscope:sim: (it deletes them at start and end, so it never runs under another prefix): ' +
  'give "lockscope:sim:" or "lockscope:sim:<name>:" with a <name> of 1–32 letters, digits, _ . -';

/** True for a prefix the simulator may run under: the root itself or one `<name>:` level below it. */
export function isSimPrefix(prefix: string): boolean {
  return SIM_PREFIX.test(prefix);
}

/** `ci-42` → `lockscope:sim:ci-42:`. */
export function simPrefixFor(name: string): string {
  return `${SIM_KEY_ROOT}${name}:`;
}

const ms = (min: number, max: number) =>
  z
    .number({ message: 'must be a number of milliseconds' })
    .int({ message: 'must be a whole number of milliseconds' })
    .min(min, { message: `must be at least ${min} ms` })
    .max(max, { message: `must be at most ${max} ms` });
const prob = z.number({ message: 'must be a probability' }).min(0, { message: 'must be ≥ 0' }).max(1, { message: 'must be ≤ 1' });

const faults = z.strictObject({
  crashProb: prob.default(0),
  crashBetweenProb: prob.default(0),
  respawnDelayMs: ms(0, 60_000).default(500),
  pauseProb: prob.default(0),
  pauseMs: ms(1, SIM_LIMITS.maxPauseMs).default(1500),
  pauseAt: z.enum(['hold', 'before-write']).default('hold'),
  slowProb: prob.default(0),
  slowMs: ms(0, 10_000).default(50),
});

/** Validates what a client or the CLI asks for and fills in defaults. Unknown fields are refused, not ignored. */
export const simConfigSchema = z
  .strictObject({
    strategy: z.enum(SIM_STRATEGIES as [SimConfig['strategy'], ...SimConfig['strategy'][]]).default('safe'),
    workers: z.number().int().min(1).max(SIM_LIMITS.maxWorkers).default(20),
    resources: z.number().int().min(1).max(SIM_LIMITS.maxResources).default(5),
    durationMs: ms(100, SIM_LIMITS.maxDurationMs).default(30_000),
    ttlMs: ms(50, SIM_LIMITS.maxTtlMs).default(1000),
    renewIntervalMs: ms(10, SIM_LIMITS.maxTtlMs).nullable().default(null),
    acquireTimeoutMs: ms(0, 60_000).default(2000),
    retryDelayMs: ms(1, 10_000).default(20),
    holdMs: ms(0, 60_000).default(50),
    holdDistribution: z.enum(['fixed', 'uniform', 'exponential']).default('exponential'),
    thinkMs: ms(0, 60_000).default(10),
    faults: faults.default(faults.parse({})),
    keyPrefix: z.string().regex(SIM_PREFIX, { message: SIM_PREFIX_RULE }).default(DEFAULT_SIM_PREFIX),
    // Live stats at ≥ 1 Hz: never less often than once a second.
    statsIntervalMs: ms(100, 1000).default(1000),
  })
  .superRefine((c, ctx) => {
    if (c.renewIntervalMs !== null && c.renewIntervalMs >= c.ttlMs) {
      ctx.addIssue({ code: 'custom', path: ['renewIntervalMs'], message: 'must be shorter than ttlMs, or the lock expires between renewals' });
    }
  });

export type SimConfigParse = { ok: true; config: SimConfig } | { ok: false; problems: string[] };

/** Every problem at once, each naming its field. */
export function parseSimConfig(input: unknown): SimConfigParse {
  const parsed = simConfigSchema.safeParse(input ?? {});
  if (parsed.success) return { ok: true, config: parsed.data satisfies SimConfig };
  return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`) };
}

/** The complete default settings. */
export function defaultSimConfig(overrides: SimConfigInput = {}): SimConfig {
  const r = parseSimConfig(overrides);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.config;
}

/** `500ms`, `20s`, `2m`, `1.5s`, `0` → milliseconds; null when it is not a duration. A bare number needs a unit (except 0). */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return text.trim() === '0' ? 0 : null;
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * factor);
}

/** Lock key of resource `i` under the run's prefix. */
export function lockKey(prefix: string, i: number): string {
  return `${prefix}lock:r${i}`;
}

/** Fencing counter of resource `i` (its own key under the prefix; a single Redis, so no slot concerns). */
export function fenceKey(prefix: string, i: number): string {
  return `${prefix}fence:r${i}`;
}

/**
 * Whether `key` is one a run under `prefix` creates (a lock or fencing key of some resource): the only keys its
 * clean-up deletes. Keys of runs under a deeper prefix (`lockscope:sim:ci-42:…` seen from `lockscope:sim:`) and
 * anything else that merely starts with the prefix are left alone.
 */
export function isRunKey(prefix: string, key: string): boolean {
  return key.startsWith(prefix) && /^(?:lock|fence):r\d{1,5}$/.test(key.slice(prefix.length));
}
