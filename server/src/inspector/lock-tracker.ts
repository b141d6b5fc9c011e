import { EventEmitter } from 'node:events';
import type { LockEvent, LockEventKind, LockHistory, LockState, LockView, TtlSample } from '../../../shared/locks';
import { bytesView } from './bytes';
import type { ProbedKey } from './probe';
import { recognise, type Recognition } from './recognise';

/** A renewal must push the deadline out by more than this, so probe round-trip jitter is never a "renewal". */
export const RENEWAL_THRESHOLD_MS = 50;
/** A key gone within this much of its deadline expired; gone earlier, it was released. */
export const EXPIRY_TOLERANCE_MS = 50;
/** How long a released/expired lock stays visible before it is dropped. */
export const ENDED_VISIBLE_MS = 10_000;
const HISTORY_EVENTS = 64;
const HISTORY_SAMPLES = 240;

export interface TrackerOptions {
  heldTooLongMs: number;
  clock?: () => number;
}

interface Tracked {
  key: Buffer;
  view: LockView;
  recognition: Recognition | null;
  /** Largest PTTL seen for the current owner: the lease the holder asked for. */
  maxTtlMs: number;
  /** Sum and count of observed renewal intervals (for the mean). */
  intervalSum: number;
  intervalCount: number;
  events: LockEvent[];
  samples: TtlSample[];
}

export interface TrackerEvents {
  /** A lock appeared, changed or ended: its view is new. */
  change: [view: LockView];
  /** A lock left the table for good. */
  remove: [id: string];
  /** Something happened to a lock (for history, metrics and logs). */
  event: [id: string, event: LockEvent, view: LockView];
}

/**
 * The lock model: folds probe results into one view per key and tells what changed. Knows nothing of Redis
 * connections or sockets; time comes from the injected clock, so every rule here is testable directly.
 */
export class LockTracker extends EventEmitter<TrackerEvents> {
  private readonly locks = new Map<string, Tracked>();
  private readonly clock: () => number;

  constructor(private readonly options: TrackerOptions) {
    super();
    this.clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.locks.size;
  }

  views(): LockView[] {
    return [...this.locks.values()].map((t) => t.view);
  }

  get(id: string): LockView | undefined {
    return this.locks.get(id)?.view;
  }

  /** Raw keys of every lock still held (not ended), for re-probing. */
  heldKeys(): Buffer[] {
    const keys: Buffer[] = [];
    for (const t of this.locks.values()) if (t.view.endedAt === null) keys.push(t.key);
    return keys;
  }

  history(id: string): LockHistory | undefined {
    const t = this.locks.get(id);
    return t && { id, events: [...t.events], ttl: [...t.samples] };
  }

  /** Folds one probe result in. */
  apply({ key, result, observedAt }: ProbedKey): void {
    const id = key.toString('base64');
    const prev = this.locks.get(id);
    if (!result.exists) {
      if (prev && prev.view.endedAt === null) this.end(id, prev, observedAt);
      return;
    }
    const recognition = recognise(key, result);
    if (recognition.role === 'side-key') return;
    const deadline = result.pttlMs >= 0 ? observedAt + result.pttlMs : null;
    const ownerB64 = recognition.owner?.toString('base64') ?? null;

    if (!prev || prev.view.endedAt !== null || prev.view.owner?.base64 !== ownerB64) {
      const kind: LockEventKind = prev && prev.view.endedAt === null ? 'owner-changed' : 'acquired';
      const t = this.fresh(key, id, result, recognition, deadline, observedAt, prev);
      this.locks.set(id, t);
      this.record(id, t, { at: observedAt, kind, pttlMs: result.pttlMs, owner: t.view.owner?.text ?? null });
      this.sample(t, observedAt, result.pttlMs);
      this.emit('change', t.view);
      return;
    }

    const t = prev;
    const v = t.view;
    let changed = false;
    let event: LockEventKind | null = null;
    if (v.deadline !== null && deadline === null) event = 'ttl-removed';
    else if (v.deadline === null && deadline !== null) event = 'ttl-set';
    else if (v.deadline !== null && deadline !== null && deadline > v.deadline + RENEWAL_THRESHOLD_MS) {
      event = 'renewed';
      if (v.lastRenewalAt !== null) {
        t.intervalSum += observedAt - v.lastRenewalAt;
        t.intervalCount++;
      }
      v.renewals++;
      v.lastRenewalAt = observedAt;
      v.renewalIntervalMs = t.intervalCount ? Math.round(t.intervalSum / t.intervalCount) : null;
    }
    // Deadlines of an unchanged lock wobble by the probe's round trip: only a real move is news.
    if (event || (deadline !== null && v.deadline !== null && Math.abs(deadline - v.deadline) > RENEWAL_THRESHOLD_MS)) {
      v.deadline = deadline;
      changed = true;
    }
    v.pttlMs = result.pttlMs;
    t.maxTtlMs = Math.max(t.maxTtlMs, result.pttlMs);
    if (recognition.reentryCount !== v.reentryCount) {
      v.reentryCount = recognition.reentryCount;
      changed = true;
    }
    t.recognition = recognition;
    v.expectedRenewalMs = expectedRenewal(t);
    this.sample(t, observedAt, result.pttlMs);
    if (event) this.record(id, t, { at: observedAt, kind: event, pttlMs: result.pttlMs, owner: v.owner?.text ?? null });
    if (this.restate(t, observedAt) || changed) this.emit('change', v);
  }

