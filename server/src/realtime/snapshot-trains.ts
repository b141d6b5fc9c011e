import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { SnapshotCursor } from '../model/lock-tracker';
import { backlogOf } from './backlog';
import type { LockSource } from './lock-broadcaster';

type IO = Server<ClientToServerEvents, ServerToClientEvents>;
type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/**
 * A snapshot goes out in parts of at most this many locks or about this much JSON (characters): a browser parses
 * and applies one in a few ms, and one part waiting in a client's buffer stays well under the slow-client limit.
 */
const SNAPSHOT_PART_LOCKS = 1000;
const SNAPSHOT_PART_CHARS = 512 * 1024;
/**
 * A train leaves this long after its last rider boarded, or BOARDING_MAX_MS after its first, whichever is sooner.
 * Browsers come in bursts — a restart of lockscope or of a proxy reconnects every open tab within a second or two
 * (their reconnection delays are randomised) — and a table of 100k locks is ~50 MB of JSON to encode per train
 * rather than per tab. A lone browser waits BOARDING_MS for its table.
 */
const BOARDING_MS = 50;
const BOARDING_MAX_MS = 250;
/**
 * At most this many riders a train: a part goes to all of them in one turn of the event loop (about 0.2 s of socket
 * writes for 50 riders and 512 KB), which holds up everything else the server does meanwhile.
 */
const MAX_RIDERS = 50;
/** Once one rider has taken a part, the others have this long to take it too before they are left behind. */
const STRAGGLER_MS = 1000;

/** One snapshot, read and encoded once, part by part, for every socket riding it. */
interface Train {
  /** Socket.IO room of its riders: a part is one broadcast, which Socket.IO encodes once for all of them. */
  readonly room: string;
  readonly riders: Set<ClientSocket>;
  /** Riders whose transport still holds the last part sent (the next part waits for them). */
  readonly behind: Set<ClientSocket>;
  /** Made when the train leaves (its part 0), so the snapshot starts from the table as it is then. */
  cursor: SnapshotCursor | null;
  seq: number;
  /** Boarding, or waiting for stragglers. */
  timer: NodeJS.Timeout | null;
  /** When its first rider boarded. */
  readonly since: number;
  /** The next part is scheduled. */
  moving: boolean;
}

/**
 * Sends snapshots in parts (`LockSnapshot` in shared/locks.ts) to sockets, sharing the work between sockets
 * that ask at about the same time: they ride one train (up to MAX_RIDERS, boarding for up to BOARDING_MAX_MS),
 * whose parts are read from the tracker and encoded once and broadcast to all its riders. Each part leaves once every rider's transport has taken the previous one (so
 * the server holds about two parts per rider, never the whole table); a rider that still has not taken it
 * STRAGGLER_MS after another did is left behind, and starts a new snapshot once it has.
 *
 * Every rider joins `liveRoom` (its target's change stream) with part 0, and each part is read as it is sent, so every
 * lock's messages reach each rider oldest first, exactly as with a snapshot of its own.
 */
export class SnapshotTrains {
  private boarding: Train | null = null;
  private readonly trainOf = new WeakMap<ClientSocket, Train>();
  private readonly trains = new Set<Train>();
  private readonly watched = new WeakSet<ClientSocket>();
  /** Riders left behind, owed a new snapshot once they catch up (unless they go to another target first). */
  private readonly owed = new WeakSet<ClientSocket>();
  private count = 0;
  private disposed = false;

  constructor(
    private readonly io: IO,
    private readonly tracker: LockSource,
    /** The target's id, which every part carries. */
    private readonly target: string,
    private readonly liveRoom: string,
    private readonly clock: () => number,
  ) {}

