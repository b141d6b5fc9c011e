import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LeaseView, ReplicaRole, ReplicationStatus } from '../../../shared/status';
import { createLockClient, Lease, type LeaseTerm } from '../locklib';
import type { IdentityMemory } from '../targets/node/server-identity';
import type { Target } from '../targets/target';
import type { ReplicaBus } from './bus';
import type { LeaseData, StatusData } from './entries';
import { ChangeFollower } from './follower';
import type { GroupKeys } from './keys';
import { ChangePublisher } from './publisher';

export interface TargetReplicaDeps {
  target: Target;
  keys: GroupKeys;
  /** The state store: commands (lease, publishing, reads) and a connection of its own for blocking stream reads. */
  redis: Redis;
  reader: Redis;
  /** This replica's name (`host:port#pid`). */
  self: string;
  /** Where the state lives, for the status (`the watched Redis`, or the masked STATE_REDIS_URL). */
  store: string;
  leaseMs: number;
  bus: ReplicaBus;
  logger: Logger;
  clock?: () => number;
}

/** A target's status changes go out to followers at most this often. */
const STATUS_COALESCE_MS = 100;
/** Candidates try for a free lease this often: a dead leader is replaced within the lease time plus this. */
const RETRY_MS = 250;

/**
 * One target's replication on this replica: campaigns for the target's lease (lockscope's lock library: owner-checked
 * renewals, a watchdog, a fencing term), and
 *
 * - as **leader**, watches the target's nodes (`Target.activate`) and publishes its tracker's changes, its status
 *   and a heartbeat per renewal to the group's change stream (`ChangePublisher`), and snapshots to replicas that ask;
 * - as **follower**, watches nothing and applies the leader's stream to its own tracker (`ChangeFollower`) — the
 *   browsers here are fed by the same tracker events as on the leader — and shows the leader's view of the nodes;
 * - as **candidate** (no leader heard from for a renewal and a second), tries to take the lease every 250 ms. A
 *   replica whose table is a faithful copy competes at once; one that has no copy yet (it just started) only on a
 *   cold start (no leader in a long while) or after another lease time, so that the replica that takes over is one
 *   that knows the table;
 * - **alone** when Redis refuses the lease (permissions, a read-only replica): it watches the target itself.
 *
 * Taking over: the new leader reads the stream to its end (the last entries of the old term), takes over what the
 * old leader knew of each node's server (so a restart in between is still a restart), then starts its node watchers
 * against the table it already has: their first scan finds the locks it knows unchanged (no event), renewed, or gone
 * — and only those are shown ended, at the time it looked.
 */
