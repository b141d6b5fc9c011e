/** Laravel cache lock (`Cache/RedisLock.php`): cache prefix + name, value `Str::random(16)`; no TTL when seconds = 0. */
import type { LockLibrary } from './adapter';
import { lockOf } from './common';

const TOKEN = /^[A-Za-z0-9]{16}$/;
const CACHE_KEY = /cache[_:-]/i;

export const laravel: LockLibrary = {
  id: 'laravel',
  claims: 'value',
  patterns: [],
  recognise({ text: keyText }, probe, { value: text = '' }) {
    if (probe.type !== 'string' || !probe.value) return null;
    // Str::random(16) mixes cases (all one case: p ≈ 2·10⁻⁴); a cache-prefixed key says Laravel by itself.
    const ok = TOKEN.test(text) && ((/[a-z]/.test(text) && /[A-Z]/.test(text)) || CACHE_KEY.test(keyText));
    return ok ? lockOf('laravel', probe.value) : null;
  },
};
