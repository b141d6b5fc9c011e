import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { SimConfig } from '../../../shared/simulator';
import type { Checker } from './checker';
import { Crashed, Freezer } from './freezer';
import { createStrategy, type Holding } from './strategies';

/** What all workers of a run share. */
export interface RunContext {
  config: SimConfig;
  checker: Checker;
  /** Where workers connect: Redis itself, or the slow proxy in front of it. */
  workerUrl: string;
  stop: AbortSignal;
  /** A successful acquisition and how long it took (ms). */
  onAcquired(worker: number, waitMs: number): void;
  /** An acquire attempt that gave up after acquireTimeoutMs. */
  onFailed(worker: number): void;
  /** A holder interval ended after `holdMs`. */
  onHeld(holdMs: number): void;
}

/**
 * One simulated process: a loop of pick-a-resource, acquire, read-modify-write, release, on its own Redis
 * connection. A crash drops the connection and all of the worker's timers without releasing anything; the
 * worker comes back `respawnDelayMs` later as a new incarnation with a fresh connection.
 */
export class SimWorker {
  alive = false;
  private incarnation: { redis: Redis; timers: Freezer } | null = null;
  private seq = 0;

  constructor(
    readonly id: number,
    private readonly ctx: RunContext,
  ) {}

  async loop(): Promise<void> {
    const { config, stop } = this.ctx;
    while (!stop.aborted) {
      const ended = await this.live();
      if (ended === 'crashed' || ended === 'unreachable') {
        await sleep(ended === 'crashed' ? config.faults.respawnDelayMs : 500, undefined, { signal: stop }).catch(() => {});
      }
    }
  }

  /** Ends the current incarnation at once (used when a stopping run runs out of patience). */
  kill(): void {
    this.incarnation?.timers.kill();
    this.incarnation?.redis.disconnect();
  }

  private async live(): Promise<'crashed' | 'stopped' | 'unreachable'> {
    const { config, checker, stop } = this.ctx;
    const timers = new Freezer();
    const redis = new Redis(this.ctx.workerUrl, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 5000,
      connectTimeout: 3000,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
      connectionName: `lockscope:sim:w${this.id}`,
    });
    redis.on('error', () => {});
    this.incarnation = { redis, timers };
    try {
      await redis.connect();
    } catch {
      checker.count('redisErrors');
      redis.disconnect();
      return 'unreachable';
    }
    const crash = (): never => {
      timers.kill();
      redis.disconnect();
      checker.count('crashes');
      throw new Crashed();
    };
    const strategy = createStrategy({
      redis,
      timers,
      config,
      checker,
      stop,
      crash,
      nextTag: () => `sim-w${this.id}-${++this.seq}`,
    });
    this.alive = true;
    try {
      while (!stop.aborted) {
        const resource = Math.floor(Math.random() * config.resources);
        const attemptStart = Date.now();
        try {
          const outcome = await strategy.run(resource, (h) => this.section(resource, h, attemptStart, timers, crash));
          if (outcome === 'timeout') this.ctx.onFailed(this.id);
        } catch (err) {
          if (err instanceof Crashed || timers.killed) return 'crashed';
          checker.count('redisErrors');
          await sleep(Math.max(config.retryDelayMs, 50), undefined, { signal: stop }).catch(() => {});
        }
        try {
          await timers.sleep(config.thinkMs, stop);
        } catch {
          return 'crashed';
        }
      }
      return 'stopped';
    } finally {
      this.alive = false;
      timers.kill();
      redis.disconnect();
      this.incarnation = null;
    }
  }

  /**
   * The critical section: read the resource, work for the hold time (where crashes and pauses strike), then —
   * if the strategy still believes in its lock — write the incremented value back. Non-atomic on purpose: only
   * mutual exclusion keeps the resource's count exact.
   */
  private async section(resource: number, holding: Holding, attemptStart: number, timers: Freezer, crash: () => never): Promise<void> {
    const { config, checker, stop } = this.ctx;
    const { faults } = config;
    const acquiredAt = Date.now();
    this.ctx.onAcquired(this.id, acquiredAt - attemptStart);
    const interval = checker.begin(resource, this.id, acquiredAt, holding.trustedUntil);
    const finish = () => {
      const held = checker.end(interval, Date.now());
      if (held !== null) this.ctx.onHeld(held);
    };
    try {
      const before = checker.read(resource, holding.fence);
      const hold = holdTime(config);
      const events: { at: number; kind: 'crash' | 'pause' }[] = [];
      if (Math.random() < faults.crashProb) events.push({ at: Math.random() * hold, kind: 'crash' });
      const pausing = Math.random() < faults.pauseProb;
      if (pausing && faults.pauseAt === 'hold') events.push({ at: Math.random() * hold, kind: 'pause' });
      events.sort((a, b) => a.at - b.at);
      let elapsed = 0;
      for (const event of events) {
        await timers.sleep(event.at - elapsed, stop);
        elapsed = event.at;
        if (stop.aborted) return;
        if (event.kind === 'crash') {
          finish();
          crash();
        }
        checker.count('pauses');
        await timers.freeze(faults.pauseMs, stop);
      }
      await timers.sleep(hold - elapsed, stop);
      if (stop.aborted) return;
      if (!holding.mayWrite()) {
        checker.count('lostLocksDetected');
        return;
      }
      if (pausing && faults.pauseAt === 'before-write') {
        checker.count('pauses');
        await timers.freeze(faults.pauseMs, stop);
        if (stop.aborted) return;
      }
      checker.write(resource, holding.tag, holding.fence, before + 1);
    } finally {
      finish();
    }
  }
}

function holdTime(config: SimConfig): number {
  const mean = config.holdMs;
  switch (config.holdDistribution) {
    case 'fixed':
      return mean;
    case 'uniform':
      return Math.random() * 2 * mean;
    case 'exponential':
      return Math.min(10 * mean, -mean * Math.log(1 - Math.random()));
  }
}
