import { parseArgs } from 'node:util';
import type { SimConfigInput, SimStats, SimSummary } from '../../../shared/simulator';
import { SIM_STRATEGIES, SIM_VIOLATION_COUNTERS } from '../../../shared/simulator';
import { isSimPrefix, parseDuration, parseSimConfig, SIM_KEY_ROOT, SIM_LIMITS, SIM_PREFIX_NAME, simPrefixFor } from './config';

/** Flags of `npm run simulate` (see cli.ts): parsing and output formatting, pure so they can be tested. */

type Kind = 'int' | 'prob' | 'duration' | 'text' | 'bool';
interface Flag {
  kind: Kind;
  help: string;
  /** Path in the config input; absent for flags the CLI itself handles. */
  path?: [string] | ['faults', string];
}

export const FLAGS: Record<string, Flag> = {
  strategy: { kind: 'text', path: ['strategy'], help: `${SIM_STRATEGIES.join(' | ')} (default safe)` },
  workers: { kind: 'int', path: ['workers'], help: `concurrent workers, each with its own Redis connection (1–${SIM_LIMITS.maxWorkers}, default 20)` },
  resources: { kind: 'int', path: ['resources'], help: 'distinct lock keys the workers contend for (default 5)' },
  duration: { kind: 'duration', path: ['durationMs'], help: 'how long to run, e.g. 20s, 2m (max 10m, default 30s)' },
  ttl: { kind: 'duration', path: ['ttlMs'], help: 'lock TTL (default 1s)' },
  'renew-interval': { kind: 'duration', path: ['renewIntervalMs'], help: 'renewal cadence of set-nx-ex-renew and of the safe watchdog (default TTL/3)' },
  'acquire-timeout': { kind: 'duration', path: ['acquireTimeoutMs'], help: 'give up acquiring after this long; counts as a failed attempt (default 2s)' },
  'retry-delay': { kind: 'duration', path: ['retryDelayMs'], help: 'pause between acquire attempts while waiting (default 20ms)' },
  hold: { kind: 'duration', path: ['holdMs'], help: 'mean time a lock is held (default 50ms)' },
  'hold-dist': { kind: 'text', path: ['holdDistribution'], help: 'fixed | uniform (0–2×hold) | exponential (default)' },
  think: { kind: 'duration', path: ['thinkMs'], help: 'pause after each release before the next attempt (default 10ms)' },
  'crash-prob': { kind: 'prob', path: ['faults', 'crashProb'], help: 'per acquisition: crash while holding (drop the connection, no release)' },
  'crash-between-prob': {
    kind: 'prob',
    path: ['faults', 'crashBetweenProb'],
    help: 'setnx-expire only, per acquisition: crash between SETNX and EXPIRE (a lock with no TTL)',
  },
  'respawn-delay': { kind: 'duration', path: ['faults', 'respawnDelayMs'], help: 'a crashed worker comes back after this long (default 500ms)' },
  'pause-prob': { kind: 'prob', path: ['faults', 'pauseProb'], help: 'per acquisition: freeze the worker (GC pause, timers included) while holding' },
  pause: { kind: 'duration', path: ['faults', 'pauseMs'], help: 'length of a pause; longer than the TTL to lose the lock (default 1.5s)' },
  'pause-at': {
    kind: 'text',
    path: ['faults', 'pauseAt'],
    help:
      'hold (default: during the work; safe shows 0 violations) | before-write (between the validity check and the write: ' +
      'defeats any lock without fencing, safe included; safe-fenced fixes it)',
  },
  'slow-prob': { kind: 'prob', path: ['faults', 'slowProb'], help: 'share of Redis traffic chunks held back (through a local delaying proxy)' },
  slow: { kind: 'duration', path: ['faults', 'slowMs'], help: 'delay of a held-back chunk, each way (default 50ms)' },
  prefix: {
    kind: 'text',
    path: ['keyPrefix'],
    help: `a name for this run's keys, which then live under ${SIM_KEY_ROOT}<name>: (e.g. ci-42; default: ${SIM_KEY_ROOT} itself). Never outside ${SIM_KEY_ROOT}`,
  },
  'stats-interval': { kind: 'duration', path: ['statsIntervalMs'], help: 'progress line interval (100ms–1s, default 1s)' },
  'redis-url': { kind: 'text', help: 'Redis to use (or REDIS_URL); absent: a private embedded redis-server' },
  json: { kind: 'bool', help: 'print the final summary as one JSON document on stdout' },
  quiet: { kind: 'bool', help: 'no progress lines on stderr' },
  'fail-on-violation': { kind: 'bool', help: 'exit with code 1 when the run had any violation' },
  help: { kind: 'bool', help: 'show this help' },
};

export function helpText(): string {
  const rows = Object.entries(FLAGS).map(([name, f]) => `  --${name.padEnd(20)} ${f.help}`);
  return [
    'lockscope simulate — Redis lock contention simulator (headless)',
    '',
    'Usage: npm run simulate -- [flags]',
    '  e.g. npm run simulate -- --strategy safe --workers 50 --resources 5 --duration 20s --pause-prob 0.05 --json',
    '',
    `Durations take a unit: 500ms, 20s, 2m. Probabilities are 0–1. Only the run's own keys under ${SIM_KEY_ROOT} are touched.`,
    '',
    ...rows,
    '',
    `Violations counted: ${SIM_VIOLATION_COUNTERS.join(', ')}.`,
    'Exit codes: 0 done; 1 violations with --fail-on-violation; 2 bad flags; 3 Redis unusable.',
  ].join('\n');
}

