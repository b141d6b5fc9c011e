import { EventEmitter } from 'node:events';
import type {
  BytesView,
  LibraryId,
  LockEvent,
  LockEventKind,
  LockHistory,
  LockState,
  LockView,
  OwnerView,
  RedisKeyType,
  TtlSample,
} from '../../../shared/locks';
import { createLibraries, type Libraries, type Recognition, type RenewalRule } from '../libraries';
import { bytesText, isEscapedText, isPlainText, plainText, shownBytes } from './bytes';
import { HolderGroup, type GroupRecord } from './holder-group';
import type { ProbedKey } from './probe-result';

/** A renewal must push the deadline out by more than this, so probe round-trip jitter is never a "renewal". */
export const RENEWAL_THRESHOLD_MS = 50;
/**
 * A deadline is shown on this server's clock: Redis's deadline plus the estimated offset between the clocks. The
 * estimate firms up as probes come back quickly; a shown deadline follows it once it moved by more than this.
 */
export const DEADLINE_SHIFT_MS = 10;
/** A key gone within this much of its deadline expired; gone earlier, it was released. */
export const EXPIRY_TOLERANCE_MS = 50;
/** How long a released/expired lock stays visible before it is dropped. */
export const ENDED_VISIBLE_MS = 10_000;
/** A lost lock stays longer: its holder may still be working as if it held it, and someone should look. */
export const LOST_VISIBLE_MS = 60_000;
/** Bounds of one lock's history (oldest dropped first). */
export const HISTORY_EVENTS = 64;
export const HISTORY_SAMPLES = 240;
/** A probe that sees the effect of lockscope's own action (force-release, TTL set) this soon after it adds no second event. */
const FORCE_RELEASE_WINDOW_MS = 5_000;

export interface TrackerOptions {
  heldTooLongMs: number;
  clock?: () => number;
  /** What lockscope knows of lock libraries (built-in adapters plus declared formats); default: the built-ins. */
  libraries?: Libraries;
}

/**
 * TTL samples in a ring kept in one plain array of doubles (time and TTL interleaved): V8 stores it unboxed at
 * 8 bytes a number, sized exactly on creation (a lock seen once costs ~60 bytes, where a typed array costs ~240),
 * grown by push up to HISTORY_SAMPLES.
 */
class SampleRing {
  /** Becomes a Float64Array of exactly HISTORY_SAMPLES pairs once full (a grown array keeps ~50% slack). */
  private data: number[] | Float64Array;
  private start = 0;
  size = 1;

  constructor(at: number, pttlMs: number) {
    this.data = [at, pttlMs];
  }

  /** A ring holding flat `at, pttlMs` pairs (another replica's history), or null for none. */
  static from(flat: readonly number[]): SampleRing | null {
    if (flat.length < 2) return null;
    const ring = new SampleRing(flat[0]!, flat[1]!);
    for (let i = 2; i + 1 < flat.length; i += 2) ring.push(flat[i]!, flat[i + 1]!);
    return ring;
  }

  /** The samples as flat `at, pttlMs` pairs, oldest first. */
  flat(): number[] {
    const out: number[] = [];
    for (let n = 0; n < this.size; n++) {
      const i = ((this.start + n) % this.size) << 1;
      out.push(this.data[i]!, this.data[i + 1]!);
    }
    return out;
  }

  push(at: number, pttlMs: number): void {
    if (this.size < HISTORY_SAMPLES) {
      // Still growing: the ring has not wrapped yet, so start is 0.
      (this.data as number[]).push(at, pttlMs);
      this.size++;
      if (this.size === HISTORY_SAMPLES) this.data = Float64Array.from(this.data);
      return;
    }
    const i = this.start << 1;
    this.data[i] = at;
    this.data[i + 1] = pttlMs;
    this.start = (this.start + 1) % HISTORY_SAMPLES;
  }

  lastAt(): number {
    return this.data[((this.start + this.size - 1) % this.size) << 1]!;
  }

  toArray(): TtlSample[] {
    const out: TtlSample[] = [];
    for (let n = 0; n < this.size; n++) {
      const i = ((this.start + n) % this.size) << 1;
      out.push({ at: this.data[i]!, pttlMs: this.data[i + 1]! });
    }
    return out;
  }
}

