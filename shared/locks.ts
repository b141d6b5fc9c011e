/**
 * Shapes of locks as the browser sees them. Times are epoch milliseconds on the lockscope *server's* clock
 * unless a field says otherwise; the client corrects for its own clock with `serverTime` from each message.
 */

import type { LibraryId } from './libraries';

export type { LibraryId } from './libraries';

/** Redis's own name for a key's type (`TYPE` reply). */
export type RedisKeyType = 'string' | 'hash' | 'list' | 'set' | 'zset' | 'stream' | 'other';

/**
 * - `held`: has a TTL, not near expiry, renewals (if any are expected) on time.
 * - `expiring`: less than 20% of its last observed TTL (and under 5 s) remains.
 * - `renewal-overdue`: the library renews on a cadence and no renewal came within 1.5× of it.
 * - `no-ttl`: the key has no expiry (PTTL = -1): nothing will ever free it. The classic stuck lock.
 * - `held-too-long`: held by one owner longer than the configured `HELD_TOO_LONG_MS`.
 * - `released`: gone before its deadline (someone deleted it). Kept visible briefly, then dropped.
 * - `expired`: gone at its deadline. Kept visible briefly, then dropped.
 * - `lost`: held when Redis restarted or failed over (its server's run id changed) and gone after it, before its
 *   deadline: nobody released it, and its holder may still believe it holds it. Kept visible briefly, then dropped.
 * - `unexpected-type`: a key matched a lock pattern but has a type no lock library uses (list, set, ...).
 * - `holder-stuck`: a lock with several holders (a semaphore, a read lock) where one holder is past its own expiry
 *   but still listed, or stopped renewing: that holder's process is probably gone, and its permit may still count.
 */
export type LockState =
  | 'held'
  | 'expiring'
  | 'renewal-overdue'
  | 'no-ttl'
  | 'held-too-long'
  | 'released'
  | 'expired'
  | 'lost'
  | 'unexpected-type'
  | 'holder-stuck';

export const LOCK_STATES: readonly LockState[] = [
  'held',
  'expiring',
  'renewal-overdue',
  'no-ttl',
  'held-too-long',
  'released',
  'expired',
  'lost',
  'unexpected-type',
  'holder-stuck',
];

/** Bytes from Redis, rendered safely: keys and values are attacker-controlled and may be binary. */
export interface BytesView {
  /**
   * What to show (as text only): the UTF-8 text when the bytes are valid UTF-8 without control characters and
   * every character shows as itself; `\u{XXXX}` for characters that would not — bidi controls, zero-width and
   * other invisible characters (shared/visible-text.ts), backslashes then doubled; `\xNN` for each byte of bytes
   * that are not text (`binary`, backslashes doubled). Filter on this text too: it is what the user reads.
   */
  text: string;
  /** The exact bytes, base64-encoded: use this (not `text`) when sending them back to the server, or copying. */
  base64: string;
  /** True when the bytes are not text (invalid UTF-8 or control characters): `text` is `\xNN`-escaped. */
  binary: boolean;
  /** True when `text` is an escaped rendering rather than the literal text: `binary`, or `\u{XXXX}` escapes. */
  escaped: boolean;
}

export interface OwnerView extends BytesView {
  /** True when only a bounded prefix of a large value was read (`sizeBytes` is the full size). */
  truncated: boolean;
  /** Size of the whole value in bytes (string) or number of fields (hash). */
  sizeBytes: number;
  /**
   * Parts decoded from the owner and key by the recognised library, for the detail view. By library:
   * Redisson `clientId`, `threadId` (+ `mode` read/write for read-write locks, `holders` = how many threads hold
   * it, `readers` = the readers of a shared read lock by name, `waiters` queued on a fair lock); BullMQ `queue`,
   * `jobId`, `worker`, `lockNumber`, `prefix`; ShedLock `host`, `lockedAt` (ISO), `instance`, `env`, `name`;
   * Spring `registry`, `lockKey`, `clientId`; python-redis-lock `name`, `id`; sidekiq-unique-jobs `digest`, `jid`,
   * `holders` (+ v9 JSON: `worker`, `queue`, `lockType`, `lockArgs`, `limit`, `ttl`); redis-py `token`;
   * redis-semaphore `key`; redis-lock `deadline` (ISO), `release`; simple-redis-mutex `name`; RedLock.net
   * `resource`; bsm/redislock `metadata`; Redisson semaphores `semaphore`, `freePermits`; a declared format its
   * regex groups or JSON fields. Empty when nothing decodes. Values are text for display only, hidden characters
   * escaped (`visibleText` in shared/visible-text.ts).
   */
  fields: Record<string, string>;
}