export type CliParse =
  | { kind: 'help' }
  | { kind: 'error'; problems: string[] }
  | { kind: 'run'; input: SimConfigInput; redisUrl: string | null; json: boolean; quiet: boolean; failOnViolation: boolean };

/** Pure: argv + env → what to do. Reports every problem at once. */
export function parseCli(argv: string[], env: Record<string, string | undefined>): CliParse {
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(FLAGS).map(([n, f]) => [n, { type: f.kind === 'bool' ? 'boolean' : 'string' } as const])),
      allowPositionals: false,
    });
    values = parsed.values as Record<string, string | boolean | undefined>;
  } catch (err) {
    return { kind: 'error', problems: [`${(err as Error).message} (see --help)`] };
  }
  if (values.help) return { kind: 'help' };
  const problems: string[] = [];
  const input: Record<string, unknown> & { faults: Record<string, unknown> } = { faults: {} };
  for (const [name, flag] of Object.entries(FLAGS)) {
    const raw = values[name];
    if (!flag.path || typeof raw !== 'string') continue;
    let value: unknown = raw;
    if (flag.kind === 'duration') {
      value = parseDuration(raw);
      if (value === null) problems.push(`--${name} ${raw}: not a duration; give a unit, e.g. 500ms, 20s, 2m`);
    } else if (flag.kind === 'int' || flag.kind === 'prob') {
      value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) problems.push(`--${name} ${raw}: not a number`);
    } else if (name === 'prefix') {
      // A name goes below the root; a full prefix must already be one of the root's. Anything else (lock:, bull:)
      // is refused here, before any connection, with the reason.
      if (SIM_PREFIX_NAME.test(raw)) value = simPrefixFor(raw);
      else if (!isSimPrefix(raw)) {
        problems.push(
          `--prefix ${raw}: refused. The simulator's keys always live under ${SIM_KEY_ROOT} (it deletes them at start and end, ` +
            `so it never runs under another prefix); give a name such as ci-42 (keys under ${SIM_KEY_ROOT}ci-42:)`,
        );
        continue;
      }
    }
    if (flag.path.length === 2) input.faults[flag.path[1]] = value;
    else input[flag.path[0]] = value;
  }
  const config = parseSimConfig(input);
  if (!config.ok) {
    const byPath = new Map(Object.entries(FLAGS).map(([n, f]) => [f.path?.join('.'), n]));
    for (const p of config.problems) {
      const [path, ...rest] = p.split(': ');
      const flag = byPath.get(path);
      problems.push(flag ? `--${flag}: ${rest.join(': ')}` : p);
    }
  }
  if (problems.length) return { kind: 'error', problems };
  const redisUrl = (values['redis-url'] as string | undefined) ?? env.REDIS_URL ?? null;
  if (redisUrl !== null && !/^rediss?:\/\//.test(redisUrl)) return { kind: 'error', problems: ['--redis-url / REDIS_URL: must start with redis:// or rediss://'] };
  return {
    kind: 'run',
    input: input as SimConfigInput,
    redisUrl: redisUrl || null,
    json: values.json === true,
    quiet: values.quiet === true,
    failOnViolation: values['fail-on-violation'] === true,
  };
}

export function progressLine(s: SimStats): string {
  const p = (v: number | null) => (v === null ? '–' : String(v));
  const c = s.counters;
  return (
    `[${(s.elapsedMs / 1000).toFixed(1).padStart(6)}s] ${s.strategy} acq/s ${s.acquisitionsPerSec} failed/s ${s.failedPerSec} ` +
    `wait p50/p95/p99 ${p(s.waitMs.p50)}/${p(s.waitMs.p95)}/${p(s.waitMs.p99)} ms fairness ${p(s.fairness)} alive ${s.workersAlive} ` +
    `violations ${s.violations} (overlaps ${c.overlaps}, foreign del ${c.foreignReleases}, foreign renew ${c.foreignRenewals}, ` +
    `stale writes ${c.staleWritesAccepted}, stuck ${c.stuckLocksCreated}) rejected by fence ${c.staleWritesRejected}`
  );
}

export function humanSummary(s: SimSummary): string {
  const rows: [string, string | number | null][] = [
    ['strategy', s.config.strategy],
    ['workers × resources', `${s.config.workers} × ${s.config.resources}`],
    ['duration', `${(s.durationMs / 1000).toFixed(1)} s (${s.endReason})`],
    ['acquisitions', `${s.acquisitions} (${s.acquisitionsPerSec}/s)`],
    ['failed acquires', s.failedAcquires],
    ['wait p50/p95/p99 ms', `${s.waitMs.p50}/${s.waitMs.p95}/${s.waitMs.p99}`],
    ['hold p50/p99 ms', `${s.holdMs.p50}/${s.holdMs.p99}`],
    ['fairness (Jain)', s.fairness],
    ['per worker min/max', `${s.perWorkerMin}/${s.perWorkerMax}`],
    ...Object.entries(s.counters).map(([k, v]) => [k, v] as [string, number]),
    ['VIOLATIONS', s.violations],
  ];
  return rows.map(([k, v]) => `${k.padEnd(22)} ${v}`).join('\n');
}

