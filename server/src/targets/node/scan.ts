import type { Redis } from 'ioredis';

/**
 * Yields the keys matching `pattern`, one SCAN reply at a time (never KEYS). SCAN may return a key more than
 * once; callers de-duplicate.
 *
 * With `ways` > 1 (a power of two) the keyspace is walked by that many cursors at once, each over its own share
 * of the hash table, so Redis always has the next SCAN queued instead of idling through a round trip. It stays
 * the same SCAN with the same COUNT (each call as cheap as before); only the waiting between calls goes.
 *
 * Why the shares are disjoint and complete: SCAN walks buckets in reverse-binary order, so every cursor with low
 * bits `j` (mod `ways`) belongs to one contiguous stretch of the walk, and a key's bucket keeps the low bits of
 * its hash at every table size, through rehashing too. Starting at cursor `j` and stopping when the cursor's low
 * bits change (or it is 0) covers exactly the keys of share `j`. This holds for a standalone server's one table
 * per database; in cluster mode Redis ≥ 7.4 / Valkey ≥ 8 keep the slot in a cursor's low bits, so use `ways = 1`.
 */
export async function* scanKeys(redis: Redis, pattern: string | Buffer, count: number, ways = 1): AsyncGenerator<Buffer[]> {
  const mask = BigInt(ways - 1);
  type Step = { share: number; next: string; keys: Buffer[]; error?: Error };
  // Never a rejected promise left behind when another share fails first: errors travel as values.
  const call = (share: number, cursor: string): Promise<Step> =>
    (redis.callBuffer('SCAN', cursor, 'MATCH', pattern, 'COUNT', count) as Promise<[Buffer, Buffer[]]>).then(
      ([next, keys]) => ({ share, next: next.toString(), keys }),
      (error: Error) => ({ share, next: '0', keys: [], error }),
    );
  const inFlight = new Map<number, Promise<Step>>();
  for (let share = 0; share < ways; share++) inFlight.set(share, call(share, String(share)));
  while (inFlight.size) {
    const step = await Promise.race(inFlight.values());
    inFlight.delete(step.share);
    if (step.error) throw step.error;
    const done = step.next === '0' || (ways > 1 && (BigInt(step.next) & mask) !== BigInt(step.share));
    if (!done) inFlight.set(step.share, call(step.share, step.next));
    if (step.keys.length) yield step.keys;
  }
}

/** CRC16-CCITT (XMODEM), the hash Redis Cluster slots keys by. */
const CRC16 = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    table[i] = c;
  }
  return table;
})();

/**
 * The cluster hash slot of a key, as `CLUSTER KEYSLOT` computes it: CRC16 of the key, or of its hash tag (the bytes
 * between the first `{` and the next `}`, when there are any), modulo 16384.
 */
export function keySlot(key: Buffer): number {
  let start = 0;
  let end = key.length;
  const open = key.indexOf(0x7b);
  if (open !== -1) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC16[((crc >> 8) ^ key[i]!) & 0xff]!;
  return crc & 16383;
}

let tags: string[] | null = null;

/**
 * A hash tag (`{…}`) that puts any key containing it in `slot`: lockscope's own bookkeeping keys on a cluster node
 * must hash to a slot that node serves. Short, made once for every slot (about 180k CRC16s of a few bytes).
 */
export function slotTag(slot: number): string {
  if (!tags) {
    const table: string[] = new Array<string>(16384);
    let left = 16384;
    for (let i = 0; left > 0; i++) {
      const tag = i.toString(36);
      const s = keySlot(Buffer.from(tag));
      if (table[s] === undefined) {
        table[s] = `{${tag}}`;
        left--;
      }
    }
    tags = table;
  }
  return tags[slot]!;
}
