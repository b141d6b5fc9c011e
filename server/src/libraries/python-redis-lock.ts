/**
 * python-redis-lock (`src/redis_lock/__init__.py`): `lock:<name>`, value 16 raw random bytes (≤ 2.x) or base64
 * of 18 random bytes (≥ 3.0); its waiters BLPOP the signal list `lock-signal:<name>`, which its unlock pushes.
 */
import type { LockLibrary, RenewalRule } from './adapter';
import { isPlainAscii, lockOf, utf8Of } from './common';

const B64 = /^[A-Za-z0-9+/]{24}$/;

/** python-redis-lock's default `signal_expire`: the signal list lives this long (ms), so it never piles up. */
export const PYTHON_SIGNAL_EXPIRE_MS = 1000;

/** The auto-renewal thread: every expire × 2/3 (only with auto_renewal=True). */
export const PYTHON_REDIS_LOCK_RENEWAL: RenewalRule = { cadence: (maxTtl) => Math.round((maxTtl * 2) / 3), always: () => false };

export const pythonRedisLock: LockLibrary = {
  id: 'python-redis-lock',
  renewal: PYTHON_REDIS_LOCK_RENEWAL,
  claims: 'key',
  // `lock:<name>` contains "lock": the generic glob finds it.
  patterns: ['lock:*'],
  sideKey({ text: k }) {
    return k.startsWith('lock-signal:')
      ? { library: 'python-redis-lock', parent: Buffer.from(`lock:${k.slice(12)}`, 'latin1'), kind: 'signal' }
      : null;
  },
  recognise({ text: keyText }, probe, { value: text = '' }) {
    if (!keyText.startsWith('lock:') || probe.type !== 'string' || !probe.value) return null;
    const value = probe.value;
    // Sixteen printable characters are somebody's text token, not urandom(16).
    const raw16 = value.length === 16 && !isPlainAscii(value);
    if (!raw16 && !B64.test(text)) return null;
    const r = lockOf('python-redis-lock', value);
    r.fields = { name: utf8Of(keyText.slice('lock:'.length)), id: raw16 ? 'raw 16 bytes (≤ 2.x)' : 'base64 (≥ 3.0)' };
    r.renewal = PYTHON_REDIS_LOCK_RENEWAL;
    return r;
  },
  releasePlan({ key, owner }) {
    // Its UNLOCK_SCRIPT: `DEL signal; LPUSH signal 1; PEXPIRE signal signal_expire; DEL key`.
    const signal = Buffer.concat([Buffer.from('lock-signal:'), key.subarray(5)]);
    return {
      check: { kind: 'string', value: owner },
      bookkeeping: [],
      steps: [{ op: 'signal-list', key: signal, expireMs: PYTHON_SIGNAL_EXPIRE_MS, wake: 'python-redis-lock-signal' }, { op: 'del' }],
      scope: 'lock',
    };
  },
};