const EMPTY_FIELDS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** What a lock's JSON takes besides its strings: field names, numbers, the owner's other fields (measured: ~415). */
const JSON_OVERHEAD_CHARS = 445;
/** Characters of `text` in JSON: an escaped rendering (`\xNN` a byte) has backslashes, which JSON doubles. */
const textChars = (text: string, escaped: boolean): number => (escaped ? Math.ceil(text.length * 1.25) : text.length);

/**
 * Reads the table a part at a time, for snapshots sent in parts (`LockSnapshot` in shared/locks.ts). Each part
 * holds the locks as they are when it is taken; a lock removed before its turn is skipped, and one added after
 * the cursor was made may be left out (a client already gets it as a change). Holds no copy of the table.
 */
export interface SnapshotCursor {
  /** The next locks: up to `maxLocks`, fewer once their JSON comes to about `maxChars` (at least one). */
  next(maxLocks: number, maxChars: number): LockView[];
  /** Nothing more to read. */
  readonly done: boolean;
}

/**
 * One tracked lock. It *is* the `LockView` the browser gets: `key` and `owner` are built on access from flat
 * fields, and `toJSON` leaves the bookkeeping out of the wire, so a lock costs one object plus its strings
 * (issue 4: ≤ 1 KB a lock besides its bounded history; `bench/inspector-heap.ts` measures it).
 */
class Lock implements LockView {
  type: RedisKeyType;
  library: LibraryId;
  /** The owner as shown (`BytesView.text`: escaped when binary or hiding characters); null when it has none readable. */
  ownerText: string | null = null;
  ownerBinary = false;
  /** Kept only for an owner shown escaped; a literal text owner's base64 is derived from its text when asked for. */
  private ownerRaw64: string | null = null;
  ownerTruncated = false;
  ownerSize = 0;
  /** Replaced, never mutated (the empty one is shared). */
  ownerFields: Record<string, string> = EMPTY_FIELDS;
  reentryCount: number | null;
  pttlMs: number;
  deadline: number | null;
  /**
   * The deadline on Redis's clock (`ProbedKey.redisAt` + PTTL), as last taken to have moved: renewals and
   * expiries are judged on it, so nothing that delays a reply on our side (a busy event loop) can fake either.
   */
  expiresAt: number | null;
  /**
   * The holders of a lock several hold at once (a semaphore, a read lock with readers; see Recognition.group), or
   * null for a lock with one owner (which then carries nothing of this).
   */
  group: HolderGroup | null = null;
  acquiredAt: number;
  renewals = 0;
  lastRenewalAt: number | null = null;
  renewalIntervalMs: number | null = null;
  expectedRenewalMs: number | null = null;
  state: LockState = 'held';
  endedAt: number | null = null;
  /** Cluster only: the master that last answered for it, and the key's slot (see LockView). */
  node: string | null = null;
  slot: number | null = null;
  /** How the lock's library renews (shared object), or null. */
  rule: RenewalRule | null;
  /** Largest PTTL seen for the current owner: the lease the holder asked for. */
  maxTtlMs: number;
  /** Sum and count of observed renewal intervals (for the mean). */
  intervalSum = 0;
  intervalCount = 0;
  /** History, allocated on first use and kept across owners of the same key. */
  events: LockEvent[] | null = null;
  samples: SampleRing | null = null;

  constructor(
    /** base64 of the raw key: the map key, the wire id, and (decoded) the key to probe. */
    readonly id: string,
    readonly keyText: string,
    readonly keyBinary: boolean,
    result: Extract<ProbedKey['result'], { exists: true }>,
    recognition: Recognition,
    deadline: number | null,
    expiresAt: number | null,
    observedAt: number,
    clock: () => number,
  ) {
    this.type = result.type;
    this.library = recognition.library;
    if (this.setOwner(recognition, result) && Object.keys(recognition.fields).length) this.ownerFields = recognition.fields;
    if (recognition.group) this.group = new HolderGroup(clock);
    this.reentryCount = recognition.reentryCount;
    this.pttlMs = result.pttlMs;
    this.deadline = deadline;
    this.expiresAt = expiresAt;
    // A time decoded from the value is on the holder's clock: never later than we saw the lock.
    this.acquiredAt = Math.min(recognition.acquiredAt ?? observedAt, observedAt);
    this.rule = recognition.renewal;
    this.maxTtlMs = result.pttlMs;
  }

