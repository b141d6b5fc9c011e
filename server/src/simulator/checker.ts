import type { SimCounters } from '../../../shared/simulator';
import { SIM_VIOLATION_COUNTERS } from '../../../shared/simulator';

/** One worker's belief that it holds one resource's lock: [start, end] on the local clock (epoch ms). */
export interface HolderInterval {
  resource: number;
  worker: number;
  start: number;
  /** Null while the worker still believes it holds the lock. */
  end: number | null;
  /** The latest moment the worker may trust its lock (its library's validity); ends are clipped to it. */
  trustedUntil: () => number;
}

/**
 * The protected resource: a counter that workers increment with a non-atomic read-modify-write. With fencing,
 * it remembers the highest token it has seen on any access and refuses writes with a lower one.
 */
export class ProtectedResource {
  value = 0;
  highestFence = 0;
  writesAccepted = 0;

  read(fence: number | null): number {
    if (fence !== null && fence > this.highestFence) this.highestFence = fence;
    return this.value;
  }

  /** Returns whether the write was accepted. */
  write(newValue: number, fence: number | null): boolean {
    if (fence !== null) {
      if (fence < this.highestFence) return false;
      this.highestFence = fence;
    }
    this.value = newValue;
    this.writesAccepted++;
    return true;
  }
}

export function emptyCounters(): SimCounters {
  return {
    overlaps: 0,
    foreignReleases: 0,
    foreignRenewals: 0,
    staleWritesAccepted: 0,
    stuckLocksCreated: 0,
    staleWritesRejected: 0,
    lostUpdates: 0,
    lostLocksDetected: 0,
    refusedByOwnerCheck: 0,
    expiryReapplied: 0,
    crashes: 0,
    pauses: 0,
    redisErrors: 0,
  };
}

export function violationsOf(c: SimCounters): number {
  return SIM_VIOLATION_COUNTERS.reduce((sum, name) => sum + c[name], 0);
}

/**
 * Records what every worker did and counts the failures of mutual exclusion and ownership.
 *
 * Two sources of truth: the workers' own views (holder intervals), and what Redis did, which the strategies
 * report exactly — each acquisition writes a unique tag into the key, and the unsafe strategies' DEL and
 * PEXPIRE run as scripts that return the tag of the lock they acted on (same effect as the plain command,
 * but observable). From those the checker knows whose lock Redis holds for each resource at every step.
 *
 * Once `seal()`ed (the run is stopping), it stops counting: workers winding down do not change the result.
 */
export class Checker {
  readonly counters: SimCounters = emptyCounters();
  readonly resources: ProtectedResource[];
  /** Tag of the lock Redis holds per resource, by the latest acquisition or delete we saw; null = free. */
  private readonly owner: (string | null)[];
  private readonly open: Set<HolderInterval>[];
  private readonly closed: HolderInterval[][];
  private sealed = false;

  constructor(resources: number) {
    this.resources = Array.from({ length: resources }, () => new ProtectedResource());
    this.owner = Array.from({ length: resources }, () => null);
    this.open = Array.from({ length: resources }, () => new Set());
    this.closed = Array.from({ length: resources }, () => []);
  }

  seal(): void {
    this.sealed = true;
  }

  get isSealed(): boolean {
    return this.sealed;
  }

  count(name: keyof SimCounters, by = 1): void {
    if (!this.sealed) this.counters[name] += by;
  }

  /** Redis now holds `tag` in the resource's key (its SET NX / SETNX succeeded). */
  acquiredInRedis(resource: number, tag: string): void {
    this.owner[resource] = tag;
  }

  /** A DEL by `byTag`'s holder removed the lock `deletedTag` (null: nothing was there). */
  deleted(resource: number, byTag: string, deletedTag: string | null): void {
    if (deletedTag === null) return;
    if (deletedTag !== byTag) this.count('foreignReleases');
    if (this.owner[resource] === deletedTag) this.owner[resource] = null;
  }

  /** A PEXPIRE by `byTag`'s holder extended the lock `renewedTag` (null: the key was gone). */
  renewed(resource: number, byTag: string, renewedTag: string | null): void {
    if (renewedTag !== null && renewedTag !== byTag) this.count('foreignRenewals');
  }

  /** The worker starts believing it holds the lock. */
  begin(resource: number, worker: number, at: number, trustedUntil: () => number = () => Infinity): HolderInterval {
    const interval: HolderInterval = { resource, worker, start: at, end: null, trustedUntil };
    this.open[resource]!.add(interval);
    return interval;
  }

  /**
   * The worker stops believing it holds the lock at `at` (released, crashed), or earlier if its lock's validity
   * ran out before that. Returns the interval's length (ms), or null if it had already ended.
   */
  end(interval: HolderInterval, at: number): number | null {
    if (interval.end !== null) return null;
    interval.end = Math.max(interval.start, Math.min(at, interval.trustedUntil()));
    const open = this.open[interval.resource]!;
    const closed = this.closed[interval.resource]!;
    open.delete(interval);
    for (const other of closed) {
      if (other.end! > interval.start && other.start < interval.end) this.count('overlaps');
    }
    closed.push(interval);
    // A closed interval matters only while something still open (or yet to start, i.e. from now on) began before it ended.
    let horizon = Date.now();
    for (const o of open) horizon = Math.min(horizon, o.start);
    if (closed.length > 8) this.closed[interval.resource] = closed.filter((c) => c.end! > horizon);
    return interval.end - interval.start;
  }

  /** A read at the start of the critical section. */
  read(resource: number, fence: number | null): number {
    return this.resources[resource]!.read(fence);
  }

  /** The write at the end of the critical section; stale when Redis no longer holds the writer's lock. */
  write(resource: number, tag: string, fence: number | null, value: number): boolean {
    const stale = this.owner[resource] !== tag;
    const accepted = this.resources[resource]!.write(value, fence);
    if (stale) this.count(accepted ? 'staleWritesAccepted' : 'staleWritesRejected');
    return accepted;
  }

  /** Accepted writes that the counters do not show: increments lost to overlapping read-modify-writes. */
  lostUpdates(): number {
    let lost = 0;
    for (const r of this.resources) lost += r.writesAccepted - r.value;
    return lost;
  }

  /** Closes every interval still open (at the end of the run). */
  endAll(at: number): void {
    for (const open of this.open) for (const interval of [...open]) this.end(interval, at);
  }
}
