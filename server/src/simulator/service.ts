import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { SimAvailability, SimConfig, SimState, SimStats, SimSummary } from '../../../shared/simulator';
import { Simulation } from './simulator';

export class SimulatorError extends Error {
  constructor(
    /** Wire error code: `simulator_disabled`, `sim_running`, `not_running`, `redis_unavailable`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * How several lockscope replicas share one simulator (one run per deployment): the run is claimed before it starts
 * and given back when it ends; a run on another replica shows as this one's state and is stopped there.
 */
export interface SimulatorCoordination {
  /** Claims the deployment's one run; rejects with SimulatorError (`sim_running`, `redis_unavailable`). Resolves to its release. */
  claim(): Promise<() => void>;
  /** The state of a run on another replica (or of the last one there), or null. */
  remote(): SimState | null;
  /** Stops the run on another replica; its summary. */
  stopRemote(): Promise<SimSummary>;
}

/**
 * The app's simulator: at most one run at a time, its state, and its stats as events for the socket layer.
 * State changes are announced once per event-loop turn (after the reply to whoever caused them).
 */
export class SimulatorService extends EventEmitter<{ state: [SimState]; stats: [SimStats] }> {
  /** Set when replicas share the simulator (see SimulatorCoordination). */
  coordination: SimulatorCoordination | null = null;
  private current: Simulation | null = null;
  private lastConfig: SimConfig | null = null;
  private lastSummary: SimSummary | null = null;
  private announce: NodeJS.Immediate | null = null;

  constructor(
    private readonly deps: {
      /** Where the workers connect; null only with an availability that is off. */
      redisUrl: string | null;
      availability: SimAvailability;
      logger: Logger;
    },
  ) {
    super();
  }

  state(): SimState {
    const sim = this.current;
    const remote = this.coordination?.remote() ?? null;
    // A run elsewhere, or one that ended there after this replica's last: that is the deployment's simulator.
    const endOf = (summary: SimSummary | null) => (summary ? summary.startedAt + summary.durationMs : 0);
    if (!sim && remote && (remote.status !== 'idle' || endOf(remote.lastSummary) > endOf(this.lastSummary))) {
      return { ...remote, availability: this.deps.availability };
    }
    return {
      availability: this.deps.availability,
      status: !sim ? 'idle' : sim.status === 'stopping' || sim.status === 'ended' ? 'stopping' : 'running',
      runId: sim?.runId ?? this.lastSummary?.runId ?? null,
      config: sim?.config ?? this.lastConfig,
      startedAt: sim && sim.startedAt ? sim.startedAt : null,
      lastSummary: this.lastSummary,
    };
  }

  /** Starts a run; rejects with SimulatorError when disabled, already running, or Redis is unusable. */
  async start(config: SimConfig): Promise<SimState> {
    const { availability, logger, redisUrl } = this.deps;
    if (!availability.enabled) throw new SimulatorError('simulator_disabled', availability.reason);
    if (redisUrl === null) throw new SimulatorError('simulator_disabled', 'The simulator has no Redis URL to connect its workers to.');
    if (this.current) throw new SimulatorError('sim_running', 'A simulation is already running; stop it first.');
    const release = this.coordination ? await this.coordination.claim() : () => {};
    const sim = new Simulation(config, { redisUrl });
    this.current = sim;
    this.lastConfig = config;
    sim.on('stats', (s) => this.emit('stats', s));
    try {
      await sim.start();
    } catch (err) {
      this.current = null;
      release();
      this.changed();
      throw new SimulatorError('redis_unavailable', (err as Error).message);
    }
    logger.info({ runId: sim.runId, strategy: config.strategy, workers: config.workers, resources: config.resources }, 'simulation started');
    void sim.done.then((summary) => {
      release();
      this.lastSummary = summary;
      if (this.current === sim) this.current = null;
      logger.info({ runId: summary.runId, endReason: summary.endReason, acquisitions: summary.acquisitions, violations: summary.violations }, 'simulation ended');
      this.changed();
    });
    this.changed();
    return this.state();
  }

  /** Stops the running simulation and resolves with its summary once it has cleaned up. */
  async stop(): Promise<SimSummary> {
    const sim = this.current;
    if (!sim && this.coordination?.remote()?.status === 'running') return this.coordination.stopRemote();
    if (!sim) throw new SimulatorError('not_running', 'No simulation is running.');
    const stopping = sim.stop('stopped');
    this.changed();
    return stopping;
  }

  /** For app shutdown: stops any run and waits for its clean-up. */
  async close(): Promise<void> {
    if (this.announce) clearImmediate(this.announce);
    await this.current?.stop('stopped');
  }

  private changed(): void {
    this.announce ??= setImmediate(() => {
      this.announce = null;
      this.emit('state', this.state());
    });
  }
}
