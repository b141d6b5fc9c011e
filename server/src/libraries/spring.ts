/**
 * Spring Integration `RedisLockRegistry`: `<registryKey>:<lockKey>`, value = one `UUID.randomUUID()` per registry
 * (the registry tells which JVM holds it). In pub/sub mode its unlock publishes the key on
 * `<registryKey>-channel:<key>`; waiters pattern-subscribe to `<registryKey>-channel:*`.
 *
 * A lower-case UUID v4 is also what redlock-rb, StackExchange.Redis's documented `LockTake` usage and RedLock.net
 * write: under a key with a `:` and no other library's shape, lockscope credits Spring (the `uuid-token` adapter
 * takes the same value under a key without one). See the README's precedence rules.
 */
import type { LockLibrary, RenewalRule } from './adapter';
import { lockOf, utf8Of, UUID_V4 } from './common';

/** Spring RedisLockRegistry with a renewal scheduler: every expireAfter/3. */
export const SPRING_RENEWAL: RenewalRule = { cadence: (maxTtl) => Math.round(maxTtl / 3), always: () => false };

/** Most Spring channel candidates published on (registry keys with more colons than this are not woken). */
export const SPRING_MAX_CHANNELS = 8;

export const spring: LockLibrary = {
  id: 'spring',
  renewal: SPRING_RENEWAL,
  claims: 'value',
  patterns: [],
  recognise({ text: keyText }, probe, { value: text = '' }) {
    if (probe.type !== 'string' || !probe.value || text.length !== 36) return null;
    if (!UUID_V4.test(text) || !keyText.includes(':')) return null;
    const r = lockOf('spring', probe.value);
    const cut = keyText.indexOf(':');
    r.fields = { registry: utf8Of(keyText.slice(0, cut)), lockKey: utf8Of(keyText.slice(cut + 1)), clientId: text };
    r.renewal = SPRING_RENEWAL;
    return r;
  },
  releasePlan({ key, owner }) {
    return {
      check: { kind: 'string', value: owner },
      bookkeeping: [],
      steps: [{ op: 'del' }, ...springChannels(key).map((channel) => ({ op: 'publish' as const, command: 'PUBLISH' as const, channel, message: key, wake: 'spring-channel' as const }))],
      scope: 'lock',
    };
  },
};

/**
 * `<prefix>-channel:<key>` for each prefix of `key` that ends before a `:` (the possible registry keys). Spring's
 * `UNLINK_UNLOCK_SCRIPT` does `PUBLISH ARGV[2] KEYS[1]` with ARGV[2] = `<registryKey>-channel:<registryKey>:<path>`;
 * the key says only that the registry key ends at some `:`, so there is one channel per candidate (at most
 * `SPRING_MAX_CHANNELS`): a registry listening on another candidate gets a message naming a key it does not wait
 * for, or one that is this very lock under its own name; either way no wrong lock is woken.
 */
export function springChannels(key: Buffer): Buffer[] {
  const channels: Buffer[] = [];
  for (let at = key.indexOf(0x3a); at > 0 && channels.length < SPRING_MAX_CHANNELS; at = key.indexOf(0x3a, at + 1)) {
    channels.push(Buffer.concat([key.subarray(0, at), Buffer.from('-channel:'), key]));
  }
  return channels;
}
