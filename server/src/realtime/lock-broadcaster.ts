import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import type { LockView } from '../../../shared/locks';
import type { LockTracker, SnapshotCursor } from '../model/lock-tracker';

/**
 * What the broadcaster streams: a lock table that says what changed. A target's tracker; a lockscope replica that
 * applies another's change sets would offer the same.
 */
export type LockSource = Pick<LockTracker, 'on' | 'cursor'>;

type IO = Server<ClientToServerEvents, ServerToClientEvents>;
type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** At most this many change batches a second (issue: ≤ 20 flushes/s). */
const MIN_FLUSH_GAP_MS = 50;
/**
 * A client whose transport still holds this many unsent packets, or this many bytes of them, is too slow to
 * follow the stream: it stops receiving batches and gets one fresh snapshot when it catches up, so the server
 * never buffers without bound (per client: about SLOW_CLIENT_BYTES, plus what the socket already took).
 */
const SLOW_CLIENT_PACKETS = 40;
const SLOW_CLIENT_BYTES = 1024 * 1024;
/**
 * A snapshot goes out in parts of at most this many locks or about this much JSON (characters): a browser parses
 * and applies one in a few ms, and one part waiting in a client's buffer stays well under SLOW_CLIENT_BYTES.
 */
const SNAPSHOT_PART_LOCKS = 1000;
const SNAPSHOT_PART_CHARS = 512 * 1024;

/** A snapshot being sent to one socket. */
interface SnapshotStream {
  cursor: SnapshotCursor;
  seq: number;
}

/**
 * Streams one target's tracker to the browsers viewing it (one Socket.IO room per target): a snapshot on connect
 * (or on switching to it), then coalesced change sets (one entry per lock, however often it changed), immediately
 * when the stream is quiet and at most every 50 ms under load.
 *
 * The snapshot goes out in parts (see `LockSnapshot`), each once the previous one has left engine.io's buffer
 * for that socket, so the server holds at most about two parts per client and never builds the whole table as
 * one message. The socket joins the change stream with the first part; each part is read from the tracker as it
 * is sent, so every lock's messages reach the client oldest first.
 */
export class LockBroadcaster {
  private readonly pending = new Map<string, LockView | null>();
  /** The snapshot each socket is being sent; a new one (or parking) replaces or ends it. */
  private readonly snapshots = new WeakMap<ClientSocket, SnapshotStream>();
  /** Sockets parked as too slow, waiting to catch up for a fresh snapshot. */
  private readonly parked = new WeakSet<ClientSocket>();
  private timer: NodeJS.Timeout | null = null;
  private lastFlush = 0;
  /** The room of this target's live stream. */
  private readonly room: string;

  constructor(
    private readonly io: IO,
    /** The lock table to stream (a target's tracker), and the target's id, which every message carries. */
    private readonly tracker: LockSource,
    private readonly target: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.room = `locks:live:${target}`;
    tracker.on('change', (view) => this.queue(view.id, view));
    tracker.on('remove', (id) => this.queue(id, null));
  }

  /** Sends the full table to one socket, in parts, and adds it to the live stream (from the first part on). */
  sendSnapshot(socket: ClientSocket): void {
    const stream: SnapshotStream = { cursor: this.tracker.cursor(), seq: 0 };
    this.snapshots.set(socket, stream);
    this.sendPart(socket, stream);
    void socket.join(this.room);
  }

  /** The socket views another target: it leaves this stream, and a snapshot it was being sent is abandoned. */
  detach(socket: ClientSocket): void {
    this.snapshots.delete(socket);
    this.parked.delete(socket);
    void socket.leave(this.room);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private sendPart(socket: ClientSocket, stream: SnapshotStream): void {
    if (this.snapshots.get(socket) !== stream) return; // superseded, or ended by parking
    if (!socket.connected) {
      this.snapshots.delete(socket);
      return;
    }
    const locks = stream.cursor.next(SNAPSHOT_PART_LOCKS, SNAPSHOT_PART_CHARS);
    const done = stream.cursor.done;
    socket.emit('lock:snapshot', { target: this.target, seq: stream.seq++, locks, done, serverTime: this.clock() });
    if (done) {
      this.snapshots.delete(socket);
      return;
    }
    const next = () => this.sendPart(socket, stream);
    // Handed straight to the transport (now busy writing it): the next part waits in the buffer for it, so
    // prepare it on the next turn. Otherwise wait until the buffer (this part) is handed over.
    if (backlogOf(socket).packets === 0) setImmediate(next);
    else socket.conn.once('drain', next);
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
    // Local: every replica streams its own tracker to its own browsers (followers' trackers follow the leader's).
    this.io.local.to(this.room).emit('lock:changes', { target: this.target, upserts, removed, serverTime: this.lastFlush });
  }

  private parkSlowClients(): void {
    for (const socket of this.io.of('/').sockets.values()) {
      if (!socket.rooms.has(this.room) || !isBacklogged(socket)) continue;
      void socket.leave(this.room);
      // A snapshot it was being sent is abandoned: a new one follows once it has caught up.
      this.snapshots.delete(socket);
      this.parked.add(socket);
      socket.conn.once('drain', () => {
        // Unless it switched to another target meanwhile (detach).
        if (socket.connected && this.parked.delete(socket)) this.sendSnapshot(socket);
      });
    }
  }
}

/** engine.io keeps unsent packets in `writeBuffer` (not in its public typings); their data is the encoded text. */
export function backlogOf(socket: ClientSocket): { packets: number; bytes: number } {
  const buffer = (socket.conn as unknown as { writeBuffer: { data?: unknown }[] }).writeBuffer;
  let bytes = 0;
  for (const packet of buffer) {
    const d = packet.data;
    bytes += typeof d === 'string' ? d.length : Buffer.isBuffer(d) ? d.length : 0;
  }
  return { packets: buffer.length, bytes };
}

/** Over the slow-client limit: the stream parks such a client, and its history requests are refused as busy. */
export function isBacklogged(socket: ClientSocket): boolean {
  const { packets, bytes } = backlogOf(socket);
  return packets >= SLOW_CLIENT_PACKETS || bytes >= SLOW_CLIENT_BYTES;
}
