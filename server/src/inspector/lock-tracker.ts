import { EventEmitter } from 'node:events';
import type { LockEvent, LockEventKind, LockHistory, LockState, LockView, OwnerView, TtlSample } from '../../../shared/locks';
import { bytesView } from './bytes';
import type { ProbedKey } from './probe';
import { recognise, sideKeyOf, type Recognition, type RenewalRule } from './recognise';

/** A renewal must push the deadline out by more than this, so probe round-trip jitter is never a "renewal". */
export const RENEWAL_THRESHOLD_MS = 50;
/** A key gone within this much of its deadline expired; gone earlier, it was released. */
export const EXPIRY_TOLERANCE_MS = 50;
/** How long a released/expired lock stays visible before it is dropped. */
export const ENDED_VISIBLE_MS = 10_000;
/** Bounds of one lock's history (oldest dropped first). */
export const HISTORY_EVENTS = 64;
export const HISTORY_SAMPLES = 240;
/** A probe that sees the effect of lockscope's own action (force-release, TTL set) this soon after it adds no second event. */
const FORCE_RELEASE_WINDOW_MS = 5_000;

export interface TrackerOptions {
  heldTooLongMs: number;
  clock?: () => number;
}

/**
 * TTL samples in a ring of two typed arrays, grown on demand up to HISTORY_SAMPLES: 16 bytes a sample instead
 * of a ~40-byte object, and nothing at all for a lock whose history nobody has built up yet.
 */
class SampleRing {
  private at = new Float64Array(8);
  private ttl = new Float64Array(8);
  private start = 0;
  size = 0;

  push(at: number, pttlMs: number): void {
    if (this.size === this.at.length && this.size < HISTORY_SAMPLES) this.grow();
    const cap = this.at.length;
    const i = (this.start + this.size) % cap;
    this.at[i] = at;
    this.ttl[i] = pttlMs;
    if (this.size < cap) this.size++;
    else this.start = (this.start + 1) % cap;
  }

  lastAt(): number | null {
    return this.size ? this.at[(this.start + this.size - 1) % this.at.length]! : null;
  }

  toArray(): TtlSample[] {
    const out: TtlSample[] = [];
    const cap = this.at.length;
    for (let n = 0; n < this.size; n++) {
      const i = (this.start + n) % cap;
      out.push({ at: this.at[i]!, pttlMs: this.ttl[i]! });
    }
    return out;
  }

  private grow(): void {
    const cap = Math.min(this.at.length * 2, HISTORY_SAMPLES);
    const at = new Float64Array(cap);
    const ttl = new Float64Array(cap);
    for (let n = 0; n < this.size; n++) {
      const i = (this.start + n) % this.at.length;
      at[n] = this.at[i]!;
      ttl[n] = this.ttl[i]!;
    }
    this.at = at;
    this.ttl = ttl;
    this.start = 0;
  }
}

interface Tracked {
  key: Buffer;
  view: LockView;
  /** How the lock's library renews (shared object), or null. */
  rule: RenewalRule | null;
  /** Largest PTTL seen for the current owner: the lease the holder asked for. */
  maxTtlMs: number;
  /** Sum and count of observed renewal intervals (for the mean). */
  intervalSum: number;
  intervalCount: number;
  /** History, allocated on first use and kept across owners of the same key. */
  events: LockEvent[] | null;
  samples: SampleRing | null;
}

export interface TrackerEvents {
  /** A lock appeared, changed or ended: its view is new. */
  change: [view: LockView];
  /** A lock left the table for good. */
  remove: [id: string];
  /**
   * Something happened to a lock (for history, metrics and logs). `amends` is true when the event relabels the
   * previous one (a `released` that turned out to be lockscope's own force-release) instead of adding to it.
   */
  event: [id: string, event: LockEvent, view: LockView, amends: boolean];
}

/**
 * The lock model: folds probe results into one view per key and tells what changed. Knows nothing of Redis
 * connections or sockets; time comes from the injected clock, so every rule here is testable directly.
 */
export class LockTracker extends EventEmitter<TrackerEvents> {
  private readonly locks = new Map<string, Tracked>();
  /** Waiters per lock id from Redisson fair-lock queues (side keys), applied to the lock's owner fields. */
  private readonly waiters = new Map<string, number>();
  private readonly clock: () => number;