  /** Takes the owner (and its decoded fields) from a recognition; true when anything shown changed. */
  setOwner(recognition: Recognition, result: Extract<ProbedKey['result'], { exists: true }>): boolean {
    const owner = recognition.owner;
    if (!owner) return false;
    let changed = false;
    if (!this.ownedBy(owner)) {
      const shown = shownBytes(owner);
      this.ownerText = shown.text;
      this.ownerBinary = shown.binary;
      this.ownerRaw64 = shown.escaped ? owner.toString('base64') : null;
      changed = true;
    }
    const truncated = recognition.ownerCut || (result.type === 'string' && result.size > owner.length);
    if (truncated !== this.ownerTruncated || this.ownerSize !== result.size) {
      this.ownerTruncated = truncated;
      this.ownerSize = result.size;
      changed = true;
    }
    return changed;
  }

  /** `keyText` is an escaped rendering (binary, or hiding characters), not the key's literal text. */
  get keyEscaped(): boolean {
    return this.keyBinary || isEscapedText(this.keyText);
  }

  get key(): BytesView {
    return { text: this.keyText, base64: this.id, binary: this.keyBinary, escaped: this.keyEscaped };
  }

  get holders(): LockView['holders'] {
    return this.group ? this.group.view(this.deadline !== null, this.leaseMs()) : undefined;
  }

  /** The lease the holder asked for (see `leaseOf`), or null before any TTL was seen. */
  leaseMs(): number | null {
    return this.maxTtlMs > 0 ? leaseOf(this.maxTtlMs) : null;
  }

  get ownerBase64(): string | null {
    if (this.ownerText === null) return null;
    return this.ownerRaw64 ?? Buffer.from(this.ownerText, 'utf8').toString('base64');
  }

  /** Whether `owner` (raw bytes from a probe) is this lock's owner. */
  ownedBy(owner: Buffer | null): boolean {
    if (owner === null || this.ownerText === null) return owner === null && this.ownerText === null;
    // An escaped rendering stands for its bytes; a literal one is the text itself.
    if (this.ownerRaw64 !== null) return this.ownerRaw64 === owner.toString('base64');
    return this.ownerText === plainText(owner);
  }

  get owner(): OwnerView | null {
    if (this.ownerText === null) return null;
    return {
      text: this.ownerText,
      base64: this.ownerBase64!,
      binary: this.ownerBinary,
      escaped: this.ownerRaw64 !== null,
      truncated: this.ownerTruncated,
      sizeBytes: this.ownerSize,
      fields: { ...this.ownerFields },
    };
  }

  setField(name: string, value: string | undefined): boolean {
    if (this.ownerText === null || this.ownerFields[name] === value) return false;
    const next = { ...this.ownerFields };
    if (value === undefined) delete next[name];
    else next[name] = value;
    this.ownerFields = Object.keys(next).length ? next : EMPTY_FIELDS;
    return true;
  }

  /**
   * About how many characters `toJSON()` comes to as JSON, from the flat fields, without building it (sizes
   * snapshot parts).
   */
  jsonChars(): number {
    let n = JSON_OVERHEAD_CHARS + 2 * this.id.length + textChars(this.keyText, this.keyEscaped) + (this.node?.length ?? 0);
    if (this.ownerText !== null) {
      n += textChars(this.ownerText, this.ownerRaw64 !== null) + (this.ownerRaw64?.length ?? Math.ceil((this.ownerText.length * 4) / 3));
      for (const name in this.ownerFields) n += name.length + this.ownerFields[name]!.length + 6;
    }
    if (this.group) n += this.group.jsonChars();
    return n;
  }

  toJSON(): LockView {
    const view: LockView = {
      id: this.id,
      key: this.key,
      type: this.type,
      library: this.library,
      owner: this.owner,
      reentryCount: this.reentryCount,
      pttlMs: this.pttlMs,
      deadline: this.deadline,
      acquiredAt: this.acquiredAt,
      renewals: this.renewals,
      lastRenewalAt: this.lastRenewalAt,
      renewalIntervalMs: this.renewalIntervalMs,
      expectedRenewalMs: this.expectedRenewalMs,
      state: this.state,
      endedAt: this.endedAt,
      node: this.node,
      slot: this.slot,
    };
    if (this.group) view.holders = this.group.view(this.deadline !== null, this.leaseMs());
    return view;
  }
}

/** One restart being followed (see `LockTracker.serverRestarted`). */
export class RestartCheck {
  /** Locks of this restart found lost so far. */
  lost = 0;

  constructor(private readonly suspects: Map<string, RestartCheck>) {}

  /** Every lock held before the restart has been probed again: stops suspecting the rest; how many were lost. */
  settle(): number {
    for (const [id, check] of this.suspects) if (check === this) this.suspects.delete(id);
    return this.lost;
  }
}

