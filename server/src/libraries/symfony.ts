/**
 * Symfony Lock `RedisStore` (symfony/lock ≥ 5.2, `Store/RedisStore.php`): the resource name as given, a ZSET whose
 * members are holders' tokens (`base64_encode(random_bytes(32))`, 44 chars ending `=`) plus the marker `__write__`
 * while an exclusive lock is held; each score is that member's expiry (ms, Redis's `TIME`), and the key expires
 * with the latest (`PEXPIREAT`). Read locks: several tokens, no marker. No renewal unless `refresh()` is called
 * (default TTL 300 s); waiters poll. Release: `ZREM token`, `ZREM __write__`, `PEXPIREAT` the highest score left.
 */
import type { HolderRecognition, LockLibrary } from './adapter';
import { isEpochMs, lockOf, scoreOf, standIn } from './common';
import { CUT_NAME } from '../model/probe-result';

const TOKEN = /^[A-Za-z0-9+/]{43}=$/;
const WRITE = '__write__';
const WRITE_MARKER = Buffer.from(WRITE);

export const symfony: LockLibrary = {
  id: 'symfony',
  claims: 'value',
  // Resource names are the caller's, unprefixed: add them to LOCK_PATTERNS unless they contain "lock".
  patterns: [],
  sideKey({ text: k }) {
    return k === 'symfony_check_support_time' ? { library: 'symfony', parent: null, kind: 'internal' } : null;
  },
  recognise(_key, probe, ctx) {
    if (probe.type !== 'zset' || !probe.fields?.length) return null;
    let write = false;
    const holders: HolderRecognition[] = [];
    for (const [member, score, cut = 0] of probe.fields) {
      const text = member.toString('latin1');
      const at = scoreOf(score);
      if (cut & CUT_NAME || !isEpochMs(at)) return null;
      if (text === WRITE) write = true;
      else if (TOKEN.test(text)) holders.push({ token: member, members: [member], fields: {}, permits: 1, reentryCount: null, expiresAt: at, refreshedAt: null });
      else return null;
    }
    if (!holders.length) return null;
    const count = probe.size - (write ? 1 : 0);
    const r = lockOf('symfony', standIn(holders, ctx.current)!.token);
    r.fields = { mode: write ? 'write (exclusive)' : 'read (shared)' };
    r.group = {
      holders,
      count,
      permits: { held: count, free: null, limit: write ? 1 : null },
      heldAsOne: true,
      releaseAll: true,
      renewal: null,
      redisClock: true,
      counterOnly: false,
    };
    return r;
  },
  releasePlan({ owner, scope }) {
    const check = { kind: 'zset' as const, members: [owner] };
    if (scope !== 'holder') return { check, bookkeeping: [WRITE_MARKER], steps: [{ op: 'del' }], scope };
    // `RedisStore::delete()`: this token and the write marker go; the key lives until its latest holder's expiry.
    return { check, bookkeeping: [WRITE_MARKER], steps: [{ op: 'zrem', members: [owner, WRITE_MARKER] }, { op: 'expire-at-max', when: 'remaining' }], scope };
  },
};