  constructor(private readonly options: TrackerOptions) {
    super();
    this.clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.locks.size;
  }

  views(): LockView[] {
    const out: LockView[] = [];
    for (const t of this.locks.values()) out.push(t.view);
    return out;
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
    return t && { id, events: t.events ? [...t.events] : [], ttl: t.samples?.toArray() ?? [] };
  }

  /** Folds one probe result in. */
  apply({ key, result, observedAt }: ProbedKey): void {
    const id = key.toString('base64');
    const prev = this.locks.get(id);
    if (!result.exists) {
      if (prev && prev.view.endedAt === null) this.end(id, prev, observedAt);
      else if (!prev) this.sideKeyGone(key);
      return;
    }
    const recognition = recognise(key, result);
    if (recognition.role === 'side-key') {
      this.sideKeySeen(key, result.size);
      return;
    }
    const deadline = result.pttlMs >= 0 ? observedAt + result.pttlMs : null;
    const ownerB64 = recognition.owner?.toString('base64') ?? null;

    if (!prev || prev.view.endedAt !== null || prev.view.owner?.base64 !== ownerB64) {
      let kind: LockEventKind = 'acquired';
      if (prev && prev.view.endedAt === null) {
        // Gone at its deadline and taken again before we looked: an expiry and a new lock, not a takeover.
        if (prev.view.deadline !== null && observedAt >= prev.view.deadline - EXPIRY_TOLERANCE_MS) this.end(id, prev, observedAt);
        else kind = 'owner-changed';
      }
      const t = this.fresh(key, id, result, recognition, deadline, observedAt, prev);
      this.locks.set(id, t);
      this.record(id, t, { at: observedAt, kind, pttlMs: result.pttlMs, owner: t.view.owner?.text ?? null });
      this.sample(t, observedAt, result.pttlMs, true);
      this.emit('change', t.view);
      return;
    }

    const t = prev;
    const v = t.view;
    let changed = false;
    let event: LockEventKind | null = null;
    const before = v.deadline;
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
    t.maxTtlMs = event === 'ttl-set' ? result.pttlMs : Math.max(t.maxTtlMs, result.pttlMs);
    if (recognition.reentryCount !== v.reentryCount) {
      v.reentryCount = recognition.reentryCount;
      changed = true;
    }
    if (v.owner && recognition.fields.holders !== v.owner.fields.holders) {
      if (recognition.fields.holders === undefined) delete v.owner.fields.holders;
      else v.owner.fields.holders = recognition.fields.holders;
      changed = true;
    }
    t.rule = recognition.renewal;
    const expected = expectedRenewal(t);
    if (expected !== v.expectedRenewalMs) {
      v.expectedRenewalMs = expected;
      changed = true;
    }
    // The renewal sawtooth: where the TTL had fallen to just before it jumped back up.
    if (event === 'renewed' && before !== null) this.sample(t, observedAt - 1, Math.max(0, before - observedAt), true);
    this.sample(t, observedAt, result.pttlMs, event !== null);
    // lockscope's own TTL-set was noted when it was made: the probe that sees it adds no second event.
    if (event && !(event === 'ttl-set' && this.lastEventIs(t, 'ttl-set', observedAt))) {
      this.record(id, t, { at: observedAt, kind: event, pttlMs: result.pttlMs, owner: v.owner?.text ?? null });
    }
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

  /**
   * Records an event that lockscope itself caused (force-release, TTL set) before the probe sees its effect.
   * `force-released` ends the lock at once, so the probe that later finds the key gone adds nothing; if a probe
   * already recorded the disappearance as `released`, that event is relabelled instead of adding a second one.
   */
  note(id: string, kind: LockEventKind, pttlMs: number): void {
    const t = this.locks.get(id);
    if (!t) return;
    const now = this.clock();
    const v = t.view;
    if (kind === 'force-released') {
      if (v.endedAt === null) {
        v.state = 'released';
        v.endedAt = now;
        v.pttlMs = -2;
        this.record(id, t, { at: now, kind, pttlMs: -2, owner: v.owner?.text ?? null });
        this.emit('change', v);
        return;
      }
      const last = t.events?.[t.events.length - 1];
      if (last && last.kind === 'released' && now - v.endedAt < FORCE_RELEASE_WINDOW_MS) {
        last.kind = 'force-released';
        this.emit('event', id, last, v, true);
        return;
      }
    }
    if (kind === 'ttl-set' && this.lastEventIs(t, 'ttl-set', now)) return;
    this.record(id, t, { at: now, kind, pttlMs, owner: v.owner?.text ?? null });
  }

  private lastEventIs(t: Tracked, kind: LockEventKind, now: number): boolean {
    const last = t.events?.[t.events.length - 1];
    return last !== undefined && last.kind === kind && now - last.at < FORCE_RELEASE_WINDOW_MS;
  }

  /** Forgets every lock (after a resync the next probes rebuild the table). */
  clear(): void {
    for (const id of this.locks.keys()) this.emit('remove', id);
    this.locks.clear();
    this.waiters.clear();
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
    let owner: OwnerView | null = null;
    if (recognition.owner) {
      owner = {
        ...bytesView(recognition.owner),
        truncated: result.type === 'string' && result.size > recognition.owner.length,
        sizeBytes: result.size,
        fields: recognition.fields,
      };
      const waiting = this.waiters.get(id);
      if (waiting) owner.fields.waiters = String(waiting);
    }
    const t: Tracked = {
      // Redis replies may be slices of a large socket buffer: keep a copy of just the key.
      key: prev?.key ?? Buffer.from(key),
      rule: recognition.renewal,
      maxTtlMs: result.pttlMs,
      intervalSum: 0,
      intervalCount: 0,
      // The key's history outlives a change of owner: that is the story an operator wants to read.
      events: prev?.events ?? null,
      samples: prev?.samples ?? null,
      view: {
        id,
        // `id` is the key's base64: share the one string.
        key: prev?.view.key ?? { ...bytesView(key), base64: id },
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
    this.sample(t, v.endedAt, 0, true);
    this.record(id, t, { at: v.endedAt, kind: expired ? 'expired' : 'released', pttlMs: -2, owner: v.owner?.text ?? null });
    this.emit('change', v);
  }

  private sideKeySeen(key: Buffer, size: number): void {
    const side = sideKeyOf(key);
    if (side?.kind === 'waiters' && side.parent) this.setWaiters(side.parent.toString('base64'), size);
  }

  private sideKeyGone(key: Buffer): void {
    const side = sideKeyOf(key);
    if (side?.kind === 'waiters' && side.parent) this.setWaiters(side.parent.toString('base64'), 0);
  }

  private setWaiters(parentId: string, n: number): void {
    if (n > 0) this.waiters.set(parentId, n);
    else this.waiters.delete(parentId);
    const owner = this.locks.get(parentId)?.view.owner;
    if (!owner || owner.fields.waiters === (n > 0 ? String(n) : undefined)) return;
    if (n > 0) owner.fields.waiters = String(n);
    else delete owner.fields.waiters;
    this.emit('change', this.locks.get(parentId)!.view);
  }

  private restate(t: Tracked, now: number): boolean {
    const next = stateOf(t, now, this.options.heldTooLongMs);
    if (next === t.view.state) return false;
    t.view.state = next;
    return true;
  }

  private record(id: string, t: Tracked, event: LockEvent): void {
    const events = (t.events ??= []);
    events.push(event);
    if (events.length > HISTORY_EVENTS) events.shift();
    this.emit('event', id, event, t.view, false);
  }

  private sample(t: Tracked, at: number, pttlMs: number, always: boolean): void {
    const samples = (t.samples ??= new SampleRing());
    const last = samples.lastAt();
    // Probes of a quiet lock add nothing a straight line between two samples would not show.
    if (!always && last !== null && at - last < 100) return;
    samples.push(at, pttlMs);
  }
}

/**
 * The lease a holder asked for, from the largest PTTL seen: that is read a few ms after the library set it, and
 * leases are round numbers, so round up to two significant digits (1996 → 2000, 29 993 → 30 000).
 */
export function leaseOf(maxTtlMs: number): number {
  if (maxTtlMs < 100) return maxTtlMs;
  const step = 10 ** (Math.floor(Math.log10(maxTtlMs)) - 1);
  return Math.ceil(maxTtlMs / step) * step;
}

function expectedRenewal(t: Tracked): number | null {
  const r = t.rule;
  if (!r || t.maxTtlMs <= 0) return null;
  const lease = leaseOf(t.maxTtlMs);
  if (!r.always(lease) && t.view.renewals === 0) return null;
  return r.cadence(lease);
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
