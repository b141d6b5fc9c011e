import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisKeyType } from '../../../../shared/locks';
import type { ChangeFeedMode, NodeStatus, RedisRestart } from '../../../../shared/status';
import type { LockTracker } from '../../model/lock-tracker';
import { ConnectionState } from '../../redis/connection-state';
import type { TopologyNode } from '../topology/topology';
import { WHEEL_SLOT_MS } from '../expiry-wheel';
import { Capabilities } from './capabilities';
import { Coalesced } from './coalesced';
import { ChangeFeed } from './feed';
import { keyspaceChannels } from './notifications';
import { PROBE_BATCH, type ProbedKey } from './probe';
import { KeyProber, type ProbeRound } from './prober';
import { refusalOf } from './refusal';
import { keySlot, scanKeys, slotTag } from './scan';
import { planScan, type ScanPass } from './scan-plan';
import { ServerIdentity, type IdentityMemory } from './server-identity';
import { isStateKey, stateKey } from './state-keys';

export interface NodeWatcherOptions {
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
  /** How often the feed is re-decided (notifications switched on or off later). Default FEED_RECHECK_MS. */
  feedRecheckMs?: number;
  /** Cursors walking the keyspace at once in a full scan (a power of two; see scanKeys). Default 2; 1 on a cluster node. */
  scanWays?: number;
  /** Keys per probe script call in a full scan (at most PROBE_BATCH). Default SCAN_PROBE_BATCH. */
  scanProbeBatch?: number;
}

/**
 * What a node watcher needs from its target: the shared lock table, the target's view of which keys are this
 * node's, and (in a cluster) a way to hand keys to the node that holds them.
 */
export interface NodeHost {
  readonly tracker: LockTracker;
  /** lockscope process id, for this node's bookkeeping keys (restart marker). */
  readonly instanceId: string;
  /** Raw keys of the held locks this node owns now (all of them, for a single server); only of one type when given. */
  heldKeys(node: NodeWatcher, type?: RedisKeyType): Buffer[];
  /** The same as ids (base64 keys), without making a key of each. */
  heldIds(node: NodeWatcher): Iterable<string>;
  /** Whether the lock with this id lives on this node now (a restart's scope). */
  owns(node: NodeWatcher, id: string): boolean;
  /** A probe saw a lock's deadline due at `at`: check it again just after (the target's expiry wheel). */
  expiryDue(id: string, at: number): void;
  /** Whether `key`'s slot is this node's now (always, for a single server). */
  ownsKey(node: NodeWatcher, key: Buffer): boolean;
  /** Probes a key on the node that owns it now (a key this node heard of, or was redirected for). */
  requestProbe(key: Buffer): void;
  /** `ASK`: probes keys on the master at `address`, which imports their slot. False when no such master is watched. */
  askNode(address: string, keys: Buffer[]): boolean;
  /** A node answered `MOVED`: reads the slot map again; resolves once it has. */
  refreshTopology(): Promise<void>;
}

/**
 * Keys per probe script call in a full scan: half of PROBE_BATCH, so that each call (≈ 5 µs a key) keeps well
 * clear of 1 ms on a busy server. `npm run bench -- inspector-discovery`: the same total time as batches of 100,
 * half the time per call.
 */
export const SCAN_PROBE_BATCH = 50;
/** How often the change feed is re-decided by default (a CONFIG GET; test events where CONFIG is refused: 3× less often). */
export const FEED_RECHECK_MS = 10_000;
/** Failing probes (not disconnects) are logged as a warning at most this often, with the count since the last. */
const PROBE_ERROR_LOG_MS = 60_000;
/** Longest a found key waits for its probe batch to fill during a full scan. */
const BATCH_WAIT_MS = 100;
/** Probe results folded into the tracker between two looks at the event loop. */
const APPLY_SLICE = 50;
/** How often a loading server is asked again whether it is done. */
const LOADING_POLL_MS = 100;
/** Polling may keep Redis busy at most 1/POLL_DUTY of the time: a probe round slower than POLL_MS/4 backs off. */
const POLL_DUTY = 4;
/** Keys a cluster could not answer for now (CLUSTERDOWN, TRYAGAIN, MOVED) are asked for again after this long. */
const REDIRECT_RETRY_MS = 250;

