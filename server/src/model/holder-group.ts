import type { HolderState, HoldersView, HolderView } from '../../../shared/locks';
import type { GroupRecognition, HolderRecognition, RenewalRule } from '../libraries';
import { shownBytes } from './bytes';

/** A holder's expiry must move out by more than this to count as a renewal (probe jitter never does). */
const HOLDER_RENEWAL_THRESHOLD_MS = 50;
/** A shown holder deadline follows a firmer estimate of the clocks' offset once it moved by more than this. */
const HOLDER_DEADLINE_SHIFT_MS = 10;
/** A holder still listed this long after its own expiry is stuck (a probe a little late is not). */
const HOLDER_EXPIRY_TOLERANCE_MS = 250;

/** One holder of a lock several hold at once, as tracked between probes. */
export class Holder {
  /** The token as shown (`BytesView.text`); its identity is its bytes (`id`), never this text. */
  readonly text: string;
  readonly binary: boolean;
  readonly escaped: boolean;
  fields: Record<string, string>;
  permits: number;
  reentryCount: number | null;
  /** Its own expiry on the clock it is stamped with (the holder's or Redis's), or null. */
  rawExpiry: number | null;
  /** The same on this server's clock, as shown. */
  deadline: number | null;
  renewals = 0;
  lastRenewalAt: number | null = null;

  constructor(
    /** base64 of the token bytes: its identity. */
    readonly id: string,
    token: Buffer,
    r: HolderRecognition,
    readonly acquiredAt: number,
  ) {
    ({ text: this.text, binary: this.binary, escaped: this.escaped } = shownBytes(token));
    this.fields = r.fields;
    this.permits = r.permits;
    this.reentryCount = r.reentryCount;
    this.rawExpiry = null;
    this.deadline = null;
  }
}

/** A holder group as another lockscope replica copies it (`HolderGroup.export` → `HolderGroup.from`). JSON-safe. */
export interface GroupRecord {
  /** Each holder's fields as tracked, oldest first. */
  holders: Record<string, unknown>[];
  count: number | null;
  permits: HoldersView['permits'];
  releaseAll: boolean;
  /** Whether the group has its library's renewal rule (rules are shared objects, one per library). */
  renewal: boolean;
  counterOnly: boolean;
  heldAsOne: boolean;
}

/** What a probe changed in a group: holders that came and went, and whether anything shown changed. */
export interface GroupChange {
  joined: Holder[];
  left: Holder[];
  changed: boolean;
}

/**
 * The holders of a lock several hold at once (a semaphore, a read lock with readers), kept only for such locks:
 * a lock with one owner carries none of this.
 */
export class HolderGroup {
  /** By token (base64), oldest first: a holder keeps its place while it stays. */
  readonly holders = new Map<string, Holder>();
  count: number | null = null;
  permits: HoldersView['permits'] = { held: null, free: null, limit: null };
  releaseAll = false;
  renewal: RenewalRule | null = null;
  counterOnly = false;
  heldAsOne = false;

  /** The tracker's clock: holder states in views are judged at the time the view is made. */
  constructor(private readonly clock: () => number) {}

  /** The group as a replica takes it over (see `GroupRecord`). */
  export(): GroupRecord {
    return {
      holders: [...this.holders.values()].map((h) => ({ ...h })),
      count: this.count,
      permits: { ...this.permits },
      releaseAll: this.releaseAll,
      renewal: this.renewal !== null,
      counterOnly: this.counterOnly,
      heldAsOne: this.heldAsOne,
    };
  }

  /** Another replica's group (`export`), with `rule` its library's renewal rule here. */
  static from(record: GroupRecord, clock: () => number, rule: RenewalRule | null): HolderGroup {
    const group = new HolderGroup(clock);
    for (const fields of record.holders) {
      const h = Object.assign(Object.create(Holder.prototype) as Holder, fields);
      group.holders.set(h.id, h);
    }
    group.count = record.count;
    group.permits = { ...record.permits };
    group.releaseAll = record.releaseAll;
    group.renewal = record.renewal ? rule : null;
    group.counterOnly = record.counterOnly;
    group.heldAsOne = record.heldAsOne;
    return group;
  }

