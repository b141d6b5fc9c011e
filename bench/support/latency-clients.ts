/**
 * Browser stand-ins for `bench/inspector-latency.ts`, run as a child process of it (`process.send` is the link):
 * `CLIENTS` real Socket.IO clients (engine.io over WebSocket, heartbeats, the whole client stack), connected to
 * `URL` all at once when the parent says `connect`, each noting when every `lock:changes` message reaches it.
 * Messages to the parent: `started`, `ready` (every client has its first complete snapshot, or failed: `at`,
 * `failed`), `error`, and after `report` the measurements (`ClientsReport`).
 *
 * Only the first client parses each message: it records which changes (the writer's time stamps) each change
 * set carried. The others note the set's identity — its `serverTime` and length, read from the end of the frame —
 * and the arrival time, so that 500 clients on a 2-core machine measure the server rather than 500 JSON.parse
 * calls of the same 25 KB competing with it (a browser parses one on its own CPU, in about 0.1 ms). The parent
 * joins both: each client's latency for a change = its arrival time of the set − the change's stamp.
 */
import { io, type Socket } from 'socket.io-client';
import { Decoder, Encoder, PacketType, protocol } from 'socket.io-parser';

const url = process.env.URL!;
const clients = Number(process.env.CLIENTS);
const CHANGES = '2["lock:changes",';
const SNAPSHOT = '2["lock:snapshot",';
const SERVER_TIME = '"serverTime":';

const now = () => performance.timeOrigin + performance.now();

/** One change set as the reader saw it: its identity and the stamps of the bench's changes in it. */
export interface SeenSet {
  id: string;
  stamps: number[];
}

export interface ClientsReport {
  type: 'report';
  /** Set ids and arrival times, per client: `[id, t, id, t, …]`. */
  arrivals: (string | number)[][];
  sets: SeenSet[];
  /** Snapshots re-sent to a client the stream had parked as too slow. */
  resnapshots: number;
  /** CPU time of this process while measuring (ms). */
  cpuMs: number;
}

function setId(frame: string): string | null {
  const at = frame.lastIndexOf(SERVER_TIME);
  if (at < 0) return null;
  return `${Number.parseInt(frame.slice(at + SERVER_TIME.length), 10)}:${frame.length}`;
}

let measuring = false;

/**
 * A decoder that hands `lock:changes` on to `onSet` rather than to the socket, and snapshot parts on with their
 * `done` flag only (what the clients count): no client parses a snapshot.
 */
function decoderFor(onSet: (id: string, frame: string, t: number) => void) {
  return class ArrivalDecoder extends Decoder {
    override add(obj: unknown): void {
      if (typeof obj === 'string' && obj.startsWith(CHANGES)) {
        const t = now();
        const id = setId(obj);
        if (measuring && id) onSet(id, obj, t);
        this.emitReserved('decoded', { type: PacketType.EVENT, nsp: '/', data: ['lock:changes', null] });
        return;
      }
      if (typeof obj === 'string' && obj.startsWith(SNAPSHOT)) {
        const done = obj.lastIndexOf('"done":true,"serverTime":') > 0;
        this.emitReserved('decoded', { type: PacketType.EVENT, nsp: '/', data: ['lock:snapshot', { done }] });
        return;
      }
      super.add(obj);
    }
  };
}

const arrivals: (string | number)[][] = [];
const sets: SeenSet[] = [];
let resnapshots = 0;
let settled = 0;
let failed = 0;
const sockets: Socket[] = [];

/** Connects every client at once; reports `ready` when each has its first complete snapshot (or has failed). */
function connectAll(): void {
  const settle = () => {
    if (++settled === clients) process.send!({ type: 'ready', at: now(), failed });
  };
  for (let i = 0; i < clients; i++) {
    const mine: (string | number)[] = [];
    arrivals.push(mine);
    const reader = i === 0;
    const Decode = decoderFor((id, frame, t) => {
      mine.push(id, t);
      if (!reader) return;
      const changes = (JSON.parse(frame.slice(CHANGES.length, -1)) as { upserts: { owner: { text: string } | null }[] }).upserts;
      const stamps: number[] = [];
      for (const u of changes) {
        const owner = u.owner?.text;
        if (owner?.startsWith('bench:')) stamps.push(Number(owner.slice(6, owner.indexOf(':', 6))));
      }
      sets.push({ id, stamps });
    });
    const socket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      parser: { Encoder, Decoder: Decode, protocol },
    });
    let first = true;
    // A snapshot comes in parts: count whole ones (the first is the table on connect; later ones, re-sent).
    socket.on('lock:snapshot', (part: { done: boolean }) => {
      if (!part.done) return;
      if (first) {
        first = false;
        settle();
      } else if (measuring) resnapshots++;
    });
    const fail = (message: string) => {
      if (!first) return;
      first = false;
      failed++;
      process.send!({ type: 'error', message });
      settle();
    };
    socket.on('connect_error', (e) => fail(e.message));
    socket.on('disconnect', (reason) => fail(`disconnected before its snapshot: ${reason}`));
    sockets.push(socket);
  }
}

let cpu0 = process.cpuUsage();
// Alive until the report is asked for, whatever becomes of the sockets (a server that stalls gets them dropped).
const alive = setInterval(() => {}, 1000);
process.on('message', (m: string) => {
  if (m === 'connect') connectAll();
  if (m === 'start') {
    cpu0 = process.cpuUsage();
    measuring = true;
  }
  if (m === 'report') {
    measuring = false;
    const cpu = process.cpuUsage(cpu0);
    const report: ClientsReport = { type: 'report', arrivals, sets, resnapshots, cpuMs: (cpu.user + cpu.system) / 1000 };
    for (const s of sockets) s.close();
    clearInterval(alive);
    process.send!(report, () => process.disconnect());
  }
});

process.send!({ type: 'started' });