export interface NodeWatcherEvents {
  /** Something in `status()` changed (connection, feed, capabilities, restart, first sync). */
  status: [];
  /** A full discovery scan finished: its wall time and the number of distinct keys it found. */
  scan: [durationMs: number, keys: number];
}

/**
 * Follows one Redis master for its target: discovers lock keys by SCAN (one cursor pair per node), follows
 * changes through keyspace notifications (or polling), batches probes of the keys that changed, and resyncs after
 * every reconnect because events are lost while disconnected. After each (re)connect it checks what its Redis
 * user may do (Capabilities), who the server is (ServerIdentity: a restart ends the locks it wiped `lost`, for
 * this node's locks only) and how changes will reach it (ChangeFeed).
 */
export class NodeWatcher extends EventEmitter<NodeWatcherEvents> {
  readonly id: string;
  readonly capabilities = new Capabilities();
  readonly connection: ConnectionState;
  readonly feed: ChangeFeed;
  readonly identity: ServerIdentity;
  lastRestart: RedisRestart | null = null;
  /** The first full scan finished: this node's locks are all listed. */
  synced = false;
  /** The polling interval in force (ms): POLL_MS, or longer while probe rounds are slow (adaptive back-off). */
  pollIntervalMs: number;
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly prober: KeyProber;
  private readonly dirty = new Map<string, Buffer>();
  /**
   * Ids of side keys whose disappearance changes a lock (a Redisson fair lock's waiter queue). They are not locks,
   * so neither polling nor reconcile rounds would look at them again: these are re-probed with the locks.
   */
  private readonly sideKeys = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Keys to ask for again shortly, wherever they are then (see REDIRECT_RETRY_MS). */
  private readonly later = new Map<string, Buffer>();
  private laterTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private readonly syncing = new Coalesced(() => this.fullScan().catch((err: Error) => this.scanFailed(err)), () => this.halted);
  private readonly readying = new Coalesced(() => this.setUp(), () => this.halted);
  private loggedMissing = '';
  private starting: Promise<void> | null = null;
  /** Not acting (before `start`, while paused, after `stop`): no scans, probes, subscriptions or timers. */
  private halted = true;
  private stopped = false;
  /** Counts starts: a loop of an earlier run (paused while one of its rounds was still out) ends instead of going on. */
  private generation = 0;
  /** This master took over from a failed one: its first look is a restart of the shard (TopologyNode.succeeds). */
  private takingOver: string | null;
  private lastScanMs = 0;
  private probeErrors = { loggedAt: -Infinity, failures: 0 };
  /**
   * False from a disconnection until the server behind the new connection is identified: probe results that come
   * back meanwhile are dropped (the resync after it probes everything again), so that no lock lost in a restart
   * is mistaken for a released one. Nothing is tracked before the first connection, so nothing can be mistaken —
   * but on a master that took over from a failed one, whose shard's locks are tracked already.
   */
  private serverKnown: boolean;
  private readonly channelPrefix: Buffer;
  private readonly channels: string[];
  /** The SCAN walks a full scan makes: one for all the patterns where they fold into one glob (see planScan). */
  private readonly scanPasses: ScanPass[];
  private readonly unbind: (() => void)[] = [];
  /** The address of the server identified last: another one after a reconnect is a failover (see identifyServer). */
  private identifiedAt: string | null = null;

