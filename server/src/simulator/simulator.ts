import { randomUUID } from 'node:crypto';
import { EventEmitter, setMaxListeners } from 'node:events';
import { Redis } from 'ioredis';
import type { SimConfig, SimStats, SimSummary } from '../../../shared/simulator';
import { Checker, violationsOf } from './checker';
import { isRunKey, isSimPrefix, lockKey, SIM_PREFIX_RULE } from './config';
import { startSlowProxy, type SlowProxy } from './slow-proxy';
import { jainFairness, Reservoir } from './stats';
import { SimWorker } from './worker';

/** How long stopping workers get to release their locks before they are cut off. */
const STOP_GRACE_MS = 3000;
/** Resources whose TTL is sampled per tick for `stuckLocksNow` (in rotation when there are more). */
const STUCK_SAMPLE_MAX = 2000;

export interface SimulationDeps {
  /** The Redis to run against (workers get their own connections to it). */
  redisUrl: string;
}

/**
 * One simulator run: N workers over K resources with the configured strategy and faults, a checker that
 * counts violations, and stats every `statsIntervalMs`. Touches only its own lock and fencing keys under
 * `config.keyPrefix`, which is always under `lockscope:sim:` (deleted with SCAN + UNLINK at start and at the end).
 * Stops by itself after `durationMs`; `stop()` ends it early.
 * No Express or Socket.IO: the CLI and the app both drive it.
 */
export class Simulation extends EventEmitter<{ stats: [SimStats]; end: [SimSummary] }> {
  readonly runId = randomUUID().slice(0, 8);
  startedAt = 0;
  private readonly checker: Checker;
  private readonly stopController = new AbortController();
  private readonly workers: SimWorker[] = [];
  private readonly perWorker: number[];
  private readonly waitAll = new Reservoir(20_000);
  private readonly holdAll = new Reservoir(20_000);
  private readonly waitWindow = new Reservoir(5000);
  private readonly holdWindow = new Reservoir(5000);
  private acquisitions = 0;
  private failed = 0;
  private windowAcquisitions = 0;
  private windowFailed = 0;
  private lastTickAt = 0;
  private stuckNow = 0;
  /** Per resource: 1 when its key had no TTL at its latest sample. */
  private readonly stuckSeen: Uint8Array;
  private stuckCursor = 0;
  private admin: Redis | null = null;
  private proxy: SlowProxy | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  private endTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping: Promise<SimSummary> | null = null;
  private ended = false;
  private resolveDone!: (s: SimSummary) => void;
  /** Resolves with the summary when the run has ended and cleaned up, however it ended. */
  readonly done: Promise<SimSummary>;

  constructor(
    readonly config: SimConfig,
    private readonly deps: SimulationDeps,
  ) {
    super();
    // The schema already enforces this; a config built by hand must not get around it (the prefix is deleted).
    if (!isSimPrefix(config.keyPrefix)) throw new RangeError(`keyPrefix "${config.keyPrefix}" refused: ${SIM_PREFIX_RULE}`);
    this.checker = new Checker(config.resources);
    this.stuckSeen = new Uint8Array(config.resources);
    this.perWorker = Array.from({ length: config.workers }, () => 0);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    // Every worker waits on the stop signal (a few listeners each at a time): not a leak.
    setMaxListeners(config.workers * 8 + 16, this.stopController.signal);
  }

  get status(): 'created' | 'running' | 'stopping' | 'ended' {
    if (this.ended) return 'ended';
    if (this.stopping) return 'stopping';
    return this.running ? 'running' : 'created';
  }

