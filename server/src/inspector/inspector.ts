import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChangeFeedMode } from '../../../shared/status';
import type { LockTracker } from './lock-tracker';
import { detectNotifications, enableNotifications, keyspaceChannels } from './notifications';
import { PROBE_BATCH, probeKeys, type ProbedKey } from './probe';
import { scanKeys } from './scan';

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
/** Probe a lock this long after its deadline: expiry is shown promptly, never waiting for Redis's late `expired` event. */
const EXPIRY_PROBE_DELAY_MS = 10;
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
}

/**
 * Keeps the tracker true to Redis: discovers lock keys by SCAN, follows changes through keyspace
 * notifications (or polling where they are unavailable), re-probes each lock at its deadline, and resyncs
 * after every reconnect because events are lost while disconnected.
 */
export class Inspector extends EventEmitter<InspectorEvents> {
  mode: ChangeFeedMode = 'starting';
  /** The polling interval in force (ms): POLL_MS, or longer while probe rounds are slow (adaptive back-off). */
  pollIntervalMs: number;
  private readonly dirty = new Map<string, Buffer>();
  private readonly wheel = new Map<number, Map<string, Buffer>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private flushing: Promise<void> | null = null;
  private syncing: Promise<void> | null = null;
  private resyncAgain = false;
  private stopped = false;
  private wheelCursor = 0;
  private lastScanMs = 0;
  /** Set per connection: a cluster node keeps slots in SCAN cursors' low bits, so it is walked by one cursor. */
  private clusterNode = false;
  private readonly channelPrefix: Buffer;
  private readonly channels: string[];

  constructor(
    private readonly deps: InspectorDeps,
    private readonly options: InspectorOptions,
  ) {
    super();
    this.pollIntervalMs = options.pollMs;
    const { prefix, channels } = keyspaceChannels(options.db, options.patterns);
    this.channelPrefix = Buffer.from(prefix);
    this.channels = channels;
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
    // The subscriber may come back after the command connection (ioredis re-PSUBSCRIBEs by itself): set the feed
    // up again and resync, since events published while it was away are lost.
    subscriber.on('ready', () => {
      if (redis.status === 'ready') void this.onReady();
    });
    this.wheelCursor = Math.floor(Date.now() / WHEEL_SLOT_MS);
    this.every(WHEEL_SLOT_MS, () => this.turnWheel());
    this.every(1000, () => tracker.tick());
    this.loop(() => this.reconcileDelay(), () => this.resync());
    this.loop(() => this.pollIntervalMs, () => this.poll());
    if (redis.status === 'ready') await this.onReady();
  }

  private async onReady(): Promise<void> {
    if (this.stopped) return;
    await this.setupFeed();
    await this.resync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([this.flushing, this.syncing]);
  }

  /** Marks a key for probing; bursts of events for the same key collapse into one probe. */
  requestProbe(key: Buffer): void {
    this.dirty.set(key.toString('base64'), key);
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

  /** One polling round: re-probe every tracked lock, backing off while rounds take long relative to POLL_MS. */
  private async poll(): Promise<void> {
    if (this.mode !== 'polling') return;
    const keys = this.deps.tracker.heldKeys();
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
    // PROBE_BATCH keys, not one per page), each sent at once so it overlaps the next SCAN.
    const batch: Buffer[] = [];
    // On a huge, sparse keyspace a batch may take long to fill: locks found are shown within BATCH_WAIT_MS anyway.
    let batchSince = 0;
    for (const pattern of this.options.patterns) {
      const ways = this.clusterNode ? 1 : (this.options.scanWays ?? 2);
      for await (const keys of scanKeys(this.deps.redis, pattern, this.options.scanCount, ways)) {
        for (const k of keys) {
          const id = k.toString('base64');
          if (seen.has(id)) continue;
          seen.add(id);
          if (!batch.length) batchSince = Date.now();
          batch.push(k);
        }
        while (batch.length >= PROBE_BATCH) probes.push(this.probeNow(batch.splice(0, PROBE_BATCH)));
        if (batch.length && Date.now() - batchSince >= BATCH_WAIT_MS) probes.push(this.probeNow(batch.splice(0)));
      }
    }
    for (const id of this.deps.tracker.heldIds()) if (!seen.has(id)) batch.push(Buffer.from(id, 'base64'));
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
    if (!keys.length || this.stopped) return;
    let probed: ProbedKey[];
    try {
      probed = await probeKeys(this.deps.redis, keys);
    } catch (err) {
      // Disconnected: the resync after reconnect covers these keys.
      this.deps.logger.debug({ err: (err as Error).message, keys: keys.length }, 'probe failed');
      return;
    }
    // Fold results in small slices, letting I/O in between: a SCAN reply that arrived with this one sends the
    // next SCAN first, so folding overlaps Redis's work instead of delaying it.
    for (let i = 0; i < probed.length; i++) {
      if (i % APPLY_SLICE === 0) await new Promise((r) => setImmediate(r));
      const p = probed[i]!;
      this.deps.tracker.apply(p);
      const r = p.result;
      // Still there at (our estimate of) its deadline: look again shortly rather than wait for Redis's event.
      if (r.exists && r.pttlMs >= 0 && r.pttlMs < WHEEL_SLOT_MS) {
        const id = p.key.toString('base64');
        if (this.deps.tracker.get(id)?.endedAt === null) this.scheduleExpiryProbe(id, p.observedAt + r.pttlMs);
      }
    }
  }

  private async setupFeed(): Promise<void> {
    const { redis, subscriber, logger } = this.deps;
    try {
      this.clusterNode = /cluster_enabled:1/.test(await redis.info('cluster'));
    } catch {
      this.clusterNode = true; // unknown: the one-cursor walk is right everywhere
    }
    let support = await detectNotifications(redis);
    if (support.kind === 'missing' && this.options.configureNotifications) {
      try {
        await enableNotifications(redis, support.flags);
        support = await detectNotifications(redis);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'could not enable keyspace notifications');
      }
    }
    let mode: ChangeFeedMode = 'polling';
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

  private scheduleExpiryProbe(id: string, deadline: number): void {
    const slot = Math.max(Math.ceil((deadline + EXPIRY_PROBE_DELAY_MS) / WHEEL_SLOT_MS), this.wheelCursor + 1);
    let bucket = this.wheel.get(slot);
    if (!bucket) this.wheel.set(slot, (bucket = new Map()));
    bucket.set(id, Buffer.from(id, 'base64'));
  }

  private turnWheel(): void {
    const now = Math.floor(Date.now() / WHEEL_SLOT_MS);
    for (; this.wheelCursor <= now; this.wheelCursor++) {
      const bucket = this.wheel.get(this.wheelCursor);
      if (!bucket) continue;
      this.wheel.delete(this.wheelCursor);
      for (const [id, key] of bucket) {
        const view = this.deps.tracker.get(id);
        // A renewal moved the deadline (and scheduled another check): this one is stale.
        if (view && view.endedAt === null && view.deadline !== null && view.deadline <= Date.now()) this.requestProbe(key);
      }
    }
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
