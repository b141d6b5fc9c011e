import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LockTracker } from '../model/lock-tracker';
import { decodeEntry, type ChangeItem, type Entry, type LeaseData, type Position, type StatusData } from './entries';
import type { GroupKeys } from './keys';

/** How long one blocking read waits for entries (a leader publishes a heartbeat at least every third of its lease). */
const BLOCK_MS = 1000;
/** A blocking read with no answer this long after its block ended is stuck (a partition): the connection is dropped. */
const STUCK_AFTER_MS = BLOCK_MS + 3000;
const RETRY_MS = 200;
const READ_COUNT = 100;

export interface FollowerEvents {
  /** An entry from the leader arrived (any kind): it is alive. */
  heard: [entry: Entry];
  /** The leader's view of the target's nodes. */
  status: [status: StatusData];
  /** A new term began, or the leader renewed its lease. */
  lease: [term: number, lease: LeaseData];
  /** The leader resigned (graceful shutdown). */
  resign: [];
  /** This replica's table is not a faithful copy (just started, a gap, a new leader out of step): ask the leader for a snapshot with this nonce. */
  'need-sync': [nonce: string];
  /** The table is a complete copy again. */
  synced: [];
  /** An entry of a term that is over was ignored (fencing). */
  fenced: [entry: Entry];
}

/**
 * A follower's half of replication: reads the group's change stream (blocking reads on a connection of its own)
 * and applies the current leader's entries to this replica's tracker — whose `change`/`remove` events feed the
 * browsers here exactly as a leader's own probes would. Entries are applied only in order within the term being
 * followed; anything else — a gap, a term that starts out of step, a malformed entry — makes the table suspect,
 * and the leader is asked for a snapshot (which arrives through the stream, in parts, in its place among the
 * changes). Until it has arrived, the table shown stays as it was (never emptied), and locks in no part and in no
 * change since the first part are dropped when the last part arrives.
 */
export class ChangeFollower extends EventEmitter<FollowerEvents> {
  /** The last entry applied (or skipped in order). */
  position: Position | null = null;
  /** The table is a complete copy of the leader's. */
  synced = false;
  /** When the last entry of the current leader arrived (this replica's clock), or null. */
  heardAt: number | null = null;
  /** Entries of an ended term that were ignored. */
  fencedEntries = 0;
  private lastId = '0-0';
  private running = false;
  private loop: Promise<void> | null = null;
  /** The snapshot asked for: its nonce, and once its first part arrived, the ids not seen since. */
  private awaiting: { nonce: string; unseen: Set<string> | null } | null = null;

  constructor(
    private readonly tracker: LockTracker,
    /** Commands (XREVRANGE, XRANGE); never blocked. */
    private readonly redis: Redis,
    /** Blocking reads only (a connection of its own). */
    private readonly reader: Redis,
    private readonly keys: GroupKeys,
    /** This replica's name: snapshots addressed to it. */
    private readonly self: string,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    super();
  }

  /**
   * The newest entry's id, the leader's clock when it was published, and whether it was the leader's resignation
   * (a graceful shutdown: nobody leads now); null for an empty stream.
   */
  async tail(): Promise<{ id: string; at: number; resigned: boolean } | null> {
    const last = (await this.redis.xrevrange(this.keys.changes, '+', '-', 'COUNT', 1)) as [string, string[]][];
    if (!last.length) return null;
    const [id, flat] = last[0]!;
    const field = (name: string) => flat[flat.indexOf(name) + 1];
    const at = Number(field('at'));
    return { id, at: Number.isFinite(at) ? at : 0, resigned: field('kind') === 'resign' };
  }

  /**
   * Follows the stream from its end (what is in it before now is covered by the snapshot that will be asked for).
   * The table is taken to be out of step until a snapshot arrived.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.synced = false;
    this.awaiting = null;
    this.position = null;
    this.lastId = (await this.tail().catch(() => null))?.id ?? '0-0';
    if (this.reader.status === 'end' || this.reader.status === 'wait') await this.reader.connect().catch(() => {});
    this.needSync();
    this.loop = this.run();
  }

  /**
   * Stops following. With `drain`, reads the stream to its end first and applies what is left of the term being
   * followed (before this replica leads: the previous leader's last entries are part of its starting table).
   */
  async stop(options: { drain?: boolean } = {}): Promise<void> {
    if (!this.running) return;
    this.running = false;
    // A blocking read may be out: drop the connection rather than wait for its block to end.
    this.reader.disconnect();
    await this.loop;
    this.loop = null;
    if (!options.drain) return;
    for (;;) {
      const page = (await this.redis.xrange(this.keys.changes, `(${this.lastId}`, '+', 'COUNT', READ_COUNT).catch((err: Error) => {
        this.logger.warn({ err: err.message }, 'could not read the rest of the change stream before leading');
        return [];
      })) as [string, string[]][];
      for (const [id, flat] of page) this.take(id, flat);
      if (page.length < READ_COUNT) return;
    }
  }

