import type { Server } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { ServerStatus } from '../../../shared/status';
import type { TargetSet } from '../targets/target-set';

/** A burst of status changes (a reconnect touches connection, capabilities and feed at once) goes out as one. */
const COALESCE_MS = 50;
/** Lock counts (the target switcher) are looked at this often, and pushed when one moved. */
const COUNT_INTERVAL_MS = 1000;

export interface StatusSources {
  targets: TargetSet;
  version: string;
  patterns: string[];
}

/** Assembles every target's status and pushes it to every browser whenever it changes. */
export class StatusReporter {
  private pending: NodeJS.Timeout | null = null;
  private readonly counter: NodeJS.Timeout;
  private counts = '';

  constructor(
    private readonly io: Server<ClientToServerEvents, ServerToClientEvents>,
    private readonly sources: StatusSources,
  ) {
    sources.targets.on('status', this.schedule);
    this.counter = setInterval(() => {
      const counts = sources.targets.list.map((t) => t.heldCount());
      if (counts.join(',') !== this.counts) this.push(counts);
    }, COUNT_INTERVAL_MS);
    this.counter.unref();
  }

  /** The status now (`locks`: held-lock counts per target when already counted). */
  current(locks?: number[]): ServerStatus {
    const { targets, version, patterns } = this.sources;
    return { version, patterns, targets: targets.list.map((t, i) => t.status(locks?.[i])) };
  }

  dispose(): void {
    this.sources.targets.off('status', this.schedule);
    clearInterval(this.counter);
    if (this.pending) clearTimeout(this.pending);
  }

  private readonly schedule = (): void => {
    this.pending ??= setTimeout(() => {
      this.pending = null;
      this.push();
    }, COALESCE_MS);
  };

  private push(locks?: number[]): void {
    const status = this.current(locks);
    this.counts = status.targets.map((t) => t.locks).join(',');
    // This replica's browsers only: each replica says its own part (its role) in the status.
    this.io.local.emit('server:status', status);
  }
}
