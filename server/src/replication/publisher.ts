import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { LockEvent, LockView } from '../../../shared/locks';
import type { LockTracker } from '../model/lock-tracker';
import { encodeEntry, type ChangeItem, type EntryData, type LeaseData, type Position, type StatusData } from './entries';
import type { GroupKeys } from './keys';

/** Change sets go out at most this often (the browsers' own stream coalesces the same way: realtime/lock-broadcaster). */
const MIN_FLUSH_GAP_MS = 50;
/** Items per entry: a resync that touches the whole table goes out in several entries. */
const ITEMS_PER_ENTRY = 1000;
/** About this much JSON per snapshot part (characters), at most SNAPSHOT_PART_LOCKS locks. */
const SNAPSHOT_PART_CHARS = 512 * 1024;
const SNAPSHOT_PART_LOCKS = 500;
/** The stream keeps about this many entries (≈ 100 s at the busiest): a follower further behind asks for a snapshot. */
export const STREAM_MAX_ENTRIES = 2000;

/**
 * Appends an entry only while the writer's term is the lease's current term (and epoch): a leader whose term is
 * over — cut off, then back — cannot add anything after the next leader's entries. KEYS[1] term key, KEYS[2]
 * stream; ARGV[1] epoch, ARGV[2] term, ARGV[3] MAXLEN, ARGV[4..] the entry's fields. The entry's id; nil for an
 * ended term; -1 when the term key is gone (Redis lost its data: the lease is free to take again).
 */
const PUBLISH_LUA = `
local current = redis.call('HMGET', KEYS[1], 'epoch', 'term')
if not current[1] then return -1 end
if current[1] ~= ARGV[1] or current[2] ~= ARGV[2] then return false end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4))
`;

interface PublishCommand {
  lockscopePublish(termKey: string, stream: string, epoch: string, term: string, maxLen: number, ...fields: string[]): Promise<string | number | null>;
}

/** What happened to one lock since the last entry. */
interface Pending {
  /** Its state changed (true), it left the table ('removed'), or only its history grew (false). */
  lock: boolean | 'removed';
  events: (LockEvent & { amends?: true })[];
  samples: number[];
  /** It left the table and came back: the history sent is all it has. */
  reset: boolean;
}

export interface PublisherEvents {
  /**
   * The lease's term moved on (`taken`), or its term key is gone with Redis's data (`gone`): this replica is no
   * longer the leader, whatever its own lease says.
   */
  fenced: [why: 'taken' | 'gone'];
}

/**
 * The leader's half of replication: follows its tracker's `change`/`remove`/`event`/`sample` events (the same seam
 * the browsers' broadcaster reads) and publishes them, coalesced like the broadcaster's change sets, to the
 * group's change stream with its term; plus the target's status, lease renewals (heartbeats) and, for a replica
 * that asks, a snapshot of the whole table with its history. Entries go out in order on one connection.
 */
export class ChangePublisher extends EventEmitter<PublisherEvents> {
  private readonly pending = new Map<string, Pending>();
  private term: { epoch: string; term: number } | null = null;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastFlush = 0;
  private readonly unbind: (() => void)[] = [];
  /** Publishes refused because the term was over. */
  fencedWrites = 0;

  constructor(
    private readonly tracker: LockTracker,
    private readonly redis: Redis,
    private readonly keys: GroupKeys,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    super();
    if (!('lockscopePublish' in redis)) redis.defineCommand('lockscopePublish', { numberOfKeys: 2, lua: PUBLISH_LUA });
  }

  /** Where the stream stands after the last entry this leader published. */
  get position(): Position | null {
    return this.term && { ...this.term, seq: this.seq };
  }

  /**
   * Starts publishing for a new term: a `term` entry first, naming the last entry of the previous term this leader
   * had applied (`base`: followers that applied the same one are in step; the others ask for a snapshot).
   */
  begin(term: { epoch: string; term: number }, lease: LeaseData, base: Position | null): void {
    this.end();
    this.term = term;
    this.seq = 0;
    const t = this.tracker;
    const on = <E extends 'change' | 'remove' | 'event' | 'sample'>(event: E, fn: (...args: never[]) => void) => {
      t.on(event, fn as never);
      this.unbind.push(() => t.off(event, fn as never));
    };
    on('change', (view: LockView) => this.touch(view.id).lock ||= true);
    on('remove', (id: string) => {
      const p = this.touch(id);
      p.lock = 'removed';
      p.events = [];
      p.samples = [];
      p.reset = true;
    });
    on('event', (id: string, event: LockEvent, _view: LockView, amends: boolean) => {
      this.touch(id).events.push(amends ? { ...event, amends: true } : event);
    });
    on('sample', (id: string, at: number, pttlMs: number) => this.touch(id).samples.push(at, pttlMs));
    this.publish({ kind: 'term', data: { ...lease, base } });
  }