  /** Cleans the prefix, connects every worker and starts the clock. Rejects (having cleaned up) if Redis is unreachable. */
  async start(): Promise<void> {
    const { config } = this;
    const admin = new Redis(this.deps.redisUrl, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 5000,
      connectTimeout: 3000,
      retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 1000),
      connectionName: 'lockscope:sim:admin',
    });
    let connectError: Error | null = null;
    admin.on('error', (err: Error) => (connectError ??= err));
    this.admin = admin;
    try {
      await admin.connect().catch((err: Error) => {
        // ioredis rejects with "Connection is closed."; the 'error' event has the cause (ECONNREFUSED, ENOTFOUND…).
        throw new Error(`Redis is unreachable (${(connectError ?? err).message})`, { cause: err });
      });
      await deleteRunKeys(admin, config.keyPrefix);
      if (config.faults.slowProb > 0) {
        this.proxy = await startSlowProxy(this.deps.redisUrl, { prob: config.faults.slowProb, delayMs: config.faults.slowMs });
      }
    } catch (err) {
      admin.disconnect();
      await this.proxy?.close();
      throw new Error(`simulator could not start: ${(err as Error).message}`, { cause: err });
    }
    this.startedAt = this.lastTickAt = Date.now();
    const ctx = {
      config,
      checker: this.checker,
      workerUrl: this.proxy?.url ?? this.deps.redisUrl,
      stop: this.stopController.signal,
      onAcquired: (worker: number, waitMs: number) => {
        if (this.checker.isSealed) return;
        this.acquisitions++;
        this.windowAcquisitions++;
        this.perWorker[worker]!++;
        this.waitAll.add(waitMs);
        this.waitWindow.add(waitMs);
      },
      onFailed: () => {
        if (this.checker.isSealed) return;
        this.failed++;
        this.windowFailed++;
      },
      onHeld: (holdMs: number) => {
        if (this.checker.isSealed) return;
        this.holdAll.add(holdMs);
        this.holdWindow.add(holdMs);
      },
    };
    for (let i = 0; i < config.workers; i++) this.workers.push(new SimWorker(i, ctx));
    this.running = Promise.all(this.workers.map((w) => w.loop())).then(() => {});
    this.tickTimer = setInterval(() => this.tick(), config.statsIntervalMs);
    this.endTimer = setTimeout(() => void this.stop('completed'), config.durationMs);
  }

  /** Ends the run (idempotent): freezes the counters, lets workers release, cuts off stragglers, deletes the prefix. */
  stop(reason: SimSummary['endReason'] = 'stopped', error: string | null = null): Promise<SimSummary> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      const endedAt = Date.now();
      if (this.tickTimer) clearInterval(this.tickTimer);
      if (this.endTimer) clearTimeout(this.endTimer);
      // Close every open holder interval now so overlaps among them are counted, then stop counting.
      this.checker.endAll(endedAt);
      const finalStats = this.snapshot(endedAt);
      const summary = this.summary(endedAt, reason, error);
      this.checker.seal();
      this.emit('stats', finalStats);
      this.stopController.abort();
      if (this.running) {
        let timer: NodeJS.Timeout | undefined;
        const patience = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), STOP_GRACE_MS)));
        if ((await Promise.race([this.running, patience])) === 'late') {
          for (const w of this.workers) w.kill();
          await this.running;
        }
        clearTimeout(timer);
      }
      this.running = null;
      await this.proxy?.close();
      if (this.admin) {
        await deleteRunKeys(this.admin, this.config.keyPrefix).catch(() => {});
        this.admin.disconnect();
      }
      this.ended = true;
      this.resolveDone(summary);
      this.emit('end', summary);
      return summary;
    })();
    return this.stopping;
  }

  private tick(): void {
    const now = Date.now();
    this.emit('stats', this.snapshot(now));
    this.lastTickAt = now;
    this.windowAcquisitions = 0;
    this.windowFailed = 0;
    this.waitWindow.drain();
    this.holdWindow.drain();
    void this.sampleStuck();
  }

  /**
   * Samples up to STUCK_SAMPLE_MAX resources' PTTL per tick, continuing where the last tick stopped, and counts
   * the keys whose latest sample had no TTL. With more resources than that, each is re-checked every
   * ⌈resources / STUCK_SAMPLE_MAX⌉ ticks.
   */
  private async sampleStuck(): Promise<void> {
    const admin = this.admin;
    if (!admin || admin.status !== 'ready') return;
    const { resources, keyPrefix } = this.config;
    const n = Math.min(resources, STUCK_SAMPLE_MAX);
    const first = this.stuckCursor;
    this.stuckCursor = (first + n) % resources;
    const pipeline = admin.pipeline();
    for (let k = 0; k < n; k++) pipeline.pttl(lockKey(keyPrefix, (first + k) % resources));
    try {
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([err, pttl], k) => {
        if (!err) this.stuckSeen[(first + k) % resources] = pttl === -1 ? 1 : 0;
      });
      let stuck = 0;
      for (const s of this.stuckSeen) stuck += s;
      this.stuckNow = stuck;
    } catch {
      // Redis away: keep the last sample.
    }
  }

  private snapshot(now: number): SimStats {
    const windowMs = Math.max(1, now - this.lastTickAt);
    const counters = { ...this.checker.counters, lostUpdates: this.checker.lostUpdates() };
    return {
      runId: this.runId,
      strategy: this.config.strategy,
      at: now,
      elapsedMs: now - this.startedAt,
      windowMs,
      workersAlive: this.workers.filter((w) => w.alive).length,
      acquisitionsPerSec: round1((this.windowAcquisitions * 1000) / windowMs),
      failedPerSec: round1((this.windowFailed * 1000) / windowMs),
      acquisitions: this.acquisitions,
      failedAcquires: this.failed,
      waitMs: this.waitWindow.percentiles(),
      holdMs: this.holdWindow.percentiles(),
      fairness: jainFairness(this.perWorker),
      perWorkerMin: Math.min(...this.perWorker),
      perWorkerMax: Math.max(...this.perWorker),
      stuckLocksNow: this.stuckNow,
      counters,
      violations: violationsOf(counters),
    };
  }

  private summary(endedAt: number, endReason: SimSummary['endReason'], error: string | null): SimSummary {
    const durationMs = Math.max(1, endedAt - this.startedAt);
    const counters = { ...this.checker.counters, lostUpdates: this.checker.lostUpdates() };
    let resourceTotal = 0;
    let writesAccepted = 0;
    for (const r of this.checker.resources) {
      resourceTotal += r.value;
      writesAccepted += r.writesAccepted;
    }
    return {
      runId: this.runId,
      config: this.config,
      startedAt: this.startedAt,
      durationMs,
      endReason,
      error,
      acquisitions: this.acquisitions,
      failedAcquires: this.failed,
      acquisitionsPerSec: round1((this.acquisitions * 1000) / durationMs),
      waitMs: this.waitAll.percentiles(),
      holdMs: this.holdAll.percentiles(),
      fairness: jainFairness(this.perWorker),
      perWorkerMin: Math.min(...this.perWorker),
      perWorkerMax: Math.max(...this.perWorker),
      resourceTotal,
      writesAccepted,
      counters,
      violations: violationsOf(counters),
    };
  }
}