export class TargetReplica {
  /** Leading, working alone, or following (a follower while its leader is heard from, a candidate otherwise). */
  private state: 'following' | 'leader' | 'alone' = 'following';
  readonly lease: Lease;
  readonly publisher: ChangePublisher;
  readonly follower: ChangeFollower;
  private leaseView: LeaseView | null = null;
  private aloneReason: string | null = null;
  /** What the leader followed last knew of each node's server (handed to the node watchers should this replica lead next). */
  private memories: Record<string, IdentityMemory> | null = null;
  private startedAt = 0;
  /** No leader has published in a long while: a replica without a copy of the table may lead at once. */
  private coldStart = false;
  private transitions: Promise<void> = Promise.resolve();
  /** Resolves once this replica knows its part: leading (first scan done), following (table copied), or alone. */
  readonly ready: Promise<void>;
  private isReady: () => void = () => {};
  private statusTimer: NodeJS.Timeout | null = null;
  private readonly clock: () => number;
  private readonly unbind: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly deps: TargetReplicaDeps) {
    const { target, keys, redis, self, leaseMs, logger } = deps;
    this.ready = new Promise((resolve) => (this.isReady = resolve));
    this.clock = deps.clock ?? Date.now;
    const locks = createLockClient(redis, { commandTimeoutMs: Math.max(200, Math.min(2000, Math.floor(leaseMs / 4))) });
    this.lease = new Lease(locks, keys.lease, { holder: self, ttlMs: leaseMs, termKey: keys.term, retryEveryMs: RETRY_MS, shouldTry: () => this.mayCampaign() });
    this.publisher = new ChangePublisher(target.tracker, redis, keys, logger, this.clock);
    this.follower = new ChangeFollower(target.tracker, redis, deps.reader, keys, self, logger, this.clock);

    this.lease.on('elected', (term) => this.serially(() => this.lead(term)));
    this.lease.on('deposed', (_term, reason) => this.serially(() => this.stepDown(reason?.reason ?? null)));
    this.lease.on('renewed', (_term, renewedAt) => {
      if (!this.leaseView || this.state !== 'leader') return;
      this.leaseView.renewedAt = renewedAt;
      this.publisher.beat(this.leaseData());
    });
    this.lease.on('refused', (err) => this.serially(() => this.goAlone(err)));
    // The lease itself learns only at its next renewal: told now, so that it campaigns again (Redis lost it) or stops.
    this.publisher.on('fenced', (why) => this.lease.abandon(why));

    this.follower.on('need-sync', (nonce) => deps.bus.send('sync', { group: keys.group, to: self, nonce }));
    this.follower.on('lease', (term, lease) => {
      this.leaseView = { holder: lease.holder, term, acquiredAt: lease.acquiredAt, renewedAt: lease.renewedAt, ttlMs: lease.ttlMs, transitions: lease.transitions };
      // A replica whose lease ran out kept watching until another leads: now one does.
      if (this.state === 'following' && lease.holder !== self && target.watching) void target.deactivate();
    });
    this.follower.on('status', (s) => {
      target.mirror = { nodes: s.nodes, lastRestart: s.lastRestart, lastError: s.lastError };
      this.memories = s.memories;
      target.emit('status');
    });
    this.follower.on('resign', () => {
      this.leaseView = null;
      this.follower.heardAt = null;
      this.startedAt = 0; // a resignation is as good as a long silence
      this.lease.tryNow();
    });
    this.follower.on('synced', () => {
      this.isReady();
      target.emit('status');
    });
    const onStatus = () => this.scheduleStatus();
    target.on('status', onStatus);
    this.unbind.push(() => target.off('status', onStatus));
  }

  get target(): Target {
    return this.deps.target;
  }

  get group(): string {
    return this.deps.keys.group;
  }

  get role(): ReplicaRole {
    if (this.state !== 'following') return this.state;
    const heardAt = this.follower.heardAt;
    return heardAt !== null && this.clock() - heardAt <= this.silenceGraceMs && this.leaseView !== null ? 'follower' : 'candidate';
  }

  /** A leader not heard from for longer than this (a renewal and a second) is taken to be gone. */
  private get silenceGraceMs(): number {
    return this.lease.renewEveryMs + 1000;
  }

  /** Finds out where things stand, starts following the stream and campaigning. */
  async start(): Promise<void> {
    const { target, leaseMs } = this.deps;
    target.replication = () => this.status();
    this.startedAt = this.clock();
    const [record, tail] = await Promise.all([this.lease.read().catch((err: Error) => err), this.follower.tail().catch(() => null)]);
    // The state store cannot be reached now: this replica's part is decided once it can (start-up does not wait).
    if (record instanceof Error) this.isReady();
    else if (record) {
      const { holder, term, acquiredAt, renewedAt, ttlMs, transitions } = record;
      this.leaseView = { holder, term, acquiredAt, renewedAt, ttlMs, transitions };
    }
    // No leader to wait for: nothing published lately, or the last leader resigned (a rolling restart of a single
    // replica took 7.8 s to start again before, waiting out a leader that had said it was gone).
    this.coldStart = (!record || record instanceof Error) && (!tail || tail.resigned || this.clock() - tail.at > 2 * leaseMs);
    await this.follower.start();
    this.lease.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.unbind.splice(0)) off();
    if (this.statusTimer) clearTimeout(this.statusTimer);
    await this.transitions;
    if (this.state === 'leader') await this.publisher.resign();
    this.publisher.end();
    await this.lease.stop();
    await this.follower.stop();
    this.deps.target.replication = null;
  }

  /** A follower asked for the table (bus `sync`): the leader sends it through the stream. */
  sendSnapshot(to: string, nonce: string): void {
    if (this.state === 'leader') void this.publisher.snapshot(to, nonce, this.statusData());
  }

  status(): ReplicationStatus {
    const role = this.role;
    const heardAt = role === 'leader' ? null : this.follower.heardAt;
    let problem: string | null = this.aloneReason;
    if (role === 'candidate') {
      problem = this.leaseView
        ? `The leader (${this.leaseView.holder}) has not been heard from since ${heardAt ? new Date(heardAt).toISOString() : 'this replica started'}: one of the replicas takes over within the lease time (${this.deps.leaseMs / 1000} s) and a second.`
        : 'No replica leads right now: one is being elected.';
    } else if (role === 'follower' && !this.follower.synced) problem = 'Copying the table from the leader…';
    return {
      role,
      self: this.deps.self,
      lease: this.leaseView && { ...this.leaseView },
      synced: this.state !== 'following' || this.follower.synced,
      heardAt,
      store: this.deps.store,
      problem,
    };
  }

  /** Role changes run one at a time, in the order they happened. */
  private serially(step: () => Promise<void>): void {
    this.transitions = this.transitions.then(step).catch((err: Error) => this.deps.logger.error({ err: err.message }, 'replica role change failed'));
  }

  private mayCampaign(): boolean {
    if (this.stopped) return false;
    if (this.state === 'alone') return true; // a refusal may have been lifted
    // Nobody held the lease and nothing was published in a long while: no leader to wait for (a single replica).
    if (this.coldStart && this.follower.heardAt === null) return true;
    const silentFor = this.clock() - (this.follower.heardAt ?? this.startedAt);
    if (silentFor <= this.silenceGraceMs) return false;
    if (this.follower.synced || this.coldStart) return true;
    return silentFor > this.deps.leaseMs + this.silenceGraceMs;
  }

  private async lead(term: LeaseTerm): Promise<void> {
    const { target, logger } = this.deps;
    if (this.stopped) return;
    const wasAlone = this.state === 'alone';
    // The previous leader's last entries belong to the table this replica starts from.
    await this.follower.stop({ drain: true });
    if (this.stopped) return;
    if (term.signal.aborted) {
      // Lost again before it began: keep following.
      await this.follower.start();
      return;
    }
    this.state = 'leader';
    this.aloneReason = null;
    if (this.memories) target.rememberNodes(this.memories);
    this.memories = null;
    this.leaseView = { holder: this.deps.self, term: term.term, acquiredAt: term.acquiredAt, renewedAt: term.acquiredAt, ttlMs: this.deps.leaseMs, transitions: term.transitions };
    this.publisher.begin(term, this.leaseData(), this.follower.position);
    target.mirror = null;
    logger.info({ term: term.term, locks: target.tracker.size, wasAlone }, 'elected leader: watching the target');
    target.emit('status');
    void target.activate().then(this.isReady);
    this.publishStatus();
  }

  /**
   * The term ended: stop publishing at once. The node watchers stop at once when another replica took the lease
   * (or this one gave it up); when the lease ran out unrenewed or Redis lost it, they go on until another replica
   * is heard leading (`lease` from the stream). Cut off from the state store — a partition, a restart that wiped
   * it, the cluster shard that holds it failing over — nobody may lead for a while, and the table this replica
   * shows stays its own look at the nodes rather than going blind (it publishes nothing: no follower applies any
   * of it); a restart is followed through (locks it wiped end lost) rather than interrupted.
   */
  private async stepDown(why: 'expired' | 'taken' | 'gone' | null): Promise<void> {
    const { target, logger } = this.deps;
    if (this.state !== 'leader') return;
    this.publisher.end();
    this.state = 'following';
    // Until the next leader says otherwise, show what this replica last saw of the nodes.
    target.mirror = this.statusData();
    this.memories = target.nodeMemories();
    const text = { expired: 'its lease ran out before a renewal got through', taken: 'another replica holds the lease (or a newer term)', gone: 'Redis lost the lease (restarted?)' };
    if (why) logger.warn({ why: text[why] }, 'no longer the leader');
    else logger.info('gave up the lease');
    target.emit('status');
    // Never waits on the nodes: cut off from Redis, their pause waits for probes that only the partition's end answers.
    if (why !== 'expired' && why !== 'gone') void target.deactivate();
    if (!this.stopped) await this.follower.start();
  }

  private async goAlone(err: Error): Promise<void> {
    const { target, logger } = this.deps;
    if (this.state !== 'following') return;
    this.state = 'alone';
    this.aloneReason = `lockscope cannot keep its lease in ${this.deps.store} (${err.message}): this replica watches the target by itself, as any other replica would.`;
    logger.warn({ err: err.message }, 'lease refused: working alone');
    await this.follower.stop();
    target.mirror = null;
    target.emit('status');
    void target.activate().then(this.isReady);
  }

  private leaseData(): LeaseData {
    const v = this.leaseView!;
    return { holder: v.holder, acquiredAt: v.acquiredAt, renewedAt: v.renewedAt, ttlMs: v.ttlMs, transitions: v.transitions };
  }

  private statusData(): StatusData {
    const { target } = this.deps;
    return { nodes: target.nodes.map((n) => n.status()), lastRestart: target.lastRestart, lastError: target.lastError, memories: target.nodeMemories() };
  }

  private scheduleStatus(): void {
    if (this.state !== 'leader' || this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = null;
      this.publishStatus();
    }, STATUS_COALESCE_MS);
  }

  private publishStatus(): void {
    if (this.state === 'leader') this.publisher.status(this.statusData());
  }
}
