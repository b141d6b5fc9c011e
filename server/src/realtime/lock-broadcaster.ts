import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { LockView } from '../../../shared/locks';
import type { LockTracker } from '../model/lock-tracker';
import { isBacklogged } from './backlog';
import { SnapshotTrains } from './snapshot-trains';

type IO = Server<ClientToServerEvents, ServerToClientEvents>;
type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** At most this many change batches a second (issue: ≤ 20 flushes/s). */
const MIN_FLUSH_GAP_MS = 50;
/** The change stream's room when the app has one tracker (one broadcaster per tracker needs one room each). */
export const LIVE_ROOM = 'locks:live';

/**
 * Streams one tracker to browsers: a snapshot on connect (in parts, see `SnapshotTrains`), then coalesced change
 * sets (one entry per lock, however often it changed), immediately when the stream is quiet and at most every
 * 50 ms under load.
 *
 * A change set is one Socket.IO broadcast to the room of every socket following the stream: Socket.IO encodes it
 * once (JSON, engine.io packet and WebSocket frame) and writes the same bytes to each socket, so a viewer costs
 * the server one socket write per change set. Snapshots are shared the same way by the sockets that ask for one
 * at about the same time. A socket that stops reading leaves the stream (parked) and gets a new snapshot once it
 * has caught up, so the server never buffers without bound for it.
 */
export class LockBroadcaster {
  private readonly pending = new Map<string, LockView | null>();
  private readonly snapshots: SnapshotTrains;
  private timer: NodeJS.Timeout | null = null;
  private lastFlush = 0;

  constructor(
    private readonly io: IO,
    tracker: LockTracker,
    private readonly clock: () => number = Date.now,
    private readonly room: string = LIVE_ROOM,
  ) {
    this.snapshots = new SnapshotTrains(io, tracker, room, clock);
    tracker.on('change', (view) => this.queue(view.id, view));
    tracker.on('remove', (id) => this.queue(id, null));
  }

  /** Sends the full table to one socket, in parts, and adds it to the live stream (from the first part on). */
  sendSnapshot(socket: ClientSocket): void {
    this.snapshots.send(socket);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.snapshots.dispose();
  }

  private queue(id: string, view: LockView | null): void {
    this.pending.set(id, view);
    if (this.timer) return;
    const wait = Math.max(0, this.lastFlush + MIN_FLUSH_GAP_MS - this.clock());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = null;
    this.lastFlush = this.clock();
    const upserts: LockView[] = [];
    const removed: string[] = [];
    for (const [id, view] of this.pending) {
      if (view) upserts.push(view);
      else removed.push(id);
    }
    this.pending.clear();
    this.parkSlowClients();
    this.io.to(this.room).emit('lock:changes', { upserts, removed, serverTime: this.lastFlush });
  }

  private parkSlowClients(): void {
    for (const socket of this.io.of('/').sockets.values()) {
      if (!socket.rooms.has(this.room) || !isBacklogged(socket)) continue;
      void socket.leave(this.room);
      // A snapshot it was being sent is abandoned: a new one follows once it has caught up.
      this.snapshots.cancel(socket);
      socket.conn.once('drain', () => this.sendSnapshot(socket));
    }
  }
}
