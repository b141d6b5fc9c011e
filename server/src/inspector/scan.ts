import type { Redis } from 'ioredis';

/**
 * Yields the keys matching `pattern`, one SCAN reply at a time (never KEYS). SCAN may return a key more than
 * once; callers de-duplicate.
 */
export async function* scanKeys(redis: Redis, pattern: string, count: number): AsyncGenerator<Buffer[]> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', count);
    cursor = next.toString();
    if (keys.length) yield keys;
  } while (cursor !== '0');
}
