/**
 * Contention simulator: the settings a run takes, the live statistics it streams (`sim:stats`, ≥ 1 Hz), its
 * state (`sim:state`) and the final summary. Durations are milliseconds and times are epoch milliseconds on the
 * lockscope server's clock unless a field says otherwise.
 */

/**
 * - `setnx-expire`: first design note. `SETNX key`, then a separate `PEXPIRE`; waits by polling until the acquire
 *   timeout, re-applying the expiry when it finds the key without a TTL; releases with a plain `DEL`.
 * - `set-nx-ex-renew`: second design note. `SET key NX PX`, a background loop of blind `PEXPIRE` renewals,
 *   released with a plain `DEL` (context-manager style: the loop is stopped first; a renewal already in flight
 *   went out before the `DEL` on the same connection, so nothing renews the key after it).
 * - `safe`: lockscope's lock library: random token, owner-checked release and extend, watchdog, validity check
 *   before writing.
 * - `safe-fenced`: `safe` plus a fencing token that the protected resource checks on every access.
 */
export type SimStrategy = 'setnx-expire' | 'set-nx-ex-renew' | 'safe' | 'safe-fenced';

export const SIM_STRATEGIES: readonly SimStrategy[] = ['setnx-expire', 'set-nx-ex-renew', 'safe', 'safe-fenced'];

/** Shape of hold times around `holdMs`: always `holdMs`; uniform in [0, 2×holdMs]; exponential with mean holdMs (capped at 10×). */
export type HoldDistribution = 'fixed' | 'uniform' | 'exponential';

/**
 * Where an injected pause strikes: `hold` (the default) = at a random moment of the work done under the lock,
 * before the final "is my lock still valid?" check; `before-write` = after that check, just before the write
 * reaches the resource. `safe` shows 0 violations under crashes and `hold` pauses. A `before-write` pause longer
 * than the TTL defeats any lock without fencing — `safe` included: the lock expires and another worker writes
 * between the check and the write, so its stale write is counted — and `safe-fenced` is the fix: the resource
 * refuses the stale write by its fencing token.
 */
export type PauseAt = 'hold' | 'before-write';

/** Faults injected into workers. Probabilities are per acquisition, 0–1. */
export interface SimFaults {
  /** Probability that a worker crashes (drops its connection without releasing) at a random moment while holding. */
  crashProb: number;
  /** `setnx-expire` only: probability of crashing between SETNX and PEXPIRE, leaving a lock with no TTL. */
  crashBetweenProb: number;
  /** How long a crashed worker stays down before it respawns with a fresh connection (ms). */
  respawnDelayMs: number;
  /** Probability that a worker freezes (a GC pause: its timers and renewal loop stop too) while holding. */
  pauseProb: number;
  /** Length of each pause (ms). Longer than `ttlMs` to let the lock expire under the paused holder. */
  pauseMs: number;
  /** Where in the critical section the pause strikes. */
  pauseAt: PauseAt;
  /** Probability that a chunk of Redis traffic (either direction) is held back by `slowMs`; 0 = direct connections. */
  slowProb: number;
  /** Extra one-way delay of a slowed chunk (ms). */
  slowMs: number;
}

/** A run's settings, complete (the server fills in defaults). */
export interface SimConfig {
  strategy: SimStrategy;
  /** Concurrent workers, each with its own Redis connection (1–500). */
  workers: number;
  /** Distinct resources (lock keys) the workers contend for (1–10 000). Worker i picks one at random per iteration. */
  resources: number;
  /** The run stops by itself after this long (ms, 100 ms – 10 min). */
  durationMs: number;
  /** Lock TTL (ms). */
  ttlMs: number;
  /** Renewal cadence (ms) of `set-nx-ex-renew`'s loop and of the safe strategies' watchdog; null = ttlMs / 3. */
  renewIntervalMs: number | null;
  /** Give up acquiring after this long (ms); counted as a failed attempt. */
  acquireTimeoutMs: number;
  /** Pause between acquire attempts while waiting (ms). */
  retryDelayMs: number;
  /** Mean time a worker holds the lock doing its read-modify-write (ms). */
  holdMs: number;
  holdDistribution: HoldDistribution;
  /** Pause after releasing (or failing) before the next attempt (ms). */
  thinkMs: number;
  faults: SimFaults;
  /**
   * Where the run's keys live: `lockscope:sim:` (default) or `lockscope:sim:<name>:` (name: 1–32 of letters,
   * digits, `_ . -`); nothing else is accepted. The run writes only its own lock and fencing keys there and
   * deletes them at start and stop; it touches no other key.
   */
  keyPrefix: string;
  /** How often `sim:stats` is sent (ms, 100–1000: live stats at ≥ 1 Hz). */
  statsIntervalMs: number;
}

/** What a client may send to `sim:start`: any subset of the settings; the rest take their defaults. */
export type SimConfigInput = Partial<Omit<SimConfig, 'faults'>> & { faults?: Partial<SimFaults> };

/**
 * Correctness counters, all cumulative since the run started. The first five are violations of mutual
 * exclusion or of ownership; the rest describe what happened.
 */