  /** Sends `socket` the whole table, in parts, and adds it to the change stream (from the first part on). */
  send(socket: ClientSocket): void {
    if (this.disposed || !socket.connected) return;
    this.owed.delete(socket);
    this.cancel(socket);
    const train = this.boarding ?? this.newTrain();
    train.riders.add(socket);
    this.trainOf.set(socket, train);
    void socket.join(train.room);
    // It leaves BOARDING_MS after its last rider, BOARDING_MAX_MS after its first, or at once when full.
    const full = train.riders.size >= MAX_RIDERS;
    if (full) this.boarding = null;
    if (train.timer) clearTimeout(train.timer);
    const wait = full ? 0 : Math.min(BOARDING_MS, train.since + BOARDING_MAX_MS - Date.now());
    train.timer = setTimeout(() => this.depart(train), wait);
    if (!this.watched.has(socket)) {
      this.watched.add(socket);
      socket.once('disconnect', () => this.cancel(socket));
    }
  }

  /** Stops sending `socket` the snapshot it is being sent, if any (it was parked, or it left). */
  cancel(socket: ClientSocket): void {
    const train = this.trainOf.get(socket);
    if (!train) return;
    this.trainOf.delete(socket);
    train.riders.delete(socket);
    train.behind.delete(socket);
    void socket.leave(train.room);
    if (!train.riders.size) this.end(train);
    else this.proceed(train);
  }

  /** `socket` views another target: no snapshot of this one now, nor once it catches up. */
  detach(socket: ClientSocket): void {
    this.owed.delete(socket);
    this.cancel(socket);
  }

  dispose(): void {
    this.disposed = true;
    for (const train of this.trains) this.end(train);
  }

  private newTrain(): Train {
    const train: Train = {
      room: `${this.liveRoom}:snapshot:${++this.count}`,
      riders: new Set(),
      behind: new Set(),
      cursor: null,
      seq: 0,
      timer: null,
      since: Date.now(),
      moving: false,
    };
    this.boarding = train;
    this.trains.add(train);
    return train;
  }

  private depart(train: Train): void {
    if (this.boarding === train) this.boarding = null;
    train.timer = null;
    train.cursor = this.tracker.cursor();
    for (const socket of train.riders) void socket.join(this.liveRoom);
    this.sendPart(train);
  }

  private sendPart(train: Train): void {
    train.moving = false;
    if (this.disposed || !train.riders.size || !train.cursor) return;
    const locks = train.cursor.next(SNAPSHOT_PART_LOCKS, SNAPSHOT_PART_CHARS);
    const done = train.cursor.done;
    // Local: each replica sends its own tracker's table to its own browsers (and a cluster adapter would deliver it only
    // after its round trip to Redis, when the riders may have left the room).
    this.io.local.to(train.room).emit('lock:snapshot', { target: this.target, seq: train.seq++, locks, done, serverTime: this.clock() });
    if (done) {
      for (const socket of train.riders) {
        this.trainOf.delete(socket);
        void socket.leave(train.room);
      }
      this.end(train);
      return;
    }
    // Handed straight to a transport (now busy writing it), the next part would wait in the buffer for it:
    // prepare it on the next turn. Otherwise wait until the buffer (this part) is handed over.
    for (const socket of train.riders) {
      if (backlogOf(socket).packets === 0) continue;
      train.behind.add(socket);
      socket.conn.once('drain', () => {
        if (train.behind.delete(socket)) this.proceed(train);
      });
    }
    this.proceed(train);
  }

  /** Schedules the next part once nobody is behind; leaves stragglers behind once somebody is not. */
  private proceed(train: Train): void {
    if (!train.cursor || train.moving) return;
    if (!train.behind.size) {
      if (train.timer) clearTimeout(train.timer);
      train.timer = null;
      train.moving = true;
      setImmediate(() => this.sendPart(train));
    } else if (!train.timer && train.behind.size < train.riders.size) {
      train.timer = setTimeout(() => this.leaveBehind(train), STRAGGLER_MS);
    }
  }

  private leaveBehind(train: Train): void {
    train.timer = null;
    for (const socket of [...train.behind]) {
      this.cancel(socket);
      this.owed.add(socket);
      // Still in the change stream: a new snapshot (seq 0, which supersedes this one) once it has caught up.
      socket.conn.once('drain', () => {
        if (this.owed.delete(socket) && !this.trainOf.has(socket)) this.send(socket);
      });
    }
  }

  private end(train: Train): void {
    if (train.timer) clearTimeout(train.timer);
    train.timer = null;
    if (this.boarding === train) this.boarding = null;
    this.trains.delete(train);
  }
}