/**
 * One lock as another lockscope replica's tracker takes it over (`exportLock` → `importLock`): every field of the
 * tracker's entry but its history (cluster node and slot, escaped texts included), its holders when several hold
 * it, and whether it has its library's renewal rule. JSON-safe; a field added to the entry travels without a change
 * here.
 */
export type LockRecord = Record<string, unknown> & { rule: boolean; group?: GroupRecord | null };

/** A lock's history as a replica copies it: events oldest first, TTL samples as flat `at, pttlMs` pairs. */
export interface HistoryRecord {
  /** An event with `amends` relabels the newest earlier event at the same `at` (a `released` found to be a force-release). */
  events: (LockEvent & { amends?: true })[];
  samples: number[];
}

/** Fields of an entry that are not its state as such: the history travels on its own, the rule and holders by record. */
const NOT_STATE = new Set(['events', 'samples', 'rule', 'group']);

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
  /** A TTL sample joined a lock's history (replicas copy it). */
  sample: [id: string, at: number, pttlMs: number];
}

/**
 * The lock model: folds probe results into one view per key and tells what changed. Knows nothing of Redis
 * connections or sockets; time comes from the injected clock, so every rule here is testable directly.
 */
export class LockTracker extends EventEmitter<TrackerEvents> {
  private readonly locks = new Map<string, Lock>();
  /** Waiters per lock id from Redisson fair-lock queues (side keys), applied to the lock's owner fields. */
  private readonly waiters = new Map<string, number>();
  /**
   * After a node's Redis restarted or failed over: ids of locks it held before that no probe has looked at since,
   * each with the restart that made it a suspect. One found gone (or held by someone else) went with the old
   * server's data: it ends `lost`, not `released`. Restarts of different nodes are followed side by side.
   */
  private readonly suspects = new Map<string, RestartCheck>();
  private readonly clock: () => number;
  /** What lockscope knows of lock libraries: recognition and helper keys go through it. */
  readonly libraries: Libraries;

  constructor(private readonly options: TrackerOptions) {
    super();
    this.clock = options.clock ?? Date.now;
    this.libraries = options.libraries ?? createLibraries();
  }

  get size(): number {
    return this.locks.size;
  }

  views(): LockView[] {
    return [...this.locks.values()];
  }

  /**
   * A cursor over the table for a snapshot in parts. It walks the live map: insertion order puts every lock
   * that existed when it was made before any added later, so after as many steps as there were locks it has
   * seen each of those still present, and it stops there.
   */
  cursor(): SnapshotCursor {
    const it = this.locks.values();
    let left = this.locks.size;
    return {
      get done() {
        return left === 0;
      },
      next(maxLocks, maxChars) {
        const part: Lock[] = [];
        let chars = 0;
        while (left > 0 && part.length < maxLocks && (part.length === 0 || chars < maxChars)) {
          const step = it.next();
          if (step.done) {
            left = 0;
            break;
          }
          left--;
          part.push(step.value);
          chars += step.value.jsonChars();
        }
        return part;
      },
    };
  }

  get(id: string): LockView | undefined {
    return this.locks.get(id);
  }

  /** Ids (base64 keys) of every lock still held (not ended). */
  *heldIds(): IterableIterator<string> {
    for (const t of this.locks.values()) if (t.endedAt === null) yield t.id;
  }

  /** Raw keys of every lock still held (not ended), for re-probing; only those of one type when given. */
  heldKeys(type?: RedisKeyType): Buffer[] {
    const keys: Buffer[] = [];
    for (const t of this.locks.values()) if (t.endedAt === null && (type === undefined || t.type === type)) keys.push(Buffer.from(t.id, 'base64'));
    return keys;
  }

  history(id: string): LockHistory | undefined {
    const t = this.locks.get(id);
    return t && { id, events: t.events ? t.events.map((e) => ({ ...e })) : [], ttl: t.samples?.toArray() ?? [] };
  }

  /**
   * A Redis node now runs as a new server process (restart, or failover to a replica): until the returned check
   * is settled, a lock held before it that a probe finds gone, or taken by a new owner, ends `lost`. `inScope`
   * names the locks that lived on that node (by id); the default is every lock (a single server). Only probes
   * made on the new server may be applied meanwhile.
   */
  serverRestarted(inScope: (id: string) => boolean = () => true): RestartCheck {
    const check = new RestartCheck(this.suspects);
    for (const id of this.heldIds()) if (inScope(id)) this.suspects.set(id, check);
    return check;
  }