  /** Time moves states on (expiring, overdue, held too long) and drops ended locks; call about once a second. */
  tick(): void {
    const now = this.clock();
    for (const [id, t] of this.locks) {
      if (t.view.endedAt !== null) {
        if (now - t.view.endedAt >= ENDED_VISIBLE_MS) {
          this.locks.delete(id);
          this.emit('remove', id);
        }
      } else if (this.restate(t, now)) {
        this.emit('change', t.view);
      }
    }
  }

  /** Records an event that lockscope itself caused (force-release, TTL set) before the probe sees its effect. */
  note(id: string, kind: LockEventKind, pttlMs: number): void {
    const t = this.locks.get(id);
    if (t) this.record(id, t, { at: this.clock(), kind, pttlMs, owner: t.view.owner?.text ?? null });
  }

  /** Forgets every lock (after a resync the next probes rebuild the table). */
  clear(): void {
    for (const id of this.locks.keys()) this.emit('remove', id);
    this.locks.clear();
  }

  private fresh(
    key: Buffer,
    id: string,
    result: Extract<ProbedKey['result'], { exists: true }>,
    recognition: Recognition,
    deadline: number | null,
    observedAt: number,
    prev: Tracked | undefined,
  ): Tracked {
    const owner = recognition.owner
      ? {
          ...bytesView(recognition.owner),
          truncated: result.type === 'string' && result.size > recognition.owner.length,
          sizeBytes: result.size,
          fields: recognition.fields,
        }
      : null;
    const t: Tracked = {
      key,
      recognition,
      maxTtlMs: result.pttlMs,
      intervalSum: 0,
      intervalCount: 0,
      // The key's history outlives a change of owner: that is the story an operator wants to read.
      events: prev?.events ?? [],
      samples: prev?.samples ?? [],
      view: {
        id,
        key: prev?.view.key ?? bytesView(key),
        type: result.type,
        library: result.type === 'string' || result.type === 'hash' ? recognition.library : 'unknown',
        owner,
        reentryCount: recognition.reentryCount,
        pttlMs: result.pttlMs,
        deadline,
        acquiredAt: recognition.acquiredAt ?? observedAt,
        renewals: 0,
        lastRenewalAt: null,
        renewalIntervalMs: null,
        expectedRenewalMs: null,
        state: 'held',
        endedAt: null,
      },
    };
    t.view.expectedRenewalMs = expectedRenewal(t);
    t.view.state = stateOf(t, observedAt, this.options.heldTooLongMs);
    return t;
  }

  private end(id: string, t: Tracked, observedAt: number): void {
    const v = t.view;
    const expired = v.deadline !== null && observedAt >= v.deadline - EXPIRY_TOLERANCE_MS;
    v.state = expired ? 'expired' : 'released';
    // An expiry happened at the deadline, not when we noticed it.
    v.endedAt = expired ? Math.min(observedAt, v.deadline!) : observedAt;
    v.pttlMs = -2;
    this.record(id, t, { at: v.endedAt, kind: v.state === 'expired' ? 'expired' : 'released', pttlMs: -2, owner: v.owner?.text ?? null });
    this.emit('change', v);
  }

  private restate(t: Tracked, now: number): boolean {
    const next = stateOf(t, now, this.options.heldTooLongMs);
    if (next === t.view.state) return false;
    t.view.state = next;
    return true;
  }

  private record(id: string, t: Tracked, event: LockEvent): void {
    t.events.push(event);
    if (t.events.length > HISTORY_EVENTS) t.events.shift();
    this.emit('event', id, event, t.view);
  }

  private sample(t: Tracked, at: number, pttlMs: number): void {
    const last = t.samples[t.samples.length - 1];
    // Probes of a quiet lock add nothing a straight line between two samples would not show.
    if (last && at - last.at < 100) return;
    t.samples.push({ at, pttlMs });
    if (t.samples.length > HISTORY_SAMPLES) t.samples.shift();
  }
}

function expectedRenewal(t: Tracked): number | null {
  const r = t.recognition;
  if (!r?.renewalCadence || t.maxTtlMs <= 0) return null;
  if (!r.alwaysRenews(t.maxTtlMs) && t.view.renewals === 0) return null;
  return r.renewalCadence(t.maxTtlMs);
}

export function stateOf(t: Pick<Tracked, 'view' | 'maxTtlMs'>, now: number, heldTooLongMs: number): LockState {
  const v = t.view;
  if (v.endedAt !== null) return v.state;
  if (v.type !== 'string' && v.type !== 'hash') return 'unexpected-type';
  if (v.deadline === null) return 'no-ttl';
  const lastActivity = v.lastRenewalAt ?? v.acquiredAt;
  if (v.expectedRenewalMs !== null && now - lastActivity > 1.5 * v.expectedRenewalMs) return 'renewal-overdue';
  if (now - v.acquiredAt > heldTooLongMs) return 'held-too-long';
  const remaining = v.deadline - now;
  if (remaining < 5000 && remaining < 0.2 * Math.max(t.maxTtlMs, 1)) return 'expiring';
  return 'held';
}

