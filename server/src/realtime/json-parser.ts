import { Decoder, Encoder, protocol, type Packet } from 'socket.io-parser';

/**
 * Socket.IO's own parser, minus its search for binary attachments before encoding each packet. That search walks
 * the whole payload — calling every lock's `toJSON` once more than `JSON.stringify` does — and finds nothing:
 * every event and acknowledgement in shared/events.ts is plain JSON (bytes travel as base64 text). It was an
 * eighth of the server's time sending snapshots to 500 browsers at once (bench/inspector-latency.ts). The wire
 * format is unchanged: browsers keep the default parser.
 */
class JsonEncoder extends Encoder {
  override encode(packet: Packet): string[] {
    // `encodeAsString` is the parser's own string encoding (private in its typings only).
    return [(this as unknown as { encodeAsString(p: Packet): string }).encodeAsString(packet)];
  }
}

export const jsonParser = { Encoder: JsonEncoder, Decoder, protocol };