  /** Folds one probe result in. */
  apply(probed: ProbedKey): void {
    const id = probed.key.toString('base64');
    this.fold(id, probed);
    if (this.suspects.size) this.suspects.delete(id);
  }

  private fold(id: string, { key, result, observedAt, redisAt, node, slot }: ProbedKey): void {
    const prev = this.locks.get(id);
    // When Redis read the key, on Redis's clock (a probe made up without one is taken to be on a single clock).
    const at = redisAt ?? observedAt;
    if (!result.exists) {
      if (prev && prev.endedAt === null) this.end(id, prev, observedAt, at);
      else if (!prev) this.sideKeyGone(key);
      return;
    }
    const held = prev && prev.endedAt === null ? prev : undefined;
    const recognition = this.libraries.recognise(key, result, { now: at, current: held });
    if (recognition.role === 'side-key') {
      this.sideKeySeen(key, result.size);
      return;
    }
    const deadline = result.pttlMs >= 0 ? observedAt + result.pttlMs : null;
    const expiresAt = result.pttlMs >= 0 ? at + result.pttlMs : null;
    // A lock several hold (a semaphore, a read lock in read mode) stays one lock whichever holders come and go;
    // otherwise the owner decides.
    const shared = held?.group != null;
    const same = held !== undefined && (shared || recognition.shared ? shared && recognition.shared && held.library === recognition.library : held.ownedBy(recognition.owner));
    if (!same) {
      let kind: LockEventKind = 'acquired';
      if (prev && prev.endedAt === null) {
        // Gone at its deadline (or with a restarted server) and taken again before we looked: an ending and a
        // new lock, not a takeover.
        if (this.suspects.has(id) || (prev.expiresAt !== null && at >= prev.expiresAt - EXPIRY_TOLERANCE_MS)) this.end(id, prev, observedAt, at);
        else kind = 'owner-changed';
      }
      const t = new Lock(
        id,
        prev?.keyText ?? bytesText(key),
        prev?.keyBinary ?? !isPlainText(key),
        result,
        recognition,
        deadline,
        expiresAt,
        observedAt,
        this.clock,
      );
      // The key's history outlives a change of owner: that is the story an operator wants to read.
      t.events = prev?.events ?? null;
      t.samples = prev?.samples ?? null;
      if (t.group) t.group.apply(recognition.group!, observedAt, observedAt - at, t.leaseMs(), true);
      const waiting = this.waiters.get(id);
      if (waiting) t.setField('waiters', String(waiting));
      t.expectedRenewalMs = expectedRenewal(t);
      t.state = stateOf(t, observedAt, this.options.heldTooLongMs);
      t.node = node ?? null;
      t.slot = slot ?? null;
      this.locks.set(id, t);
      this.record(id, t, { at: observedAt, kind, pttlMs: result.pttlMs, owner: t.ownerText });
      this.sample(t, observedAt, result.pttlMs, true);
      this.emit('change', t);
      return;
    }

    const t = held!;
    let changed = false;
    let event: LockEventKind | null = null;
    const before = t.deadline;
    if (t.expiresAt !== null && expiresAt === null) event = 'ttl-removed';
    else if (t.expiresAt === null && expiresAt !== null) event = 'ttl-set';
    else if (t.expiresAt !== null && expiresAt !== null && expiresAt > t.expiresAt + RENEWAL_THRESHOLD_MS) {
      event = 'renewed';
      if (t.lastRenewalAt !== null) {
        t.intervalSum += observedAt - t.lastRenewalAt;
        t.intervalCount++;
      }
      t.renewals++;
      t.lastRenewalAt = observedAt;
      t.renewalIntervalMs = t.intervalCount ? Math.round(t.intervalSum / t.intervalCount) : null;
    }
    // Only a real move is news: the deadline on Redis's clock moved (set shorter, say) ...
    if (event || (expiresAt !== null && t.expiresAt !== null && Math.abs(expiresAt - t.expiresAt) > RENEWAL_THRESHOLD_MS)) {
      t.expiresAt = expiresAt;
      changed = true;
    }
    // ... or where that deadline falls on our clock, as the estimate of the clocks' offset firms up.
    const shown = t.expiresAt === null ? null : t.expiresAt + (observedAt - at);
    if (changed || (shown !== null && t.deadline !== null && Math.abs(shown - t.deadline) > DEADLINE_SHIFT_MS)) {
      if (shown !== t.deadline) changed = true;
      t.deadline = shown;
    }
    t.pttlMs = result.pttlMs;
    t.maxTtlMs = event === 'ttl-set' ? result.pttlMs : Math.max(t.maxTtlMs, result.pttlMs);
    // Moved to another cluster master (a slot migration, a failover): news, though nothing else changed.
    if (node !== undefined && node !== t.node) {
      t.node = node;
      t.slot = slot ?? null;
      changed = true;
    }
    if (recognition.reentryCount !== t.reentryCount) {
      t.reentryCount = recognition.reentryCount;
      changed = true;
    }
    // The reader shown for a shared read lock, if it left (no event: no owner changed); a hash that gained or lost
    // fields (readers, waiters); a long value that changed past the part that is read.
    if (t.setOwner(recognition, result)) changed = true;
    if (t.group) {
      // The decoded fields follow the holder standing for the lock (no event: no owner changed); `waiters` is ours.
      for (const name of new Set([...Object.keys(t.ownerFields), ...Object.keys(recognition.fields)])) {
        if (name !== 'waiters' && t.setField(name, recognition.fields[name])) changed = true;
      }
      const g = t.group.apply(recognition.group!, observedAt, observedAt - at, t.leaseMs(), false);
      if (g.changed) changed = true;
      for (const h of g.joined) this.record(id, t, { at: observedAt, kind: 'holder-joined', pttlMs: result.pttlMs, owner: t.ownerText, holder: h.text });
      for (const h of g.left) {
        // lockscope's own release of this holder was noted when it was made: the probe that sees it adds nothing.
        if (!this.lastEventIs(t, 'holder-force-released', observedAt, h.text)) {
          const expired = h.deadline !== null && observedAt >= h.deadline - EXPIRY_TOLERANCE_MS;
          this.record(id, t, { at: observedAt, kind: expired ? 'holder-expired' : 'holder-left', pttlMs: result.pttlMs, owner: t.ownerText, holder: h.text });
        }
      }
    }
    if (t.setField('holders', recognition.fields.holders)) changed = true;
    t.rule = recognition.renewal;
    const expected = expectedRenewal(t);
    if (expected !== t.expectedRenewalMs) {
      t.expectedRenewalMs = expected;
      changed = true;
    }
    // The renewal sawtooth: where the TTL had fallen to just before it jumped back up.
    if (event === 'renewed' && before !== null) this.sample(t, observedAt - 1, Math.max(0, before - observedAt), true);
    this.sample(t, observedAt, result.pttlMs, event !== null);
    // lockscope's own TTL-set was noted when it was made: the probe that sees it adds no second event.
    if (event && !(event === 'ttl-set' && this.lastEventIs(t, 'ttl-set', observedAt))) {
      this.record(id, t, { at: observedAt, kind: event, pttlMs: result.pttlMs, owner: t.ownerText });
    }
    if (this.restate(t, observedAt) || changed) this.emit('change', t);
  }