  constructor(
    private readonly node: TopologyNode,
    private readonly host: NodeHost,
    private readonly options: NodeWatcherOptions,
    private readonly logger: Logger,
  ) {
    super();
    this.id = node.id;
    this.takingOver = node.succeeds ?? null;
    this.serverKnown = this.takingOver === null;
    this.redis = node.connections.redis;
    this.subscriber = node.connections.subscriber;
    this.pollIntervalMs = options.pollMs;
    const { prefix, channels } = keyspaceChannels(options.db, options.patterns);
    this.channelPrefix = Buffer.from(prefix);
    this.channels = channels;
    this.scanPasses = planScan(options.patterns);
    this.connection = new ConnectionState(this.redis);
    this.prober = new KeyProber(this.redis, this.capabilities, logger);
    // A script may not cross slots there: group from the first probe on (the server's own word comes with HELLO).
    this.prober.clusterNode = node.slots !== undefined;
    const tag = () => this.tag();
    this.feed = new ChangeFeed(this.redis, this.subscriber, this.capabilities, { channels, db: options.db, configureNotifications: options.configureNotifications, tag }, logger);
    this.identity = new ServerIdentity(this.redis, this.capabilities, () => stateKey(`marker:${host.instanceId}:${node.id}`) + tag(), logger);
    const changed = () => this.emit('status');
    this.connection.on('change', changed);
    this.feed.on('mode', changed);
    this.capabilities.on('change', changed);
  }

  /** `host:port` of the server behind this node now (a Sentinel failover changes it). */
  get address(): string {
    return this.node.address;
  }

  get mode(): ChangeFeedMode {
    return this.feed.mode;
  }

