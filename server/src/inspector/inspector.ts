import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChangeFeedMode, RedisRestart } from '../../../shared/status';
import { serverRunId } from '../redis/connect';
import { RENEWAL_THRESHOLD_MS, type LockTracker } from '../model/lock-tracker';
import { coversEvictions, coversZsets, detectNotifications, enableNotifications, keyspaceChannels } from './notifications';
import { PROBE_BATCH, probeKeys, type ProbedKey } from './probe';
import { keySlot, scanKeys } from './scan';
import { planScan, type ScanPass } from './scan-plan';

export interface InspectorOptions {
  patterns: string[];
  scanCount: number;
  /** Probe interval when polling (ms). */
  pollMs: number;
  /** Database number the patterns apply to (for keyspace channel names). */
  db: number;
  /** May lockscope change `notify-keyspace-events`? Only on its own embedded Redis or when told to. */
  configureNotifications: boolean;
  /** Interval of reconcile scans in notification mode, which catch anything the events missed. */
  reconcileMs?: number;
  /** Cursors walking the keyspace at once in a full scan (a power of two; see scanKeys). Default 2; 1 on a cluster node. */
  scanWays?: number;
  /** Keys per probe script call in a full scan (at most PROBE_BATCH). Default SCAN_PROBE_BATCH. */
  scanProbeBatch?: number;
}

export interface InspectorDeps {
  /** Command connection. */
  redis: Redis;
  /** A second connection, used only for (P)SUBSCRIBE. */
  subscriber: Redis;
  tracker: LockTracker;
  logger: Logger;
}

/** Expiry checks are grouped into slots this wide, so a timer never fires per key. */
const WHEEL_SLOT_MS = 25;
/** Slot-grouped probe calls in flight at once on a cluster node (each holds the keys of one hash slot). */
const CLUSTER_PROBES_IN_FLIGHT = 16;
/** Failing probes (not disconnects) are logged as a warning at most this often, with the count since the last. */
const PROBE_ERROR_LOG_MS = 60_000;
/** Probe a lock this long after its deadline: expiry is shown promptly, never waiting for Redis's late `expired` event. */
const EXPIRY_PROBE_DELAY_MS = 10;
/**
 * Keys per probe script call in a full scan: half of PROBE_BATCH, so that each call (≈ 5 µs a key) keeps well
 * clear of 1 ms on a busy server. `npm run bench -- inspector-discovery`: the same total time as batches of 100,
 * half the time per call.
 */
export const SCAN_PROBE_BATCH = 50;
/** Longest a found key waits for its probe batch to fill during a full scan. */
const BATCH_WAIT_MS = 100;
/** Probe results folded into the tracker between two looks at the event loop. */
const APPLY_SLICE = 50;
/** Polling may keep Redis busy at most 1/POLL_DUTY of the time: a probe round slower than POLL_MS/4 backs off. */
const POLL_DUTY = 4;
/** How long a (re)connect waits for the subscriber connection before settling for polling. */
const SUBSCRIBER_READY_TIMEOUT_MS = 5000;

export interface InspectorEvents {
  /** The change feed switched mode. */
  mode: [mode: ChangeFeedMode];
  /** A full discovery scan finished: its wall time and the number of distinct keys it found. */
  scan: [durationMs: number, keys: number];
  /** Redis restarted or failed over (`lastRestart` was set), or the count of locks lost in it is known. */
  restart: [];
}

/**
 * Keeps the tracker true to Redis: discovers lock keys by SCAN, follows changes through keyspace
 * notifications (or polling where they are unavailable), re-probes each lock at its deadline, and resyncs
 * after every reconnect because events are lost while disconnected.
 */