  /** Time moves states on (expiring, overdue, held too long) and drops ended locks; call about once a second. */
  tick(): void {
    const now = this.clock();
    for (const [id, t] of this.locks) {
      if (t.endedAt !== null) {
        if (now - t.endedAt >= (t.state === 'lost' ? LOST_VISIBLE_MS : ENDED_VISIBLE_MS)) {
          this.locks.delete(id);
          this.emit('remove', id);
        }
      } else if (this.restate(t, now)) {
        this.emit('change', t);
      }
    }
  }

  /**
   * Records an event that lockscope itself caused (force-release, TTL set) before the probe sees its effect.
   * `force-released` ends the lock at once, so the probe that later finds the key gone adds nothing; if a probe
   * already recorded the disappearance as `released`, that event is relabelled instead of adding a second one.
   */
  note(id: string, kind: LockEventKind, pttlMs: number, holder?: Buffer): void {
    const t = this.locks.get(id);
    if (!t) return;
    const now = this.clock();
    if (kind === 'holder-force-released') {
      this.record(id, t, { at: now, kind, pttlMs, owner: t.ownerText, holder: holder ? bytesText(holder) : undefined });
      return;
    }
    if (kind === 'force-released') {
      if (t.endedAt === null) {
        t.state = 'released';
        t.endedAt = now;
        t.pttlMs = -2;
        this.record(id, t, { at: now, kind, pttlMs: -2, owner: t.ownerText });
        this.emit('change', t);
        return;
      }
      const last = t.events?.[t.events.length - 1];
      if (last && last.kind === 'released' && now - t.endedAt < FORCE_RELEASE_WINDOW_MS) {
        last.kind = 'force-released';
        this.emit('event', id, last, t, true);
        return;
      }
    }
    if (kind === 'ttl-set' && this.lastEventIs(t, 'ttl-set', now)) return;
    this.record(id, t, { at: now, kind, pttlMs, owner: t.ownerText });
  }