  /**
   * Folds a probe's reading in. `shift` maps times stamped on Redis's clock to this server's; `leaseMs` is the lock's
   * lease (its largest TTL seen, rounded), which holders that store their last refresh (not their expiry) hold for;
   * `first` is the lock's first probe (its holders were there when it appeared: no `joined` for them).
   */
  apply(g: GroupRecognition, observedAt: number, shift: number, leaseMs: number | null, first: boolean): GroupChange {
    const change: GroupChange = { joined: [], left: [], changed: false };
    const seen = new Set<string>();
    for (const r of g.holders) {
      const id = r.token.toString('base64');
      seen.add(id);
      let h = this.holders.get(id);
      if (!h) {
        h = new Holder(id, r.token, r, observedAt);
        this.holders.set(id, h);
        if (!first) change.joined.push(h);
        change.changed = true;
      } else if (h.permits !== r.permits || h.reentryCount !== r.reentryCount) {
        h.permits = r.permits;
        h.reentryCount = r.reentryCount;
        change.changed = true;
      }
      const raw = r.expiresAt ?? (r.refreshedAt !== null && leaseMs !== null ? r.refreshedAt + leaseMs : null);
      if (raw !== h.rawExpiry) {
        if (h.rawExpiry !== null && raw !== null && raw > h.rawExpiry + HOLDER_RENEWAL_THRESHOLD_MS) {
          h.renewals++;
          h.lastRenewalAt = observedAt;
          change.changed = true;
        }
        if (h.rawExpiry === null || raw === null || Math.abs(raw - h.rawExpiry) > HOLDER_RENEWAL_THRESHOLD_MS) change.changed = true;
        h.rawExpiry = raw;
      }
      const deadline = raw === null ? null : raw + (g.redisClock ? shift : 0);
      if (deadline === null || h.deadline === null ? deadline !== h.deadline : Math.abs(deadline - h.deadline) > HOLDER_DEADLINE_SHIFT_MS) {
        h.deadline = deadline;
        change.changed = true;
      }
    }
    // Holders the probe did not read because it reads at most 32 stay listed unless the count says they went.
    const complete = g.count === null || g.holders.length >= g.count;
    for (const [id, h] of this.holders) {
      if (seen.has(id) || (!complete && this.holders.size <= (g.count ?? 0))) continue;
      this.holders.delete(id);
      change.left.push(h);
      change.changed = true;
    }
    if (g.count !== this.count || !samePermits(g.permits, this.permits) || g.releaseAll !== this.releaseAll) change.changed = true;
    this.count = g.count;
    this.permits = g.permits;
    this.releaseAll = g.releaseAll;
    this.renewal = g.renewal;
    this.counterOnly = g.counterOnly;
    this.heldAsOne = g.heldAsOne;
    return change;
  }

  /** A holder's state at `now`; `keyExpires`: the lock's key has a TTL (a holder with no expiry lives with it). */
  holderState(h: Holder, now: number, keyExpires: boolean, leaseMs: number | null): HolderState {
    if (h.deadline !== null) return now > h.deadline + HOLDER_EXPIRY_TOLERANCE_MS ? 'stuck' : 'held';
    const cadence = this.expectedRenewal(leaseMs);
    if (cadence !== null && now - (h.lastRenewalAt ?? h.acquiredAt) > 1.5 * cadence) return 'stuck';
    return keyExpires ? 'held' : 'no-expiry';
  }

  expectedRenewal(leaseMs: number | null): number | null {
    return this.renewal && leaseMs !== null && leaseMs > 0 ? this.renewal.cadence(leaseMs) : null;
  }

  /** The worst holder state: `no-expiry` before `stuck` before `held`; null with no holders. */
  worst(now: number, keyExpires: boolean, leaseMs: number | null): HolderState | null {
    let worst: HolderState | null = null;
    for (const h of this.holders.values()) {
      const s = this.holderState(h, now, keyExpires, leaseMs);
      if (s === 'no-expiry') return s;
      if (s === 'stuck' || worst === null) worst = s;
    }
    return worst;
  }

  /** When the longest-standing holder was first seen (epoch ms), or null with no holders. */
  oldestSince(): number | null {
    let oldest: number | null = null;
    for (const h of this.holders.values()) if (oldest === null || h.acquiredAt < oldest) oldest = h.acquiredAt;
    return oldest;
  }

  view(keyExpires: boolean, leaseMs: number | null): HoldersView {
    const now = this.clock();
    const list: HolderView[] = [];
    for (const h of this.holders.values()) {
      list.push({
        token: { text: h.text, base64: h.id, binary: h.binary, escaped: h.escaped },
        fields: { ...h.fields },
        permits: h.permits,
        reentryCount: h.reentryCount,
        deadline: h.deadline,
        acquiredAt: h.acquiredAt,
        renewals: h.renewals,
        lastRenewalAt: h.lastRenewalAt,
        state: this.holderState(h, now, keyExpires, leaseMs),
      });
    }
    return { list, count: this.count, permits: { ...this.permits }, expectedRenewalMs: this.expectedRenewal(leaseMs), releaseAll: this.releaseAll };
  }

  /** About how many JSON characters the view comes to (sizes snapshot parts). */
  jsonChars(): number {
    let n = 200;
    for (const h of this.holders.values()) {
      n += 260 + 2 * h.text.length + h.id.length;
      for (const k in h.fields) n += k.length + h.fields[k]!.length + 6;
    }
    return n;
  }
}

function samePermits(a: HoldersView['permits'], b: HoldersView['permits']): boolean {
  return a.held === b.held && a.free === b.free && a.limit === b.limit;
}
