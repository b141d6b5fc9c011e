/**
 * What lockscope knows about one lock library, behind one interface. One module per library in this folder
 * implements it; the inspector, the lock model and admin call the registry (`createLibraries`) and never name a
 * library. Adding a library = one module here, listed in `registry.ts`, plus its test.
 *
 * Every function is pure and synchronous: an adapter reads the key and one probe of it, never Redis.
 */
import type { LibraryId } from '../../../shared/libraries';
import type { ReleaseScope } from '../../../shared/admin';
import type { ProbeResult } from '../model/probe-result';
import type { OwnerCheck, ReleasePlan } from './release-plan';

export type Present = Extract<ProbeResult, { exists: true }>;

/**
 * How a library renews its locks. One shared object per library (never a closure per key): the tracker keeps a
 * reference per lock, so this costs nothing per lock.
 */
export interface RenewalRule {
  /** The interval (ms) the library renews at, for a lock whose largest observed TTL is `maxTtlMs`. */
  cadence(maxTtlMs: number): number;
  /** True when the library renews every lock it holds, so a missing renewal is news even before the first one. */
  always(maxTtlMs: number): boolean;
}

/** One holder of a lock that several hold at once, as an adapter reads it from a probe. */
export interface HolderRecognition {
  /** Its identity as stored: a ZSET member or hash field (MultiSemaphore: the id its members share). */
  token: Buffer;
  /** The members or fields that make up this holder in Redis (what freeing it alone removes). */
  members: Buffer[];
  /** Parts decoded from the token, for display. */
  fields: Record<string, string>;
  permits: number;
  reentryCount: number | null;
  /** Its own deadline (epoch ms), when the library stores one (Symfony, Redisson permits). */
  expiresAt: number | null;
  /**
   * When it last refreshed (epoch ms), when the library stores that instead (redis-semaphore): its deadline is that
   * plus the lease, which is the TTL the library gives the key on each refresh.
   */
  refreshedAt: number | null;
}

/** A lock several hold at once (a semaphore, a read lock with readers), as an adapter reads it. */
export interface GroupRecognition {
  /** The holders read (the probe reads at most 32 members or fields), in the order read. */
  holders: HolderRecognition[];
  /** How many holders there are in all, or null when the library keeps no record of them (a bare permit counter). */
  count: number | null;
  permits: { held: number | null; free: number | null; limit: number | null };
  /**
   * The holders hold it together: it counts as held for as long as any holds it without a gap (a read lock keeps
   * writers out while readers come and go), so "held too long" is the lock's. Otherwise (a semaphore) each
   * holder's own time counts.
   */
  heldAsOne: boolean;
  /** Whether every holder may be freed at once (`scope: 'all'`). */
  releaseAll: boolean;
  /** How each holder renews its own claim, or null. */
  renewal: RenewalRule | null;
  /** Holder times are read from Redis's clock (`TIME` in the library's script) rather than each holder's. */
  redisClock: boolean;
  /** No holder is recorded and the key has no TTL by design (a Redisson RSemaphore counter): not a stuck lock. */
  counterOnly: boolean;
}

export interface Recognition {
  library: LibraryId;
  /** `side-key`: a helper key a library keeps next to a lock (wait queue, signal list): not a lock itself. */
  role: 'lock' | 'side-key';
  /** The bytes that identify the holder (string value or hash field; for a group, the holder standing for it), or null. */
  owner: Buffer | null;
  /** The owner's hash field name, or its value, was not read in full (a string's cut shows in its size instead). */
  ownerCut: boolean;
  /**
   * Several hold it at once: one lock however many come and go. `owner` is one of them (kept while it stays); a
   * holder joining or leaving is not a new owner. Derived from `group` by the registry.
   */
  shared: boolean;
  /** Parts decoded from the owner and key, shown in the detail view. */
  fields: Record<string, string>;
  reentryCount: number | null;
  /** Acquire time decoded from the value (epoch ms), when the library stores one. */
  acquiredAt: number | null;
  /** How the library renews, or null when it never renews by itself. */
  renewal: RenewalRule | null;
  /** Present for a lock several hold at once. */
  group: GroupRecognition | null;
}