  // Replication: a follower's tracker takes the leader's locks over as they are, so that it can answer snapshots and
  // history requests the same way, and become the leader's tracker itself should the leader go away.

  /** Ids of every lock in the table (ended ones still shown included). */
  ids(): IterableIterator<string> {
    return this.locks.keys();
  }

  /** A lock's state for another replica (see `LockRecord`), without its history. */
  exportLock(id: string): LockRecord | undefined {
    const t = this.locks.get(id);
    if (!t) return undefined;
    const record: LockRecord = { rule: t.rule !== null, group: t.group?.export() ?? null };
    for (const [field, value] of Object.entries(t)) if (!NOT_STATE.has(field)) record[field] = value;
    return record;
  }

  /** A lock's whole history, for another replica. */
  exportHistory(id: string): HistoryRecord | undefined {
    const t = this.locks.get(id);
    return t && { events: t.events ? t.events.map((e) => ({ ...e })) : [], samples: t.samples?.flat() ?? [] };
  }

  /**
   * Takes over a lock as another replica's tracker has it (`exportLock`), announced as a `change`. With `history`
   * (a snapshot) the lock's history is replaced by it; without, the lock keeps the history it has here (the changes
   * that follow bring theirs with `importHistory`).
   */
  importLock(record: LockRecord, history?: HistoryRecord): void {
    const { rule, group, ...fields } = record;
    const id = String(fields.id);
    const prev = this.locks.get(id);
    const t = Object.assign(Object.create(Lock.prototype) as Lock, fields);
    if (!Object.keys(t.ownerFields).length) t.ownerFields = EMPTY_FIELDS;
    // Rules are shared objects, one per library: the same library's here (both replicas know the same libraries).
    const libraryRule = this.libraries.renewalOf(t.library);
    t.rule = rule ? libraryRule : null;
    t.group = group ? HolderGroup.from(group, this.clock, libraryRule) : null;
    t.events = history ? (history.events.length ? history.events.map(({ amends: _, ...e }) => e) : null) : (prev?.events ?? null);
    t.samples = history ? SampleRing.from(history.samples) : (prev?.samples ?? null);
    const waiting = Number(t.ownerFields.waiters ?? 0);
    if (waiting > 0) this.waiters.set(id, waiting);
    this.locks.set(id, t);
    this.emit('change', t);
  }

  /**
   * Adds what another replica recorded since (`HistoryRecord`): each event is announced as an `event` (for metrics,
   * as where it happened), an amending one relabels the event it amends.
   */
  importHistory(id: string, history: HistoryRecord): void {
    const t = this.locks.get(id);
    if (!t) return;
    for (const { amends, ...event } of history.events) {
      if (!amends) {
        this.record(id, t, event);
        continue;
      }
      const events = t.events ?? [];
      for (let i = events.length - 1; i >= 0; i--) {
        if (events[i]!.at !== event.at) continue;
        if (events[i]!.kind !== event.kind) {
          events[i]!.kind = event.kind;
          this.emit('event', id, events[i]!, t, true);
        }
        break;
      }
    }
    const s = history.samples;
    for (let i = 0; i + 1 < s.length; i += 2) {
      if (t.samples) t.samples.push(s[i]!, s[i + 1]!);
      else t.samples = new SampleRing(s[i]!, s[i + 1]!);
    }
  }

  /** A lock another replica dropped from its table. */
  importRemove(id: string): void {
    if (this.locks.delete(id)) this.emit('remove', id);
  }

  /** Forgets every lock (after a resync the next probes rebuild the table). */
  clear(): void {
    for (const id of this.locks.keys()) this.emit('remove', id);
    this.locks.clear();
    this.waiters.clear();
    this.suspects.clear();
  }

  private lastEventIs(t: Lock, kind: LockEventKind, now: number, holder?: string): boolean {
    const events = t.events ?? [];
    // Holder events of several holders may interleave: look back a little for this holder's.
    for (let i = events.length - 1; i >= 0 && i >= events.length - (holder === undefined ? 1 : 8); i--) {
      const e = events[i]!;
      if (now - e.at >= FORCE_RELEASE_WINDOW_MS) return false;
      if (e.kind === kind && e.holder === holder) return true;
      if (holder === undefined) return false;
    }
    return false;
  }