  /** Stops publishing (the term ended): nothing pending goes out. */
  end(): void {
    for (const off of this.unbind.splice(0)) off();
    this.pending.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.term = null;
  }

  status(status: StatusData): void {
    if (this.term) this.publish({ kind: 'status', data: status });
  }

  beat(lease: LeaseData): void {
    if (this.term) this.publish({ kind: 'beat', data: lease });
  }

  /** The leader is leaving (graceful shutdown): followers need not wait for its lease to run out. */
  resign(): Promise<unknown> {
    if (!this.term) return Promise.resolve();
    this.flush();
    return this.publish({ kind: 'resign', data: {} });
  }

  /**
   * Sends the whole table with its history to one replica (`to`), in parts, through the stream itself: what
   * changed before the first part is in the parts, what changes after it follows as changes, in stream order.
   */
  async snapshot(to: string, nonce: string, status: StatusData): Promise<void> {
    if (!this.term) return;
    const term = this.term;
    this.flush();
    const ids = [...this.tracker.ids()];
    let part = 0;
    let i = 0;
    do {
      const items: ChangeItem[] = [];
      let chars = 0;
      for (; i < ids.length && items.length < SNAPSHOT_PART_LOCKS && chars < SNAPSHOT_PART_CHARS; i++) {
        const id = ids[i]!;
        const lock = this.tracker.exportLock(id);
        if (!lock) continue; // removed meanwhile (its removal went out as a change)
        const item: ChangeItem = { id, lock, history: this.tracker.exportHistory(id)!, reset: true };
        chars += JSON.stringify(item).length;
        items.push(item);
      }
      const done = i >= ids.length;
      void this.publish({ kind: 'snapshot', to, nonce, part, done, data: part === 0 ? { items, status } : { items } });
      part++;
      if (!done) await new Promise((r) => setImmediate(r));
      // A term that ended (or began again) while the parts went out: the requester will ask the next leader.
      if (this.term !== term) return;
    } while (i < ids.length);
  }

  private touch(id: string): Pending {
    let p = this.pending.get(id);
    if (!p) {
      p = { lock: false, events: [], samples: [], reset: false };
      this.pending.set(id, p);
    }
    if (!this.timer) {
      const wait = Math.max(0, this.lastFlush + MIN_FLUSH_GAP_MS - this.clock());
      this.timer = setTimeout(() => this.flush(), wait);
    }
    return p;
  }

  /** Publishes what is pending now. */
  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.lastFlush = this.clock();
    if (!this.pending.size || !this.term) return;
    let items: ChangeItem[] = [];
    for (const [id, p] of this.pending) {
      const item: ChangeItem = { id };
      if (p.lock === 'removed') item.lock = null;
      else if (p.lock) item.lock = this.tracker.exportLock(id) ?? null;
      if (p.events.length || p.samples.length) item.history = { events: p.events.map((e) => ({ ...e })), samples: p.samples };
      if (p.reset && item.lock) item.reset = true;
      items.push(item);
      if (items.length === ITEMS_PER_ENTRY) {
        this.publish({ kind: 'changes', data: { items } });
        items = [];
      }
    }
    this.pending.clear();
    if (items.length) this.publish({ kind: 'changes', data: { items } });
  }

  private publish(entry: EntryData): Promise<unknown> {
    const term = this.term!;
    const fields = encodeEntry({ ...entry, ...term, seq: ++this.seq, at: this.clock() });
    const cmd = this.redis as unknown as PublishCommand;
    return cmd.lockscopePublish(this.keys.term, this.keys.changes, term.epoch, String(term.term), STREAM_MAX_ENTRIES, ...fields).then(
      (id) => {
        if (typeof id === 'string') return;
        this.fencedWrites++;
        if (this.term !== term) return;
        const gone = id === -1;
        this.logger.warn({ term: term.term }, gone ? 'the lease is gone from Redis (its data was lost): publishing refused' : 'the lease has a newer term: this replica is no longer the leader, its publishing is refused');
        this.emit('fenced', gone ? 'gone' : 'taken');
      },
      // Lost: followers see the gap in `seq` and ask for a snapshot.
      (err: Error) => this.logger.debug({ err: err.message, kind: entry.kind }, 'change stream entry not published'),
    );
  }
}