export interface SimCounters {
  /** Pairs of holder intervals on the same resource that overlap in time (each holder's own view: from acquire success until it released, crashed, or its lock's validity ended). */
  overlaps: number;
  /** Releases that deleted a lock some other worker held. */
  foreignReleases: number;
  /** Renewals (PEXPIRE) that extended a lock some other worker held. */
  foreignRenewals: number;
  /** Writes the resource accepted from a worker whose lock had been taken by another worker (or deleted) meanwhile. */
  staleWritesAccepted: number;
  /** Locks left without a TTL in Redis (crash between SETNX and PEXPIRE): they never expire on their own. */
  stuckLocksCreated: number;
  /** Stale writes the resource refused because their fencing token was older than one it had seen. */
  staleWritesRejected: number;
  /** Increments lost by the resource's read-modify-write: accepted writes minus the resource's final value. */
  lostUpdates: number;
  /** Times a safe worker found its lock no longer valid (expired during a pause, renewal refused) and did not write. */
  lostLocksDetected: number;
  /**
   * Owner-checked releases or extends that Redis refused because the lock was no longer the worker's: every one,
   * watchdog renewals included, and also releases after the worker had already noticed its lock expire.
   */
  refusedByOwnerCheck: number;
  /** `setnx-expire`'s quirk: a waiter found the lock without TTL and put one on it. */
  expiryReapplied: number;
  /** Injected crashes (including between SETNX and PEXPIRE). */
  crashes: number;
  /** Injected pauses. */
  pauses: number;
  /** Redis errors or timeouts seen by workers. */
  redisErrors: number;
}

/** Names of the counters that are violations; `violations` in stats is their sum. */
export const SIM_VIOLATION_COUNTERS = [
  'overlaps',
  'foreignReleases',
  'foreignRenewals',
  'staleWritesAccepted',
  'stuckLocksCreated',
] as const satisfies readonly (keyof SimCounters)[];

/** Percentiles of a set of durations (ms); null when there was no sample. */
export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** One `sim:stats` message. "Window" figures cover the time since the previous message. */
export interface SimStats {
  runId: string;
  strategy: SimStrategy;
  /** When these stats were taken (epoch ms). */
  at: number;
  /** Time since the run started (ms). */
  elapsedMs: number;
  /** Length of the window the rates and window percentiles cover (ms). */
  windowMs: number;
  /** Workers currently running (not crashed and waiting to respawn). */
  workersAlive: number;
  /** Successful acquisitions per second in the window. */
  acquisitionsPerSec: number;
  /** Acquisitions that timed out per second in the window. */
  failedPerSec: number;
  /** Successful acquisitions since the start. */
  acquisitions: number;
  /** Acquire attempts that gave up after `acquireTimeoutMs`, since the start. */
  failedAcquires: number;
  /** Time from starting to acquire until holding, for acquisitions in the window (ms). */
  waitMs: Percentiles;
  /** How long holders held the lock, for intervals that ended in the window (ms). */
  holdMs: Percentiles;
  /**
   * Jain's fairness index over acquisitions per worker since the start: 1 = perfectly even, 1/workers = one
   * worker got everything. Null before the first acquisition.
   */
  fairness: number | null;
  /** Fewest and most acquisitions of any single worker since the start. */
  perWorkerMin: number;
  perWorkerMax: number;
  /**
   * Lock keys of this run without TTL in Redis, by each key's latest sample. Up to 2000 resources are sampled per
   * stats tick, in rotation: with more resources, a key is re-checked every ⌈resources / 2000⌉ ticks.
   */
  stuckLocksNow: number;
  counters: SimCounters;
  /** Sum of the violation counters (see SIM_VIOLATION_COUNTERS). */
  violations: number;
}

/** The final report of a run. */
export interface SimSummary {
  runId: string;
  config: SimConfig;
  startedAt: number;
  /** How long the run actually lasted (ms). */
  durationMs: number;
  /** Why it ended. */
  endReason: 'completed' | 'stopped' | 'error';
  /** Error message when endReason is `error`. */
  error: string | null;
  acquisitions: number;
  failedAcquires: number;
  /** Mean successful acquisitions per second over the whole run. */
  acquisitionsPerSec: number;
  /** Over the whole run (bounded reservoir sample). */
  waitMs: Percentiles;
  holdMs: Percentiles;
  fairness: number | null;
  perWorkerMin: number;
  perWorkerMax: number;
  /** Sum over resources of their final values (each accepted write adds one). */
  resourceTotal: number;
  /** Writes the resources accepted. */
  writesAccepted: number;
  counters: SimCounters;
  violations: number;
}

/** Whether this server runs simulations at all (off against an external Redis unless started with --simulator). */
export type SimAvailability = { enabled: true } | { enabled: false; reason: string };

export interface SimState {
  availability: SimAvailability;
  status: 'idle' | 'running' | 'stopping';
  /** The current (or last) run's id and settings; null before the first run. */
  runId: string | null;
  config: SimConfig | null;
  /** Start of the current run (epoch ms), or null when idle. */
  startedAt: number | null;
  /** The last finished run's summary, if any. */
  lastSummary: SimSummary | null;
}