export class Inspector extends EventEmitter<InspectorEvents> {
  mode: ChangeFeedMode = 'starting';
  lastRestart: RedisRestart | null = null;
  /** The polling interval in force (ms): POLL_MS, or longer while probe rounds are slow (adaptive back-off). */
  pollIntervalMs: number;
  private readonly dirty = new Map<string, Buffer>();
  /**
   * Expiry checks by wheel slot, counted from `wheelBase` (small integers, stored unboxed): lock ids only (the
   * tracker's own strings, so an entry costs a pointer), one id or an array of them; a key is decoded from its id
   * when its check comes due. A renewal leaves the old entry behind (found stale when its slot comes).
   */
  private readonly wheel = new Map<number, string | string[]>();
  private wheelBase = 0;
  /**
   * Ids of side keys whose disappearance changes a lock (a Redisson fair lock's waiter queue). They are not locks,
   * so neither polling nor reconcile rounds would look at them again: these are re-probed with the locks.
   */
  private readonly sideKeys = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private flushing: Promise<void> | null = null;
  private syncing: Promise<void> | null = null;
  private resyncAgain = false;
  private stopped = false;
  private wheelCursor = 0;
  private lastScanMs = 0;
  /**
   * Set per connection. A cluster node keeps slots in SCAN cursors' low bits, so it is walked by one cursor, and
   * refuses a script touching keys of several hash slots (CROSSSLOT), so its probes are grouped by slot.
   */
  private clusterNode = false;
  /**
   * Notifications are on but without `e` (evicted) on a server that evicts keys: an evicted lock raises no event,
   * so the tracked locks are re-probed every POLL_MS as in polling mode (the scan for new locks stays at 30 s).
   */
  private evictionsUnseen = false;
  /** Notifications are on but without `z`: a semaphore's holders leave by ZREM unseen, so its locks are re-probed every POLL_MS. */
  private zsetsUnseen = false;
  private probeErrors = { loggedAt: -Infinity, failures: 0 };
  /** INFO's run_id of the server last connected to: a different one after a reconnect means its data may be gone. */
  private runId: string | null = null;
  /**
   * False from a disconnection until the server behind the new connection is identified: probe results that come
   * back meanwhile are dropped (the resync after it probes everything again), so that no lock lost in a restart
   * is mistaken for a released one. Nothing is tracked before the first connection, so nothing can be mistaken.
   */
  private serverKnown = true;
  private readonly channelPrefix: Buffer;
  private readonly channels: string[];
  /** The SCAN walks a full scan makes: one for all the patterns where they fold into one glob (see planScan). */
  private readonly scanPasses: ScanPass[];

  constructor(
    private readonly deps: InspectorDeps,
    private readonly options: InspectorOptions,
  ) {
    super();
    this.pollIntervalMs = options.pollMs;
    const { prefix, channels } = keyspaceChannels(options.db, options.patterns);
    this.channelPrefix = Buffer.from(prefix);
    this.channels = channels;
    this.scanPasses = planScan(options.patterns);
  }

