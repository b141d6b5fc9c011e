/**
 * RedLock.net (samcook/RedLock.net over StackExchange.Redis; `RedLock.cs`, `Lua/Extend.lua`, `Lua/Unlock.lua`):
 * `redlock:<resource>` (the default `RedisKeyFormat`), value `Guid.NewGuid().ToString()`; a timer extends it every
 * expiry/2 until the lock is disposed (`Extend.lua` also re-creates a lock that expired); release `GET==v → DEL`.
 */
import type { LockLibrary, RenewalRule } from './adapter';
import { lockOf, utf8Of, UUID_V4 } from './common';

/** The extend timer: every expiry/2, for as long as the `IRedLock` is not disposed. */
export const REDLOCK_NET_RENEWAL: RenewalRule = { cadence: (maxTtl) => Math.round(maxTtl / 2), always: () => true };

export const redlockNet: LockLibrary = {
  id: 'redlock-net',
  renewal: REDLOCK_NET_RENEWAL,
  claims: 'key',
  // `redlock:<resource>` contains "lock": the generic glob finds it.
  patterns: ['redlock:*'],
  recognise({ text: keyText }, probe, { value = '' }) {
    // node-redlock users name resources `redlock:…` too: only a Guid value says RedLock.net.
    if (!keyText.startsWith('redlock:') || probe.type !== 'string' || !probe.value || !UUID_V4.test(value)) return null;
    const r = lockOf('redlock-net', probe.value);
    r.fields = { resource: utf8Of(keyText.slice('redlock:'.length)) };
    r.renewal = REDLOCK_NET_RENEWAL;
    return r;
  },
};