  /** Marks the table out of step (e.g. a new leader was elected while this replica was not following). */
  resync(): void {
    this.needSync();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let stuck: NodeJS.Timeout | null = null;
      try {
        stuck = setTimeout(() => this.reader.disconnect(true), STUCK_AFTER_MS);
        const reply = (await this.reader.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', this.keys.changes, this.lastId)) as [string, [string, string[]][]][] | null;
        clearTimeout(stuck);
        if (!this.running) return;
        for (const [id, flat] of reply?.[0]?.[1] ?? []) this.take(id, flat);
        if (this.awaiting && !this.awaiting.unseen) this.askAgainIfLate();
      } catch (err) {
        if (stuck) clearTimeout(stuck);
        if (!this.running) return;
        this.logger.debug({ err: (err as Error).message }, 'change stream read failed; retrying');
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  private askedAt = 0;

  /** A snapshot request may have been lost (the leader changed, the bus dropped it): ask again now and then. */
  private askAgainIfLate(): void {
    if (this.clock() - this.askedAt > 3000) this.needSync();
  }

  private needSync(): void {
    this.synced = false;
    const nonce = randomBytes(6).toString('hex');
    this.awaiting = { nonce, unseen: null };
    this.askedAt = this.clock();
    this.emit('need-sync', nonce);
  }

  private take(id: string, flat: string[]): void {
    this.lastId = id;
    let entry: Entry;
    try {
      entry = decodeEntry(id, flat);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'change stream entry skipped; asking for a snapshot');
      if (this.position) this.position.seq++;
      this.needSync();
      return;
    }
    if (!this.inOrder(entry)) return;
    this.heardAt = this.clock();
    this.emit('heard', entry);
    switch (entry.kind) {
      case 'term':
      case 'beat':
        this.emit('lease', entry.term, entry.data);
        break;
      case 'status':
        this.emit('status', entry.data);
        break;
      case 'resign':
        this.emit('resign');
        break;
      case 'changes':
        // Before the snapshot asked for begins, its first part covers these.
        if (!this.awaiting || this.awaiting.unseen) this.apply(entry.data.items);
        break;
      case 'snapshot':
        this.snapshotPart(entry);
        break;
    }
  }

  /**
   * Whether to apply an entry: one of the term followed, next in line; or the first of a newer term (or epoch).
   * Anything out of step asks for a snapshot; an entry of an older term is ignored (fencing).
   */
  private inOrder(e: Entry): boolean {
    const at = this.position;
    const next: Position = { epoch: e.epoch, term: e.term, seq: e.seq };
    if (at && e.epoch === at.epoch && e.term < at.term) {
      this.fencedEntries++;
      this.logger.warn({ term: e.term, following: at.term }, 'ignored a change stream entry of an ended term');
      this.emit('fenced', e);
      return false;
    }
    if (!at || e.epoch !== at.epoch || e.term !== at.term) {
      this.position = next;
      // A new term: in step if it starts from the entry this replica applied last.
      const base = e.kind === 'term' ? e.data.base : null;
      const inStep = e.kind === 'term' && at !== null && base !== null && base.epoch === at.epoch && base.term === at.term && base.seq === at.seq;
      if (!inStep && this.unaware()) this.needSync();
      return true;
    }
    this.position = next;
    if (e.seq !== at.seq + 1 && this.unaware()) {
      this.logger.info({ expected: at.seq + 1, got: e.seq }, 'change stream gap: asking for a snapshot');
      this.needSync();
    }
    return true;
  }

  /** Whether a new problem needs a new snapshot: none was asked for, or the one arriving is spoilt by it too. */
  private unaware(): boolean {
    return !this.awaiting || this.awaiting.unseen !== null;
  }

  private apply(items: ChangeItem[]): void {
    const unseen = this.awaiting?.unseen;
    for (const item of items) {
      unseen?.delete(item.id);
      if (item.lock === null) this.tracker.importRemove(item.id);
      else if (item.lock) this.tracker.importLock(item.lock, item.reset ? item.history : undefined);
      if (item.history && !item.reset) this.tracker.importHistory(item.id, item.history);
    }
  }

  private snapshotPart(e: Extract<Entry, { kind: 'snapshot' }>): void {
    const awaiting = this.awaiting;
    if (e.to !== this.self || !awaiting || e.nonce !== awaiting.nonce) return;
    if (e.part === 0) {
      awaiting.unseen = new Set(this.tracker.ids());
      if (e.data.status) this.emit('status', e.data.status);
    } else if (!awaiting.unseen) return; // its first part was missed: a newer request is on its way
    this.apply(e.data.items);
    if (!e.done) return;
    for (const id of awaiting.unseen!) this.tracker.importRemove(id);
    this.awaiting = null;
    this.synced = true;
    this.logger.info({ locks: this.tracker.size }, 'table copied from the leader');
    this.emit('synced');
  }
}