/**
 * - `held`: listed, within its own expiry (or it has none of its own and the key has a TTL).
 * - `stuck`: past its own expiry yet still listed, or its renewals stopped (1.5× the cadence): its process is
 *   probably gone. The library drops such a holder only when someone next acquires.
 * - `no-expiry`: neither the holder nor the key expires: nothing will ever free this holder's permit.
 */
export type HolderState = 'held' | 'stuck' | 'no-expiry';

/** One holder of a lock that several hold at once (a semaphore permit, a reader of a read lock). */
export interface HolderView {
  /**
   * The holder's identity as stored, rendered safely: a ZSET member (redis-semaphore, Symfony, Redisson permit
   * ids), a hash field (Redisson readers). Send `token.base64` as `expectedOwnerBase64` with `scope: 'holder'` to
   * free this holder alone.
   */
  token: BytesView;
  /** Parts decoded from the token (client id, thread, …), for display only, hidden characters escaped (`visibleText`). */
  fields: Record<string, string>;
  /** Permits this holder takes (a redis-semaphore MultiSemaphore holder takes several); 1 otherwise. */
  permits: number;
  /** Re-entry count (a Redisson reader that locked several times), or null. */
  reentryCount: number | null;
  /**
   * When this holder's claim ends unless it renews (epoch ms, server clock; the libraries stamp it with their own
   * clock or Redis's), or null when it has no expiry of its own and lives as long as the key.
   */
  deadline: number | null;
  /** When lockscope first saw this holder (epoch ms). */
  acquiredAt: number;
  /** Times its own expiry moved out. */
  renewals: number;
  /** Epoch ms of its last renewal, or null. */
  lastRenewalAt: number | null;
  state: HolderState;
}

/** The holders of a lock that several hold at once: a semaphore, or a read lock shared by readers. */
export interface HoldersView {
  /** The holders read, at most 32, oldest first (a holder keeps its place while it stays). */
  list: HolderView[];
  /** How many holders there are in all: more than listed on a very big semaphore. Null when not recorded. */
  count: number | null;
  /**
   * Permits: `held` (taken by the holders), `free` (left, where the library keeps a counter), `limit` (the most
   * there can be). Each null when the library does not record it (redis-semaphore's limit lives in its clients).
   */
  permits: { held: number | null; free: number | null; limit: number | null };
  /** How often each holder renews its claim (ms), or null when holders renew only when asked to. */
  expectedRenewalMs: number | null;
  /** Whether lockscope may free every holder at once (`scope: 'all'`): the library's own format allows it. */
  releaseAll: boolean;
}

export interface LockView {
  /** Stable identity of the lock: base64 of the raw key bytes. */
  id: string;
  /** The key itself, rendered safely. */
  key: BytesView;
  type: RedisKeyType;
  library: LibraryId;
  /** Current holder, or null when the key has no readable owner (e.g. a list). */
  owner: OwnerView | null;
  /** Re-entry count for libraries that keep one (Redisson hash value); null otherwise. */
  reentryCount: number | null;
  /** PTTL at the last probe in ms; -1 = the key has no TTL. */
  pttlMs: number;
  /** When the lock expires unless renewed (epoch ms, server clock); null when it has no TTL. */
  deadline: number | null;
  /** When this owner took the lock: decoded from the value when the library stores it (ShedLock, sidekiq), else first seen (epoch ms). */
  acquiredAt: number;
  /** Times the TTL went up with the owner unchanged. */
  renewals: number;
  /** Epoch ms of the last renewal, or null. */
  lastRenewalAt: number | null;
  /** Mean of observed intervals between renewals in ms; null before two renewals. Compare with `expectedRenewalMs`. */
  renewalIntervalMs: number | null;
  /**
   * The cadence the library renews at (ms), from its lease (largest PTTL seen): BullMQ lockDuration/4, Redisson
   * watchdog lease/3, redlock `using()` lease − 500 ms − drift, python-redis-lock 2/3, Spring 1/3. Null when it
   * does not renew by itself — or, for libraries that renew only when asked to, until a first renewal is seen.
   */
  expectedRenewalMs: number | null;
  state: LockState;
  /** When the lock ended (epoch ms) for `released` / `expired` / `lost`; null while held. */
  endedAt: number | null;
  /**
   * Present only on a lock that several hold at once (a semaphore, a read lock with readers); absent on a lock with
   * one owner. Then `owner` is one holder standing for them (kept while it stays) and `renewals` counts the key's.
   */
  holders?: HoldersView;
  /**
   * In a Redis Cluster, where the lock lives: the master that last answered for it (`host:port`; during a slot
   * migration, the one it has moved to) and the key's hash slot. Null outside a cluster.
   */
  node: string | null;
  slot: number | null;
}