/** A helper key and the lock it belongs to (see LOCK-FORMATS.md, "side keys"). */
export interface SideKey {
  library: LibraryId;
  /** The lock key this helper belongs to, when it can be derived from the helper's name. */
  parent: Buffer | null;
  /** `waiters`: the helper is a queue of waiting threads (its length is the number of waiters). */
  kind: 'waiters' | 'signal' | 'timeout' | 'internal';
}

/** The owner a lock is known by so far: a shared lock keeps showing the same holder while that one stays. */
export interface CurrentOwner {
  ownedBy(owner: Buffer | null): boolean;
}

/** A key as adapters read it: the bytes, and the same bytes as latin1 text (one char per byte) for matching. */
export interface KeyName {
  bytes: Buffer;
  text: string;
}

export interface RecogniseContext {
  /** When the probe read the key (epoch ms): libraries that store times (redis-lock's deadline) are checked against it. */
  now: number;
  /**
   * A string value's bytes as latin1 text (one char per byte, for matching token shapes), read once for every
   * adapter; '' for other types. Set by the registry.
   */
  value?: string;
  /** The tracked lock, if any: breaks ties (which holder of a shared lock stands for it). */
  current?: CurrentOwner;
}

/** What an admin asks to free, with the lock as read from Redis just before. */
export interface ReleaseTarget {
  key: Buffer;
  /** The owner (or, with `holder`/`all`, the holder) the caller named. */
  owner: Buffer;
  scope: ReleaseScope;
  probe: Present;
  recognition: Recognition;
  /**
   * Wake-ups go out with SPUBLISH: the server is a Redis Cluster node whose clients use sharded pub/sub (Redisson's
   * `shardedSubscriptionMode`). False on a single server.
   */
  sharded: boolean;
}

/**
 * One lock library. `recognise` is asked only for keys no adapter earlier in the registry's order claimed:
 * adapters that recognise a key by its shape (`claims: 'key'`: a prefix or suffix the library always writes) come
 * before those that go by the value alone (`'value'`), so that a value which merely looks like some library's
 * token is never credited to it when the key's shape says otherwise.
 */
export interface LockLibrary {
  readonly id: LibraryId;
  /** Other ids its locks may carry (Redisson's read-write locks are `redisson-rw`). */
  readonly alsoAs?: readonly LibraryId[];
  /**
   * The renewal rule its recognitions carry (one shared object), named here too so that a lockscope replica copying
   * a lock from another can give it the same rule.
   */
  readonly renewal?: RenewalRule;
  readonly claims: 'key' | 'value';
  /**
   * SCAN globs that find this library's keys with no configuration; empty when its keys are named by the caller
   * (then only the generic "lock" glob or LOCK_PATTERNS find them).
   */
  readonly patterns: readonly string[];
  /** Helper keys, known by name alone (so a helper just deleted is still known for what it was). */
  sideKey?(key: KeyName): SideKey | null;
  /** The lock in this probed key, or null when the key is not this library's. */
  recognise(key: KeyName, probe: Present, ctx: RecogniseContext): Recognition | null;
  /**
   * How to force-release this library's lock (what to delete or remove, whom to wake, as its own unlock would), or
   * null for the default: an owner-checked delete of the key. Throws `PlanRefusal` when the library forbids it.
   */
  releasePlan?(target: ReleaseTarget): ReleasePlan | null;
  /**
   * How the owner is proven when lockscope changes the lock without releasing it (set TTL), when that differs from
   * the release plan's check or the release is refused.
   */
  ownerCheck?(target: ReleaseTarget): OwnerCheck | null;
}

/** A release the library's format does not allow (or lockscope cannot do safely): nothing is tried. */
export class PlanRefusal extends Error {}
