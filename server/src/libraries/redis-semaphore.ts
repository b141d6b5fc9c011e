/**
 * redis-semaphore 5.8 (npm; `src/RedisMutex.ts`, `src/RedisSemaphore.ts`, `src/RedisMultiSemaphore.ts`, their
 * Redlock variants, `src/{mutex,semaphore,multiSemaphore}/…`):
 * - Mutex: `mutex:<key>`, a STRING holding the identifier (`crypto.randomUUID()`, optionally `-<suffix>`),
 *   `SET PX lockTimeout NX`; release `GET==id → DEL`.
 * - Semaphore: `semaphore:<key>`, a ZSET member = holder identifier, score = the holder's `Date.now()` at acquire
 *   or last refresh; acquire first drops members older than lockTimeout, then `ZADD` + `PEXPIRE lockTimeout`.
 *   Release: `ZREM key id` (that holder alone). The limit is an argument of each client's acquire: not in Redis.
 * - MultiSemaphore: one holder takes `permits` members `<id>_0 … <id>_{n-1}`.
 * Every instance refreshes itself every lockTimeout × 0.8 (8 s of the default 10 s); waiters poll every 10 ms,
 * so there is nobody to wake. The Redlock variants write the same keys on each of their servers.
 */
import type { GroupRecognition, HolderRecognition, LockLibrary, RenewalRule } from './adapter';
import { PlanRefusal } from './adapter';
import { isEpochMs, lockOf, own, scoreOf, standIn, utf8Of, UUID } from './common';
import { CUT_NAME } from '../model/probe-result';
import type { PlanStep } from './release-plan';

/** `crypto.randomUUID()`, or that with `-<identifierSuffix>`. */
const IDENTIFIER = new RegExp(`^(${UUID})(?:-(.+))?$`);
const MULTI_MEMBER = /^(.+)_(\d+)$/;

/** `setInterval(refresh, lockTimeout × 0.8)`; the key's TTL is set to lockTimeout on every acquire and refresh. */
export const REDIS_SEMAPHORE_RENEWAL: RenewalRule = { cadence: (maxTtl) => Math.round(maxTtl * 0.8), always: () => true };

export const redisSemaphore: LockLibrary = {
  id: 'redis-semaphore',
  renewal: REDIS_SEMAPHORE_RENEWAL,
  claims: 'key',
  patterns: ['mutex:*', 'semaphore:*'],
  recognise({ text: keyText }, probe, ctx) {
    if (keyText.startsWith('mutex:') && probe.type === 'string' && probe.value) {
      const m = IDENTIFIER.exec(ctx.value ?? '');
      // A mutex under this prefix with a caller's own identifier is indistinguishable from any other token lock.
      if (!m || m[1] !== m[1]!.toLowerCase()) return null;
      const r = lockOf('redis-semaphore', probe.value);
      r.fields = { kind: 'Mutex', key: utf8Of(keyText.slice('mutex:'.length)) };
      if (m[2]) r.fields.suffix = utf8Of(m[2]);
      r.renewal = REDIS_SEMAPHORE_RENEWAL;
      return r;
    }
    if (!keyText.startsWith('semaphore:') || probe.type !== 'zset' || !probe.fields?.length) return null;
    const members: { member: Buffer; text: string; at: number }[] = [];
    for (const [member, score, cut = 0] of probe.fields) {
      const at = scoreOf(score);
      // Scores are each holder's Date.now(): anything else is some other sorted set.
      if (cut & CUT_NAME || !isEpochMs(at)) return null;
      members.push({ member, text: member.toString('latin1'), at });
    }
    // MultiSemaphore: `<id>_0 … <id>_{n-1}`, all with the same score. A Semaphore identifier never ends `_<n>`
    // unless a caller chose one so: then each member stays a holder of its own.
    const byId = new Map<string, { token: Buffer; members: Buffer[]; at: number }>();
    const multi = members.every((m) => MULTI_MEMBER.test(m.text));
    for (const m of members) {
      const id = multi ? MULTI_MEMBER.exec(m.text)![1]! : m.text;
      const h = byId.get(id);
      if (h) {
        h.members.push(m.member);
        h.at = Math.max(h.at, m.at);
      } else byId.set(id, { token: multi ? Buffer.from(id, 'latin1') : m.member, members: [m.member], at: m.at });
    }
    const holders: HolderRecognition[] = [...byId.values()].map((h) => {
      const fields: Record<string, string> = {};
      const id = IDENTIFIER.exec(h.token.toString('latin1'));
      if (id?.[2]) fields.suffix = own(utf8Of(id[2]));
      return { token: h.token, members: h.members, fields, permits: h.members.length, reentryCount: null, expiresAt: null, refreshedAt: h.at };
    });
    const group: GroupRecognition = {
      holders,
      // Members beyond what the probe read count as holders of one permit each (a MultiSemaphore's, as permits).
      count: multi ? (probe.size > members.length ? null : holders.length) : probe.size,
      permits: { held: probe.size, free: null, limit: null },
      heldAsOne: false,
      releaseAll: true,
      renewal: REDIS_SEMAPHORE_RENEWAL,
      redisClock: false,
      counterOnly: false,
    };
    const r = lockOf('redis-semaphore', standIn(holders, ctx.current)!.token);
    r.fields = { kind: multi ? 'MultiSemaphore' : 'Semaphore', key: utf8Of(keyText.slice('semaphore:'.length)) };
    r.renewal = REDIS_SEMAPHORE_RENEWAL;
    r.group = group;
    return r;
  },
  releasePlan({ owner, scope, recognition, probe }) {
    if (probe.type === 'string') {
      if (scope !== 'lock') throw new PlanRefusal('a redis-semaphore Mutex has one owner: release the lock itself');
      return null; // its own release: GET == id → DEL
    }
    const holder = recognition.group?.holders.find((h) => h.token.equals(owner));
    // Its own release is a plain ZREM of the holder's members; all of them = the key.
    const members = holder?.members ?? [owner];
    const step: PlanStep = scope === 'holder' ? { op: 'zrem', members } : { op: 'del' };
    return { check: { kind: 'zset', members }, bookkeeping: [], steps: [step], scope };
  },
};