  /** Begins following Redis. Waits for the first sync when Redis is reachable; otherwise syncs once it is. */
  async start(): Promise<void> {
    const { redis, subscriber, tracker } = this.deps;
    tracker.on('change', (view) => {
      if (view.deadline !== null && view.endedAt === null) this.scheduleExpiryProbe(view.id, view.deadline);
    });
    subscriber.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer) => {
      this.requestProbe(channel.subarray(this.channelPrefix.length));
    });
    // Every (re)connect resyncs: notifications sent while disconnected are lost for good.
    redis.on('ready', () => void this.onReady());
    redis.on('close', () => (this.serverKnown = false));
    // The subscriber may come back after the command connection (ioredis re-PSUBSCRIBEs by itself): set the feed
    // up again and resync, since events published while it was away are lost.
    subscriber.on('ready', () => {
      if (redis.status === 'ready') void this.onReady();
    });
    this.wheelBase = Math.floor(Date.now() / WHEEL_SLOT_MS);
    this.wheelCursor = 0;
    this.loop(() => WHEEL_SLOT_MS - (Date.now() % WHEEL_SLOT_MS) + 1, async () => this.turnWheel());
    this.every(1000, () => tracker.tick());
    this.loop(() => this.reconcileDelay(), () => this.resync());
    this.loop(() => this.pollIntervalMs, () => this.poll());
    if (redis.status === 'ready') await this.onReady();
  }

  private async onReady(): Promise<void> {
    if (this.stopped) return;
    const restarted = await this.identifyServer();
    await this.setupFeed();
    await this.resync();
    if (restarted && this.lastRestart === restarted) {
      restarted.lost = this.deps.tracker.restartSettled();
      this.deps.logger.warn({ lost: restarted.lost }, 'locks held before the Redis restart that are gone after it');
      this.emit('restart');
    }
  }

  /** Notes which server answers; after a restart or failover, tells the tracker and returns the new `lastRestart`. */
  private async identifyServer(): Promise<RedisRestart | null> {
    const runId = await serverRunId(this.deps.redis);
    const previous = this.runId;
    if (runId) this.runId = runId;
    this.serverKnown = true;
    if (!previous || !runId || previous === runId) return null;
    this.deps.tracker.serverRestarted();
    this.lastRestart = { at: Date.now(), lost: null };
    this.deps.logger.warn('Redis restarted or failed over (new run_id): checking which locks survived');
    this.emit('restart');
    return this.lastRestart;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([this.flushing, this.syncing]);
  }

  /** Marks a key for probing; bursts of events for the same key collapse into one probe. */
  requestProbe(key: Buffer, id = key.toString('base64')): void {
    this.dirty.set(id, key);
    if (!this.flushing) this.flushing = new Promise((r) => setImmediate(r)).then(() => this.flushDirty());
  }

  /** Full discovery: scan every pattern, probe what it finds, and re-probe tracked keys the scan did not see. */
  resync(): Promise<void> {
    if (this.syncing) {
      this.resyncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.resyncAgain = false;
        await this.fullScan().catch((err) => this.deps.logger.debug({ err: (err as Error).message }, 'scan failed'));
      } while (this.resyncAgain && !this.stopped);
    })().finally(() => (this.syncing = null));
    return this.syncing;
  }

  /**
   * One polling round: re-probe every tracked lock (and the side keys that shape one), backing off while rounds take
   * long relative to POLL_MS.
   */
  private async poll(): Promise<void> {
    const unseen = this.mode === 'notifications' && (this.evictionsUnseen || this.zsetsUnseen);
    if (this.mode !== 'polling' && !unseen) return;
    const keys = this.mode === 'polling' || this.evictionsUnseen ? this.deps.tracker.heldKeys() : this.deps.tracker.heldKeys('zset');
    for (const id of this.sideKeys) keys.push(Buffer.from(id, 'base64'));
    const started = Date.now();
    await this.probeNow(keys);
    const took = Date.now() - started;
    const next = Math.max(this.options.pollMs, Math.ceil(took * POLL_DUTY));
    const { logger } = this.deps;
    if (next > this.options.pollMs && this.pollIntervalMs === this.options.pollMs) {
      logger.warn({ keys: keys.length, roundMs: took, pollMs: this.options.pollMs, nowMs: next }, 'probe round is slow: polling less often');
    } else if (next === this.options.pollMs && this.pollIntervalMs > this.options.pollMs) {
      logger.info({ keys: keys.length, roundMs: took, pollMs: next }, 'probe rounds are fast again: polling every POLL_MS');
    }
    this.pollIntervalMs = next;
  }

  private async fullScan(): Promise<void> {
    const started = Date.now();
    const seen = new Set<string>();
    const probes: Promise<void>[] = [];
    // A SCAN page of a big keyspace holds a few locks: gather them into full probe batches (one script call per
    // SCAN_PROBE_BATCH keys, not one per page), each sent at once so it overlaps the next SCAN.
    const batch: Buffer[] = [];
    // On a huge, sparse keyspace a batch may take long to fill: locks found are shown within BATCH_WAIT_MS anyway.
    let batchSince = 0;
    const size = Math.min(this.options.scanProbeBatch ?? SCAN_PROBE_BATCH, PROBE_BATCH);
    for (const { glob, keep } of this.scanPasses) {
      const ways = this.clusterNode ? 1 : (this.options.scanWays ?? 2);
      for await (const keys of scanKeys(this.deps.redis, glob, this.options.scanCount, ways)) {
        for (const k of keys) {
          if (keep && !keep(k)) continue;
          const id = k.toString('base64');
          if (seen.has(id)) continue;
          seen.add(id);
          if (!batch.length) batchSince = Date.now();
          batch.push(k);
        }
        while (batch.length >= size) probes.push(this.probeNow(batch.splice(0, size)));
        if (batch.length && Date.now() - batchSince >= BATCH_WAIT_MS) probes.push(this.probeNow(batch.splice(0)));
      }
    }
    // Tracked locks and side keys the scan did not see (gone, or renamed away): a probe tells which.
    for (const id of this.deps.tracker.heldIds()) if (!seen.has(id)) batch.push(Buffer.from(id, 'base64'));
    for (const id of this.sideKeys) if (!seen.has(id)) batch.push(Buffer.from(id, 'base64'));
    while (batch.length > size) probes.push(this.probeNow(batch.splice(0, size)));
    if (batch.length) probes.push(this.probeNow(batch));
    await Promise.all(probes);
    this.lastScanMs = Date.now() - started;
    this.emit('scan', this.lastScanMs, seen.size);
  }

  private async flushDirty(): Promise<void> {
    while (this.dirty.size && !this.stopped) {
      const keys = [...this.dirty.values()];
      this.dirty.clear();
      await this.probeNow(keys);
    }
    this.flushing = null;
  }

  private async probeNow(keys: Buffer[]): Promise<void> {
    if (!keys.length || this.stopped || !this.serverKnown) return;
    let probed: ProbedKey[];
    try {
      probed = await this.probe(keys);
    } catch (err) {
      this.probeFailed(err as Error, keys.length);
      return;
    }
    if (!this.serverKnown) return;
    const { tracker } = this.deps;
    // Fold results in small slices, letting I/O in between: a SCAN reply that arrived with this one sends the
    // next SCAN first, so folding overlaps Redis's work instead of delaying it.
    for (let i = 0; i < probed.length; i++) {
      if (i % APPLY_SLICE === 0) await new Promise((r) => setImmediate(r));
      const p = probed[i]!;
      tracker.apply(p);
      const r = p.result;
      if (!r.exists) {
        if (this.sideKeys.size) this.sideKeys.delete(p.key.toString('base64'));
        continue;
      }
      const id = p.key.toString('base64');
      const view = tracker.get(id);
      if (!view) {
        if (tracker.libraries.sideKeyOf(p.key)?.kind === 'waiters') this.sideKeys.add(id);
        continue;
      }
      if (view.endedAt !== null || view.deadline === null || r.pttlMs < 0) continue;
      // Still there at (our estimate of) its deadline, or about to go: look again just after the deadline this
      // probe shows, rather than wait for Redis's `expired` event (seconds late on a big keyspace). An estimate a
      // little early (within the tracker's jitter threshold, so the deadline was not moved) is corrected here.
      const due = p.observedAt + r.pttlMs;
      if (Math.min(view.deadline, due) <= p.observedAt + WHEEL_SLOT_MS) this.scheduleExpiryProbe(view.id, due);
    }
  }

  /** Probes keys; on a cluster node one script call per hash slot (a script may not cross slots there). */
  private async probe(keys: Buffer[]): Promise<ProbedKey[]> {
    const { redis } = this.deps;
    if (!this.clusterNode) return probeKeys(redis, keys);
    const bySlot = new Map<number, Buffer[]>();
    for (const k of keys) {
      const slot = keySlot(k);
      const group = bySlot.get(slot);
      if (group) group.push(k);
      else bySlot.set(slot, [k]);
    }
    const groups = [...bySlot.values()];
    const out: ProbedKey[] = [];
    let next = 0;
    // A few calls at a time, not all at once: each batch's timing stays its own (see probeKeys).
    const worker = async () => {
      while (next < groups.length) for (const p of await probeKeys(redis, groups[next++]!)) out.push(p);
    };
    await Promise.all(Array.from({ length: Math.min(CLUSTER_PROBES_IN_FLIGHT, groups.length) }, worker));
    return out;
  }

  /** Disconnected: the resync after reconnect covers these keys. Anything else is a fault worth a warning. */
  private probeFailed(err: Error, keys: number): void {
    const { logger, redis } = this.deps;
    if (redis.status !== 'ready') {
      logger.debug({ err: err.message, keys }, 'probe failed');
      return;
    }
    const now = Date.now();
    this.probeErrors.failures++;
    if (now - this.probeErrors.loggedAt < PROBE_ERROR_LOG_MS) return;
    logger.warn({ err: err.message, keys, failures: this.probeErrors.failures }, 'probe failed: these keys are not tracked');
    this.probeErrors = { loggedAt: now, failures: 0 };
  }

  private async setupFeed(): Promise<void> {
    const { redis, subscriber, logger } = this.deps;
    try {
      this.clusterNode = /cluster_enabled:1/.test(await redis.info('cluster'));
    } catch {
      this.clusterNode = true; // unknown: the one-cursor walk is right everywhere
    }
    let support = await detectNotifications(redis);
    if (support.kind !== 'unknown' && (support.kind === 'missing' || !coversZsets(support.flags)) && this.options.configureNotifications) {
      try {
        await enableNotifications(redis, support.flags);
        support = await detectNotifications(redis);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'could not enable keyspace notifications');
      }
    }
    let mode: ChangeFeedMode = 'polling';
    this.evictionsUnseen = false;
    this.zsetsUnseen = support.kind === 'enabled' && !coversZsets(support.flags);
    if (support.kind === 'enabled' && !coversEvictions(support.flags)) {
      const policy = await redis.config('GET', 'maxmemory-policy').then(
        (r) => (r as string[])[1] ?? 'noeviction',
        () => 'unknown',
      );
      if (policy !== 'noeviction') {
        this.evictionsUnseen = true;
        logger.info(
          { flags: support.flags, policy },
          'notify-keyspace-events lacks e (evicted) on a server that may evict keys: re-probing tracked locks every POLL_MS',
        );
      }
    }
    if (support.kind === 'enabled') {
      try {
        if (subscriber.status !== 'ready') await whenReady(subscriber, SUBSCRIBER_READY_TIMEOUT_MS);
        await subscriber.psubscribe(...this.channels);
        mode = 'notifications';
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'PSUBSCRIBE failed; polling instead');
      }
    } else {
      const why = support.kind === 'missing' ? `notify-keyspace-events is "${support.flags}"` : support.reason;
      logger.info({ why }, 'keyspace notifications unavailable: polling every POLL_MS');
    }
    if (mode !== this.mode) {
      this.mode = mode;
      this.emit('mode', mode);
    }
    if (mode === 'notifications') this.pollIntervalMs = this.options.pollMs;
  }

  private reconcileDelay(): number {
    if (this.mode === 'notifications') return this.options.reconcileMs ?? 30_000;
    // Polling finds new locks only by scanning: scan as often as the keyspace size allows.
    return Math.max(this.options.pollMs, this.lastScanMs * 10);
  }

  /** Expiry checks waiting in the wheel (stale ones included), for the heap bench. */
  pendingExpiryChecks(): number {
    let n = 0;
    for (const bucket of this.wheel.values()) n += typeof bucket === 'string' ? 1 : bucket.length;
    return n;
  }

  private scheduleExpiryProbe(id: string, deadline: number): void {
    const at = Math.ceil((deadline + EXPIRY_PROBE_DELAY_MS) / WHEEL_SLOT_MS) - this.wheelBase;
    const slot = Math.max(at, this.wheelCursor + 1);
    const bucket = this.wheel.get(slot);
    if (bucket === undefined) this.wheel.set(slot, id);
    else if (typeof bucket === 'string') {
      if (bucket !== id) this.wheel.set(slot, [bucket, id]);
    } else if (bucket[bucket.length - 1] !== id) bucket.push(id); // a lock changing twice in a row: one entry
  }

  /** Runs just after each slot boundary (timed to it, so a check fires within a few ms of its slot). */
  private turnWheel(): void {
    const now = Math.floor(Date.now() / WHEEL_SLOT_MS) - this.wheelBase;
    for (; this.wheelCursor <= now; this.wheelCursor++) {
      const bucket = this.wheel.get(this.wheelCursor);
      if (bucket === undefined) continue;
      this.wheel.delete(this.wheelCursor);
      if (typeof bucket === 'string') this.expiryCheck(bucket);
      else for (const id of bucket) this.expiryCheck(id);
    }
  }

  private expiryCheck(id: string): void {
    const view = this.deps.tracker.get(id);
    // A renewal moved the deadline (and scheduled another check), or the lock ended: this entry is stale. A deadline
    // up to the tracker's jitter threshold ahead is due too (the probe that scheduled this one saw the key nearer).
    if (!view || view.endedAt !== null || view.deadline === null) return;
    if (view.deadline - Date.now() <= RENEWAL_THRESHOLD_MS) this.requestProbe(Buffer.from(id, 'base64'), id);
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.add(t);
  }

  /** Runs `fn` repeatedly with a delay computed after each run, never overlapping itself. */
  private loop(delay: () => number, fn: () => Promise<void>): void {
    const schedule = () => {
      if (this.stopped) return;
      const t = setTimeout(() => {
        this.timers.delete(t);
        void fn().finally(schedule);
      }, delay());
      t.unref();
      this.timers.add(t);
    };
    schedule();
  }
}

function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`subscriber connection not ready after ${timeoutMs} ms`));
    }, timeoutMs).unref();
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
