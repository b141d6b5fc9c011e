/**
 * redis-py `Lock` (`redis/lock.py`): value `uuid1().hex` (or the caller's token); `SET NX PX`, no TTL when
 * timeout=None; `extend()` only when asked. The uuid1 timestamp is when `acquire()` made the token.
 */
import type { LockLibrary } from './adapter';
import { HEX32, lockOf, YEAR_2000_MS, YEAR_2100_MS } from './common';

/** uuid1 timestamps count 100 ns intervals since 1582-10-15; this is that epoch in Unix ms. */
const UUID1_EPOCH_MS = -12_219_292_800_000;

/**
 * When a `uuid1().hex` token was made (epoch ms, on the client's clock), or null when the text is not one: version
 * nibble 1, RFC 4122 variant, and a timestamp from this century. redis-py makes its token in `acquire()`.
 */
export function uuid1Time(text: string): number | null {
  if (text.length !== 32 || !HEX32.test(text) || text[12] !== '1' || !'89ab'.includes(text[16]!)) return null;
  const ticks =
    BigInt(`0x${text.slice(13, 16)}`) * 2n ** 48n + BigInt(`0x${text.slice(8, 12)}`) * 2n ** 32n + BigInt(`0x${text.slice(0, 8)}`);
  const ms = UUID1_EPOCH_MS + Number(ticks / 10_000n);
  return ms > YEAR_2000_MS && ms < YEAR_2100_MS ? ms : null;
}

/** redis-py's default token is `uuid1().hex`. */
export function isUuid1Hex(text: string): boolean {
  return uuid1Time(text) !== null;
}

export const redisPy: LockLibrary = {
  id: 'redis-py',
  claims: 'value',
  patterns: [],
  recognise(_key, probe, { value = '' }) {
    if (probe.type !== 'string' || !probe.value) return null;
    const made = uuid1Time(value);
    if (made === null) return null;
    return { ...lockOf('redis-py', probe.value), fields: { token: 'uuid1' }, acquiredAt: made };
  },
};
