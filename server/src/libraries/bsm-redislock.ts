/**
 * bsm/redislock (Go; `redislock.go`, `obtain.lua`, `refresh.lua`, `release.lua`): the key as given (`ObtainMulti`
 * takes several together), value = a 22-char base64url token (16 random bytes, no padding) followed by
 * `Options.Metadata` as is. `Refresh` only when asked; release `MGET == value → DEL` (the whole value).
 */
import type { LockLibrary } from './adapter';
import { lockOf } from './common';

const VALUE = /^([A-Za-z0-9_-]{22})([\s\S]*)$/;

/** 16 random bytes in base64url nearly always mix upper and lower case (1 in 50,000 does not); a name rarely does. */
function randomLooking(token: string): boolean {
  return /[a-z]/.test(token) && /[A-Z]/.test(token);
}

export const bsmRedislock: LockLibrary = {
  id: 'bsm-redislock',
  claims: 'value',
  patterns: [],
  recognise(_key, probe) {
    if (probe.type !== 'string' || !probe.value) return null;
    const m = VALUE.exec(probe.value.toString('utf8'));
    // Tried after every other value shape (32 hex, base64 ending `==`, …): what is left with 22 random-looking
    // url-safe characters in front is this library's, whatever metadata follows.
    if (!m || !randomLooking(m[1]!)) return null;
    const r = lockOf('bsm-redislock', probe.value);
    r.fields = { token: m[1]! };
    if (m[2]) r.fields.metadata = m[2].length > 200 ? `${m[2].slice(0, 200)}…` : m[2];
    return r;
  },
};
