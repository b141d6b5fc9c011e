/**
 * node-redlock v5 (`src/index.ts`) and its TypeScript fork @sesamecare-oss/redlock 1.4 (`src/scripts.ts`): value
 * `randomBytes(16).toString('hex')`, 32 hex chars; `using()` re-`SET PX`es it 500 ms before its own idea of the
 * expiry. The fork's scripts first `SELECT` `settings.db` (0 by default), so its locks are in DB 0 whatever DB the
 * client uses: watch DB 0 to see them.
 */
import type { LockLibrary, RenewalRule } from './adapter';
import { HEX32, lockOf } from './common';

/**
 * `using()` extends `automaticExtensionThreshold` (500 ms) before its own idea of the expiry, which is the duration
 * less a drift of 1% + 2 ms.
 */
export const REDLOCK_RENEWAL: RenewalRule = {
  cadence: (maxTtl) => Math.max(Math.round(maxTtl - 500 - (0.01 * maxTtl + 2)), 50),
  always: () => false,
};

export const redlock: LockLibrary = {
  id: 'redlock',
  renewal: REDLOCK_RENEWAL,
  claims: 'value',
  patterns: [],
  recognise(_key, probe, { value = '' }) {
    if (probe.type !== 'string' || !probe.value || value.length !== 32 || !HEX32.test(value)) return null;
    const r = lockOf('redlock', probe.value);
    r.renewal = REDLOCK_RENEWAL;
    return r;
  },
};