  /**
   * Begins (or, after `pause`, resumes) following the node. Waits for the first sync when it is reachable;
   * otherwise syncs once it is. Called again, waits for the same. Resuming identifies the server again with what
   * was known before the pause, so a restart in between is seen as one.
   */
  start(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.halted) {
      this.halted = false;
      this.generation++;
      this.starting = this.begin();
    }
    return this.starting ?? Promise.resolve();
  }

  private async begin(): Promise<void> {
    const { redis, subscriber } = this;
    this.on$(subscriber, 'pmessageBuffer', (_pattern: Buffer, channel: Buffer) => {
      const key = channel.subarray(this.channelPrefix.length);
      // In a cluster, a node importing a slot hears of keys its owner must answer for (or send here with ASK).
      if (this.host.ownsKey(this, key)) this.requestProbe(key);
      else this.host.requestProbe(key);
    });
    // Every (re)connect resyncs: notifications sent while disconnected are lost for good.
    this.on$(redis, 'ready', () => void this.onReady());
    this.on$(redis, 'close', () => (this.serverKnown = false));
    // The subscriber may come back after the command connection (ioredis re-PSUBSCRIBEs by itself): set the feed
    // up again and resync, since events published while it was away are lost.
    this.on$(subscriber, 'ready', () => {
      if (redis.status === 'ready') void this.onReady();
    });
    // A switch to polling (a failover to a server without notifications, say) shortens the wait for the next scan:
    // new locks are found only by scanning then, and the one pending was timed for notification mode (30 s).
    const reconcileNow = this.loop(() => this.reconcileDelay(), () => this.reconcile());
    const onMode = (mode: ChangeFeedMode) => mode === 'polling' && reconcileNow();
    this.feed.on('mode', onMode);
    this.unbind.push(() => this.feed.off('mode', onMode));
    this.loop(() => this.pollIntervalMs, () => this.poll());
    this.loop(() => (this.feed.costly ? 3 : 1) * (this.options.feedRecheckMs ?? FEED_RECHECK_MS), () => this.recheckFeed());
    if (redis.status === 'ready') await this.onReady();
    else this.logger.warn({ node: this.address, err: this.connection.lastError }, 'Redis is not reachable yet; retrying in the background');
  }

  /**
   * Stops acting on the node — scans, probes, keyspace subscriptions, timers — and keeps what it knows about it
   * (capabilities, the server's identity, the connection's state): another lockscope replica leads meanwhile.
   * Probe replies still in flight are dropped.
   */
  async pause(): Promise<void> {
    if (this.halted) return;
    this.halted = true;
    this.serverKnown = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.laterTimer) clearTimeout(this.laterTimer);
    this.laterTimer = null;
    this.later.clear();
    for (const off of this.unbind.splice(0)) off();
    this.dirty.clear();
    await Promise.allSettled([this.flushing, this.syncing.current, this.readying.current]);
    await this.feed.unsubscribe();
  }

  async stop(): Promise<void> {
    await this.pause();
    this.stopped = true;
    this.connection.dispose();
    this.feed.dispose();
  }

  /**
   * Takes over what the replica that led before knew of this node's server (before `start`): a restart since is
   * still seen as one. Having looked at this master, that replica followed its taking over from a failed one too.
   */
  rememberServer(memory: IdentityMemory): void {
    this.identity.remember(memory);
    if (memory.runId !== null || memory.marker !== null) this.takingOver = null;
  }

  /** Marks a key for probing; bursts of events for the same key collapse into one probe. */
  requestProbe(key: Buffer, id = key.toString('base64')): void {
    if (this.halted || isStateKey(key)) return;
    this.dirty.set(id, key);
    if (!this.flushing) this.flushing = new Promise((r) => setImmediate(r)).then(() => this.flushDirty());
  }

  /** Full discovery: scan every pattern, probe what it finds, and re-probe tracked keys the scan did not see. */
  resync(): Promise<void> {
    return this.syncing.run();
  }

  /** `ASK` from the owner of these keys' slot: this node imports it; probe them here, after ASKING. */
  probeAsked(keys: Buffer[]): void {
    void this.probeNow(keys, true);
  }

  /** This node as the header shows it. */
  status(): NodeStatus {
    const caps = this.capabilities;
    return {
      id: this.id,
      address: this.address,
      role: 'master',
      slots: this.node.slots ? this.node.slots.map(([a, b]): [number, number] => [a, b]) : null,
      connection: this.connection.state,
      lastError: this.connection.state === 'ready' ? null : this.connection.lastError,
      feed: this.feed.mode,
      feedSource: this.feed.source,
      pollIntervalMs: this.pollIntervalMs,
      redisVersion: this.identity.facts.version,
      missing: caps.list().map((m) => (m.capability === 'keys' ? { ...m, detail: `${caps.unreadable.size} keys: ${m.detail}` } : m)),
      blind: caps.blind,
      unreadableKeys: caps.unreadable.size,
      restartSignal: this.identity.signal,
      lastRestart: this.lastRestart,
      synced: this.synced,
    };
  }

  /**
   * One (re)connect set-up at a time. A `ready` while one runs (the subscriber came back after the command
   * connection) runs it once more afterwards: events published while the subscriber was away are lost.
   */
  private onReady(): Promise<void> {
    return this.readying.run();
  }

  private async setUp(): Promise<void> {
    if (this.halted) return;
    const restart = await this.identifyServer().catch((err: Error) => {
      this.logger.warn({ err: err.message }, 'could not check the Redis user\'s permissions; will retry on reconnect');
      if (this.redis.status === 'ready') this.serverKnown = true;
      return null;
    });
    if (this.halted) return;
    if (!this.capabilities.blind) await this.feed.decide().catch((err: Error) => this.logger.warn({ err: err.message }, 'change feed setup failed'));
    await this.resync();
    if (restart && this.lastRestart === restart.info) {
      restart.info.lost = restart.settle();
      this.logger.warn({ node: this.address, lost: restart.info.lost }, 'locks held before the Redis restart that are gone after it');
      this.emit('status');
    }
  }

  /**
   * What the user may do here and which server answers; after a restart or failover, tells the tracker (for this
   * node's locks) and returns the check to settle once everything was probed again.
   */
  private async identifyServer(): Promise<{ info: RedisRestart; settle: () => number } | null> {
    const { redis } = this;
    const facts = this.identity.facts;
    await this.untilLoaded();
    await this.capabilities.check(redis, {
      channels: this.channels,
      configureNotifications: this.options.configureNotifications,
      hasExpireTime: facts.versionNum >= 0x070000,
    });
    this.logMissing();
    const restarted = await this.identity.identify();
    // Another server in the node's place is a restart whatever the user may read: a Sentinel failover (the marker
    // key was replicated to it, and without INFO nothing else would tell), or a cluster replica promoted in place of
    // a failed master (its first look).
    const address = this.address;
    const from = this.identifiedAt !== null && this.identifiedAt !== address ? this.identifiedAt : this.tookOver();
    this.identifiedAt = address;
    this.prober.clusterNode = this.identity.facts.cluster ?? true; // unknown: the one-cursor walk is right everywhere
    this.prober.versionNum = this.identity.facts.versionNum;
    this.serverKnown = true;
    this.emit('status');
    if (!restarted && from === null) return null;
    const check = this.host.tracker.serverRestarted((id) => this.host.owns(this, id));
    const info: RedisRestart = { at: Date.now(), node: address, lost: null, ...(from !== null ? { from } : {}) };
    this.lastRestart = info;
    this.logger.warn(
      { node: address, ...(from !== null ? { from } : {}), signal: from !== null ? 'failover' : this.identity.signal },
      from !== null ? 'Redis failed over to another server: checking which locks survived' : 'Redis restarted or failed over: checking which locks survived',
    );
    return { info, settle: () => check.settle() };
  }

  /** The first look at a master that took over from a failed one (once): the failed master's address. */
  private tookOver(): string | null {
    const from = this.takingOver;
    this.takingOver = null;
    return from;
  }

  /** A hash tag for lockscope's own keys on this node: one of its slots on a cluster master, none elsewhere. */
  private tag(): string {
    const first = this.node.slots?.[0];
    return first ? slotTag(first[0]) : '';
  }

  /**
   * A server that has just started may still be loading its data (`LOADING` errors): nothing it says is worth
   * believing until it is done, least of all that a key is gone. Waits using a harmless read any user may make.
   */
  private async untilLoaded(): Promise<void> {
    for (let waited = 0; !this.halted; waited += LOADING_POLL_MS) {
      // On a cluster node a key of another slot would be answered MOVED before LOADING.
      const err = await this.redis.exists(stateKey('loading-check') + this.tag()).then(
        () => null,
        (e: Error) => e,
      );
      if (!err || !/^LOADING/.test(err.message)) return;
      if (waited === 0) this.logger.info({ node: this.address }, 'Redis is loading its data: waiting');
      await new Promise((r) => setTimeout(r, LOADING_POLL_MS));
    }
  }

  /** Logs what the user lacks when that changed (a blind node is checked again every 30 s). */
  private logMissing(): void {
    const now = this.capabilities.list();
    const key = now.map((m) => `${m.capability}:${m.detail}`).join('\n');
    if (key === this.loggedMissing) return;
    this.loggedMissing = key;
    for (const m of now) {
      const log = m.blinds ? this.logger.error.bind(this.logger) : this.logger.warn.bind(this.logger);
      log({ node: this.address, capability: m.capability, detail: m.detail }, m.effect);
    }
  }

  private async reconcile(): Promise<void> {
    // A node left blind is looked at again now and then: permissions granted later heal it without a reconnect.
    if (this.capabilities.blind && this.redis.status === 'ready') {
      await this.onReady();
      return;
    }
    // A scan under way (the first one, on a big keyspace) is as good as the one due: not another right after it.
    if (this.syncing.current) return;
    await this.identity.refreshMarker();
    await this.resync();
  }

  /** Notifications switched on or off since: switch modes, and resync across the switch so nothing falls in the gap. */
  private async recheckFeed(): Promise<void> {
    if (this.redis.status !== 'ready' || this.readying.current || this.capabilities.blind) return;
    const changed = await this.feed.decide().catch((err: Error) => {
      this.logger.debug({ err: err.message }, 'change feed re-check failed');
      return false;
    });
    if (!changed) return;
    if (this.feed.mode === 'polling') await this.poll();
    await this.resync();
  }

  /**
   * One polling round: re-probe every tracked lock of this node (and the side keys that shape one), backing off
   * while rounds take long relative to POLL_MS. With notifications that miss only sorted-set events, only the
   * sorted-set locks (semaphores) are re-probed: their holders leave by a bare ZREM.
   */
  private async poll(): Promise<void> {
    const { mode, evictionsUnseen, zsetsUnseen } = this.feed;
    if (mode !== 'polling' && !(mode === 'notifications' && (evictionsUnseen || zsetsUnseen))) return;
    const keys = mode === 'polling' || evictionsUnseen ? this.host.heldKeys(this) : this.host.heldKeys(this, 'zset');
    for (const id of this.sideKeys) keys.push(Buffer.from(id, 'base64'));
    const started = Date.now();
    await this.probeNow(keys);
    const took = Date.now() - started;
    const next = Math.max(this.options.pollMs, Math.ceil(took * POLL_DUTY));
    const { logger } = this;
    if (next > this.options.pollMs && this.pollIntervalMs === this.options.pollMs) {
      logger.warn({ keys: keys.length, roundMs: took, pollMs: this.options.pollMs, nowMs: next }, 'probe round is slow: polling less often');
    } else if (next === this.options.pollMs && this.pollIntervalMs > this.options.pollMs) {
      logger.info({ keys: keys.length, roundMs: took, pollMs: next }, 'probe rounds are fast again: polling every POLL_MS');
    }
    this.pollIntervalMs = next;
  }

  private async fullScan(): Promise<void> {
    if (this.capabilities.blind) return;
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
      const ways = this.prober.clusterNode ? 1 : (this.options.scanWays ?? 2);
      for await (const keys of scanKeys(this.redis, glob, this.options.scanCount, ways)) {
        for (const k of keys) {
          if (keep && !keep(k)) continue;
          const id = k.toString('base64');
          if (seen.has(id) || isStateKey(k)) continue;
          seen.add(id);
          // A key of a slot this node does not serve (it imports it, or the slot map is stale): its owner says.
          if (!this.host.ownsKey(this, k)) {
            this.host.requestProbe(k);
            continue;
          }
          if (!batch.length) batchSince = Date.now();
          batch.push(k);
        }
        while (batch.length >= size) probes.push(this.probeNow(batch.splice(0, size)));
        if (batch.length && Date.now() - batchSince >= BATCH_WAIT_MS) probes.push(this.probeNow(batch.splice(0)));
      }
    }
    // Tracked locks and side keys the scan did not see (gone, or renamed away): a probe tells which.
    for (const id of this.host.heldIds(this)) if (!seen.has(id)) batch.push(Buffer.from(id, 'base64'));
    for (const id of this.sideKeys) if (!seen.has(id)) batch.push(Buffer.from(id, 'base64'));
    while (batch.length > size) probes.push(this.probeNow(batch.splice(0, size)));
    if (batch.length) probes.push(this.probeNow(batch));
    await Promise.all(probes);
    this.lastScanMs = Date.now() - started;
    if (!this.synced) {
      this.synced = true;
      this.emit('status');
    }
    this.emit('scan', this.lastScanMs, seen.size);
  }

  /** SCAN refused at run time leaves the node blind; anything else waits for the next round or reconnect. */
  private scanFailed(err: Error): void {
    if (refusalOf(err) === 'command') {
      this.capabilities.refuse('scan', err.message);
      this.logger.error({ node: this.address, err: err.message }, 'SCAN is refused: lockscope cannot list this node\'s locks');
      return;
    }
    this.logger.debug({ err: err.message }, 'scan failed');
  }

  private async flushDirty(): Promise<void> {
    while (this.dirty.size && !this.halted) {
      const keys = [...this.dirty.values()];
      this.dirty.clear();
      await this.probeNow(keys);
    }
    this.flushing = null;
  }

  private async probeNow(keys: Buffer[], asking = false): Promise<void> {
    if (!keys.length || this.halted || !this.serverKnown || this.capabilities.blind) return;
    let probed: ProbedKey[];
    try {
      const round = await this.prober.probe(keys, asking);
      probed = round.probed;
      for (const k of round.again) this.requestProbe(k);
      this.redirected(round);
    } catch (err) {
      this.probeFailed(err as Error, keys.length);
      return;
    }
    if (!this.serverKnown) return;
    const { tracker } = this.host;
    const slotted = this.node.slots !== undefined;
    // Fold results in small slices, letting I/O in between: a SCAN reply that arrived with this one sends the
    // next SCAN first, so folding overlaps Redis's work instead of delaying it.
    for (let i = 0; i < probed.length; i++) {
      if (i % APPLY_SLICE === 0) await new Promise((r) => setImmediate(r));
      const p = probed[i]!;
      if (slotted) {
        p.node = this.address;
        p.slot = keySlot(p.key);
      }
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
      if (Math.min(view.deadline, due) <= p.observedAt + WHEEL_SLOT_MS) this.host.expiryDue(view.id, due);
    }
  }

  /**
   * Keys the cluster answered for elsewhere: none is gone for that. MOVED: read the slot map again, then ask the
   * owner; ASK: the importing master probes them; CLUSTERDOWN/TRYAGAIN: ask again shortly.
   */
  private redirected(round: ProbeRound): void {
    if (round.moved.length) {
      const keys = round.moved;
      void this.host.refreshTopology().finally(() => this.retryLater(keys));
    }
    for (const { address, keys } of round.asked) if (!this.host.askNode(address, keys)) this.retryLater(keys);
    if (round.later.length) this.retryLater(round.later);
  }

  private retryLater(keys: Buffer[]): void {
    if (this.halted) return;
    for (const k of keys) this.later.set(k.toString('base64'), k);
    this.laterTimer ??= setTimeout(() => {
      this.laterTimer = null;
      const due = [...this.later.values()];
      this.later.clear();
      for (const k of due) this.host.requestProbe(k);
    }, REDIRECT_RETRY_MS);
  }

  /** Disconnected: the resync after reconnect covers these keys. Anything else is a fault worth a warning. */
  private probeFailed(err: Error, keys: number): void {
    if (this.redis.status !== 'ready' || this.capabilities.blind) {
      this.logger.debug({ err: err.message, keys }, 'probe failed');
      return;
    }
    const now = Date.now();
    this.probeErrors.failures++;
    if (now - this.probeErrors.loggedAt < PROBE_ERROR_LOG_MS) return;
    this.logger.warn({ err: err.message, keys, failures: this.probeErrors.failures }, 'probe failed: these keys are not tracked');
    this.probeErrors = { loggedAt: now, failures: 0 };
  }

  private reconcileDelay(): number {
    if (this.feed.mode === 'notifications' || this.capabilities.blind) return this.options.reconcileMs ?? 30_000;
    // Polling finds new locks only by scanning: scan as often as the keyspace size allows.
    return Math.max(this.options.pollMs, this.lastScanMs * 10);
  }

  /** Listens to a connection for as long as this watcher runs (connections outlive watchers in benches). */
  private on$(emitter: Redis, event: string, listener: (...args: never[]) => void): void {
    const fn = listener as (...args: unknown[]) => void;
    emitter.on(event, fn);
    this.unbind.push(() => emitter.off(event, fn));
  }

  /**
   * Runs `fn` repeatedly with a delay computed after each run, never overlapping itself. Returns `retime()`: the
   * wait in progress (if any) is started again with the delay as computed now.
   */
  private loop(delay: () => number, fn: () => Promise<void>): () => void {
    const generation = this.generation;
    let pending: NodeJS.Timeout | null = null;
    const schedule = () => {
      if (this.halted || generation !== this.generation) return;
      const t = setTimeout(() => {
        this.timers.delete(t);
        pending = null;
        void fn().finally(schedule);
      }, delay());
      t.unref();
      this.timers.add(t);
      pending = t;
    };
    schedule();
    return () => {
      if (!pending) return;
      clearTimeout(pending);
      this.timers.delete(pending);
      schedule();
    };
  }
}
