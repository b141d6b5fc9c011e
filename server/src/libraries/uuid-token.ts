/**
 * A bare UUID v4 under a key the caller named, with no other library's shape: what redlock-rb
 * (`SecureRandom.uuid`, `lib/redlock/client.rb`), StackExchange.Redis's documented `LockTake` usage
 * (`Guid.NewGuid().ToString()`, `RedisDatabase.cs`) and RedLock.net with a custom key format write. Nothing in
 * Redis tells these apart, so lockscope names the shape rather than guess a library (declare a format in
 * LOCK_FORMATS to label yours). Under a key with a `:` the same value is credited to Spring (see spring.ts).
 * All three release with `GET==v → DEL` (StackExchange.Redis `DELEX IFEQ` on Redis ≥ 8.4, or a plain DEL
 * behind proxies without transactions); redlock-rb and RedLock.net can re-create an expired lock on extend.
 */
import type { LockLibrary } from './adapter';
import { lockOf, UUID_V4 } from './common';

export const uuidToken: LockLibrary = {
  id: 'uuid-token',
  claims: 'value',
  patterns: [],
  recognise({ text: keyText }, probe, { value = '' }) {
    if (probe.type !== 'string' || !probe.value || value.length !== 36 || keyText.includes(':') || !UUID_V4.test(value)) return null;
    const r = lockOf('uuid-token', probe.value);
    r.fields = { writtenBy: 'redlock-rb, StackExchange.Redis LockTake, RedLock.net (custom key format), …' };
    return r;
  },
};
