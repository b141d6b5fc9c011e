import type { Socket } from 'socket.io';

/**
 * A client whose transport still holds this many unsent packets, or this many bytes of them, is too slow to
 * follow the stream: it stops receiving batches and gets one fresh snapshot when it catches up, so the server
 * never buffers without bound (per client: about SLOW_CLIENT_BYTES, plus what the socket already took).
 */
const SLOW_CLIENT_PACKETS = 40;
const SLOW_CLIENT_BYTES = 1024 * 1024;

/** engine.io keeps unsent packets in `writeBuffer` (not in its public typings); their data is the encoded text. */
export function backlogOf(socket: Socket): { packets: number; bytes: number } {
  const buffer = (socket.conn as unknown as { writeBuffer: { data?: unknown }[] }).writeBuffer;
  let bytes = 0;
  for (const packet of buffer) {
    const d = packet.data;
    bytes += typeof d === 'string' ? d.length : Buffer.isBuffer(d) ? d.length : 0;
  }
  return { packets: buffer.length, bytes };
}

/** Over the slow-client limit: the stream parks such a client, and its history requests are refused as busy. */
export function isBacklogged(socket: Socket): boolean {
  const { packets, bytes } = backlogOf(socket);
  return packets >= SLOW_CLIENT_PACKETS || bytes >= SLOW_CLIENT_BYTES;
}
