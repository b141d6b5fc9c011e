import type { RedisKeyType } from '../../../shared/locks';

/**
 * What one probe learnt about one key: the lock model's input. Made by the Redis-facing probe
 * (`server/src/targets/node/probe.ts`), by tests and by benches; the model never talks to Redis itself.
 */

/** Bits of a hash field's third entry: what of it was not read in full. */
export const CUT_NAME = 1;
export const CUT_VALUE = 2;

/** A hash field as read: name and value (each ≤ MAX_VALUE_BYTES), and which of them were cut (CUT_* bits; absent = 0). */
export type HashField = [name: Buffer, value: Buffer, cut?: number];

export type ProbeResult =
  | { exists: false }
  | {
      exists: true;
      type: RedisKeyType;
      pttlMs: number;
      /** Bytes of a string value, or field count of a hash, or element count of a collection. */
      size: number;
      /** String prefix (≤ MAX_VALUE_BYTES), or null for non-strings. */
      value: Buffer | null;
      /**
       * Hash fields (≤ MAX_HASH_FIELDS, names and values ≤ MAX_VALUE_BYTES); for a sorted set its first members by
       * score, each with its score as text (what the ZSET holds: semaphore holders); null for other types.
       */
      fields: HashField[] | null;
      /** The fields are a random sample of a big hash of big values, not the same ones at every probe. */
      sampled?: boolean;
    };

export interface ProbedKey {
  key: Buffer;
  result: ProbeResult;
  /** This server's clock (epoch ms) when Redis read the key: Redis's clock mapped through the estimated offset. */
  observedAt: number;
  /**
   * Redis's clock (epoch ms) when it read the key; `redisAt + pttlMs` is the key's deadline on Redis's clock, which
   * no delay on our side can move. Absent on probes made up elsewhere (tests, benches): `observedAt` stands in.
   */
  redisAt?: number;
  /** In a Redis Cluster: the master that answered (`host:port`), and the key's hash slot. */
  node?: string;
  slot?: number;
}