/**
 * - `acquired`: a new key, or a new owner after the previous one ended. `owner-changed`: a new owner while the
 *   previous one still held it (taken over before its deadline).
 * - `renewed`: the deadline moved out by more than 50 ms with the owner unchanged (probe jitter never counts).
 * - `released`: gone before its deadline; `expired`: gone at its deadline (its `at` is the deadline); `lost`: gone
 *   with the data of a Redis server that restarted or failed over (see the `lost` state).
 * - `force-released`: released by a lockscope admin (replaces `released`: one event per ending).
 * - `ttl-removed` / `ttl-set`: PERSIST, or a TTL put on a lock that had none.
 * - `holder-joined` / `holder-left`: a holder of a lock that several hold at once came or went (its `holder` says
 *   which); `holder-expired`: it went at or after its own expiry (it stopped renewing: its process died or hung);
 *   `holder-force-released`: a lockscope admin freed that holder alone.
 */
export type LockEventKind =
  | 'acquired'
  | 'renewed'
  | 'released'
  | 'expired'
  | 'lost'
  | 'owner-changed'
  | 'ttl-removed'
  | 'ttl-set'
  | 'force-released'
  | 'holder-joined'
  | 'holder-left'
  | 'holder-expired'
  | 'holder-force-released';

export interface LockEvent {
  /** Epoch ms (server clock). */
  at: number;
  kind: LockEventKind;
  /** PTTL in ms observed with the event; -1 = no TTL, -2 = key gone. */
  pttlMs: number;
  /** Owner token text at the time, as shown (`BytesView.text`: escaped when binary or hiding characters), when known. */
  owner: string | null;
  /** For `holder-*` events: the holder's token text, as shown (`BytesView.text`: escaped when binary or hiding characters). */
  holder?: string;
}

/**
 * One PTTL observation, for the TTL chart. A renewal adds two samples 1 ms apart (the TTL just before it, then
 * just after), so the chart shows the sawtooth; between samples the TTL falls at 1 ms per ms.
 */
export interface TtlSample {
  /** Epoch ms (server clock). */
  at: number;
  /** Remaining TTL in ms; -1 = none. */
  pttlMs: number;
}

export interface LockHistory {
  id: string;
  /** Newest last; bounded (oldest dropped first). */
  events: LockEvent[];
  /** Newest last; bounded. */
  ttl: TtlSample[];
}

/**
 * One part of a snapshot: the complete set of tracked locks, sent as a sequence of parts (each at most about
 * 1,000 locks or 512 KB of JSON) so that neither the server nor the browser spends long on any one message.
 *
 * - `seq` 0 starts a snapshot; the following parts of the same snapshot come in order, `seq` 1, 2, …, and the
 *   one with `done` ends it (a small table is a single part: `seq` 0 with `done`).
 * - Each lock in a part is that lock as it is when the part is sent, so messages apply in arrival order: upsert
 *   every lock of a part (it may already be in the table, from a change that came first).
 * - The client is in the change stream from part 0 on: `lock:changes` may arrive between parts (a lock that
 *   appears or changes after its part was sent, or is removed, arrives as a change like any other).
 * - A lock the client still shows that is in no part of the snapshot and in no change since its part 0 is gone:
 *   drop it when the part with `done` arrives.
 * - A snapshot may be abandoned (the client disconnects, or is parked as too slow): the next one starts again
 *   at `seq` 0, and supersedes it.
 * - Switching to another target (`lock:view`) starts a snapshot of that target at `seq` 0; from then on only its
 *   messages arrive, and any message whose `target` is not the one viewed is stale: ignore it.
 */
export interface LockSnapshot {
  /** The target (`TargetStatus.id`) whose locks these are: a socket views one target at a time. */
  target: string;
  /** 0 for the first part of a snapshot, then 1, 2, … */
  seq: number;
  locks: LockView[];
  /** The last part: the table is complete. */
  done: boolean;
  /** The server's clock when this part was sent (epoch ms). */
  serverTime: number;
}

export interface LockChanges {
  /** The target (`TargetStatus.id`) the changes belong to. */
  target: string;
  /** Locks that appeared or changed, each complete (a later entry for the same id replaces the earlier). */
  upserts: LockView[];
  /** Ids of locks to drop from the table. */
  removed: string[];
  /** The server's clock when the batch was sent (epoch ms). */
  serverTime: number;
}