/**
 * Deletes the keys a run under `prefix` creates (its lock and fencing keys: see isRunKey) with SCAN (never KEYS)
 * + UNLINK, in batches; refuses a prefix outside `lockscope:sim:`. Returns how many it deleted.
 */
export async function deleteRunKeys(redis: Redis, prefix: string): Promise<number> {
  if (!isSimPrefix(prefix)) throw new RangeError(`keyPrefix "${prefix}" refused: ${SIM_PREFIX_RULE}`);
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    // SCAN's MATCH is a glob: check every key again so nothing but the run's own keys can ever be deleted.
    const ours = keys.filter((k) => isRunKey(prefix, k));
    if (ours.length) deleted += await redis.unlink(...ours);
  } while (cursor !== '0');
  return deleted;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

/** Runs a simulation to its end and returns the summary (the CLI and the bench use this). */
export async function runSimulation(
  config: SimConfig,
  deps: SimulationDeps,
  onStats?: (s: SimStats) => void,
  signal?: AbortSignal,
): Promise<SimSummary> {
  const sim = new Simulation(config, deps);
  if (onStats) sim.on('stats', onStats);
  await sim.start();
  const onAbort = () => void sim.stop('stopped');
  signal?.addEventListener('abort', onAbort, { once: true });
  const summary = await sim.done;
  signal?.removeEventListener('abort', onAbort);
  return summary;
}
