import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { LockView } from '../../../shared/locks';
import type { LockTracker } from '../model/lock-tracker';
import { isBacklogged } from './backlog';
import { SnapshotTrains } from './snapshot-trains';

/**
 * What the broadcaster streams: a lock table that says what changed. A target's tracker; a lockscope replica that
 * applies another's change sets would offer the same.
 */
export type LockSource = Pick<LockTracker, 'on' | 'cursor'>;

type IO = Server<ClientToServerEvents, ServerToClientEvents>;
type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** At most this many change batches a second (issue: ≤ 20 flushes/s). */
const MIN_FLUSH_GAP_MS = 50;

/** The change stream's room of a target: one broadcaster, and one room, per target. */
export const liveRoom = (target: string): string => `locks:live:${target}`;

/**
 * Streams one target's tracker to the browsers viewing it (one Socket.IO room per target): a snapshot on connect
 * (or on switching to it; in parts, shared by the browsers asking at about the same time, see `SnapshotTrains`),
 * then coalesced change sets (one entry per lock, however often it changed), immediately when the stream is quiet
 * and at most every 50 ms under load. Every message carries the target's id.
 *
 * A change set is one Socket.IO broadcast to the room of every socket following the stream: Socket.IO encodes it
 * once (JSON, engine.io packet and WebSocket frame) and writes the same bytes to each socket, so a viewer costs
 * the server one socket write per change set. A socket that stops reading leaves the stream (parked) and gets a
 * new snapshot once it has caught up, so the server never buffers without bound for it.
 */
export class LockBroadcaster {
  private readonly pending = new Map<string, LockView | null>();
  private readonly snapshots: SnapshotTrains;
  /** Sockets parked as too slow, waiting to catch up for a fresh snapshot. */
  private readonly parked = new WeakSet<ClientSocket>();
  private timer: NodeJS.Timeout | null = null;
  private lastFlush = 0;

  constructor(
    private readonly io: IO,
    /** The lock table to stream (a target's tracker), and the target's id, which every message carries. */
    source: LockSource,
    private readonly target: string,
    private readonly clock: () => number = Date.now,
    /** This target's live room (default `liveRoom(target)`). */
    private readonly room: string = liveRoom(target),
    /**
     * Whether the changes arrive paced already: a follower's tracker applies the leader's change sets, which the
     * leader coalesced as this does; a second window here would add up to 50 ms to every change (measured: follower
     * p99 +34 ms over the leader's with it). Those are sent on the next turn of the event loop instead.
     */
    private readonly paced: () => boolean = () => false,
  ) {
    this.snapshots = new SnapshotTrains(io, source, target, room, clock);
    source.on('change', (view) => this.queue(view.id, view));
    source.on('remove', (id) => this.queue(id, null));
  }

  /** Sends the full table to one socket, in parts, and adds it to the live stream (from the first part on). */
  sendSnapshot(socket: ClientSocket): void {
    this.snapshots.send(socket);
  }

  /** The socket views another target: it leaves this stream, and a snapshot it was being sent (or owed) is abandoned. */
  detach(socket: ClientSocket): void {
    this.snapshots.detach(socket);
    this.parked.delete(socket);
    void socket.leave(this.room);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.snapshots.dispose();
  }

  private queue(id: string, view: LockView | null): void {
    this.pending.set(id, view);
    if (this.timer) return;
    const wait = this.paced() ? 0 : Math.max(0, this.lastFlush + MIN_FLUSH_GAP_MS - this.clock());
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
    // Local: every replica streams its own tracker to its own browsers (followers' trackers follow the leader's).
    this.io.local.to(this.room).emit('lock:changes', { target: this.target, upserts, removed, serverTime: this.lastFlush });
  }

  private parkSlowClients(): void {
    for (const socket of this.io.of('/').sockets.values()) {
      if (!socket.rooms.has(this.room) || !isBacklogged(socket)) continue;
      void socket.leave(this.room);
      // A snapshot it was being sent is abandoned: a new one follows once it has caught up.
      this.snapshots.cancel(socket);
      this.parked.add(socket);
      socket.conn.once('drain', () => {
        // Unless it switched to another target meanwhile (detach).
        if (socket.connected && this.parked.delete(socket)) this.sendSnapshot(socket);
      });
    }
  }
}
