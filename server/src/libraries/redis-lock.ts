/**
 * redis-lock 1.0 (npm; `index.js`): `lock.<name>`, value = the lock's deadline in ms since the epoch
 * (`Date.now() + timeout + 1`), `SET PX timeout NX`; no renewal. Its release is a plain `DEL` that Redis does not
 * check against the owner (only the client's own `deadline > Date.now()`): a holder that outlives a force-release
 * deletes whoever took the lock next. lockscope's own release compares the value first.
 */
import type { LockLibrary } from './adapter';
import { isoTime, lockOf, utf8Of } from './common';

const DEADLINE = /^\d{13}$/;
/** The value is the deadline on the client's clock: allow this much clock skew against Redis's TTL. */
const SKEW_MS = 60_000;

export const redisLock: LockLibrary = {
  id: 'redis-lock',
  claims: 'key',
  // `lock.<name>` contains "lock": the generic glob finds it.
  patterns: ['lock.*'],
  recognise({ text: keyText }, probe, { now, value: text = '' }) {
    if (!keyText.startsWith('lock.') || probe.type !== 'string' || !probe.value) return null;
    if (!DEADLINE.test(text)) return null;
    const deadline = Number(text);
    // The value is where the TTL ends (a lock without TTL, or one given another, keeps its value's word for it).
    if (probe.pttlMs >= 0 && Math.abs(deadline - (now + probe.pttlMs)) > SKEW_MS) return null;
    const r = lockOf('redis-lock', probe.value);
    r.fields = { name: utf8Of(keyText.slice('lock.'.length)), deadline: isoTime(deadline), release: 'plain DEL by the holder (not owner-checked)' };
    return r;
  },
};