  /** `at` is when the key was found gone on Redis's clock, `observedAt` the same moment on ours. */
  private end(id: string, t: Lock, observedAt: number, at: number): void {
    const expired = t.expiresAt !== null && at >= t.expiresAt - EXPIRY_TOLERANCE_MS;
    const suspect = this.suspects.get(id);
    const kind = expired ? 'expired' : suspect ? 'lost' : 'released';
    if (kind === 'lost') suspect!.lost++;
    t.state = kind;
    // An expiry happened at the deadline, not when we noticed it.
    t.endedAt = expired ? Math.min(observedAt, t.deadline!) : observedAt;
    t.pttlMs = -2;
    this.sample(t, t.endedAt, 0, true);
    this.record(id, t, { at: t.endedAt, kind, pttlMs: -2, owner: t.ownerText });
    this.emit('change', t);
  }

  private sideKeySeen(key: Buffer, size: number): void {
    const side = this.libraries.sideKeyOf(key);
    if (side?.kind === 'waiters' && side.parent) this.setWaiters(side.parent.toString('base64'), size);
  }

  private sideKeyGone(key: Buffer): void {
    const side = this.libraries.sideKeyOf(key);
    if (side?.kind === 'waiters' && side.parent) this.setWaiters(side.parent.toString('base64'), 0);
  }

  private setWaiters(parentId: string, n: number): void {
    if (n > 0) this.waiters.set(parentId, n);
    else this.waiters.delete(parentId);
    const t = this.locks.get(parentId);
    if (t?.setField('waiters', n > 0 ? String(n) : undefined)) this.emit('change', t);
  }

  private restate(t: Lock, now: number): boolean {
    const next = stateOf(t, now, this.options.heldTooLongMs);
    if (next === t.state) return false;
    t.state = next;
    return true;
  }

  private record(id: string, t: Lock, event: LockEvent): void {
    // A literal of one, not `[]`: an empty array's first push reserves room for 17.
    if (!t.events) t.events = [event];
    else {
      t.events.push(event);
      if (t.events.length > HISTORY_EVENTS) t.events.shift();
    }
    this.emit('event', id, event, t, false);
  }

  private sample(t: Lock, at: number, pttlMs: number, always: boolean): void {
    if (!t.samples) t.samples = new SampleRing(at, pttlMs);
    // Probes of a quiet lock add nothing a straight line between two samples would not show.
    else if (!always && at - t.samples.lastAt() < 100) return;
    else t.samples.push(at, pttlMs);
    this.emit('sample', t.id, at, pttlMs);
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

function expectedRenewal(t: Lock): number | null {
  const r = t.rule;
  if (!r || t.maxTtlMs <= 0) return null;
  const lease = leaseOf(t.maxTtlMs);
  if (!r.always(lease) && t.renewals === 0) return null;
  return r.cadence(lease);
}

export function stateOf(v: Lock, now: number, heldTooLongMs: number): LockState {
  if (v.endedAt !== null) return v.state;
  const group = v.group;
  if (v.type !== 'string' && v.type !== 'hash' && !group) return 'unexpected-type';
  let since = v.acquiredAt;
  if (group) {
    // Holders have expiries of their own: a key without a TTL is stuck only through a holder without one.
    const worst = group.worst(now, v.deadline !== null, v.leaseMs());
    if (worst === 'no-expiry') return 'no-ttl';
    if (worst === 'stuck') return 'holder-stuck';
    // Readers that keep a lock taken between them hold it as one; a semaphore's holders each count their own time.
    if (!group.heldAsOne) since = group.oldestSince() ?? now;
    if (v.deadline === null) return now - since > heldTooLongMs && !group.counterOnly ? 'held-too-long' : 'held';
  } else if (v.deadline === null) return 'no-ttl';
  const lastActivity = v.lastRenewalAt ?? v.acquiredAt;
  if (v.expectedRenewalMs !== null && now - lastActivity > 1.5 * v.expectedRenewalMs) return 'renewal-overdue';
  if (now - since > heldTooLongMs) return 'held-too-long';
  const remaining = v.deadline - now;
  if (remaining < 5000 && remaining < 0.2 * Math.max(v.maxTtlMs, 1)) return 'expiring';
  return 'held';
}
