/**
 * Redisson semaphores (`RedissonSemaphore.java`, `RedissonPermitExpirableSemaphore.java`, `RedissonObject.java`):
 * - `RSemaphore`: the name holds a STRING counter of free permits; nobody's holding is recorded, so there is no
 *   holder to show or free (a crashed holder's permits never come back), and no TTL by design.
 * - `RPermitExpirableSemaphore`: the same counter plus `{name}:timeout` (`suffixName`; `name:timeout` when the
 *   name has a `{`), a ZSET member = permit id as 16 raw bytes (the API shows 32 hex), score = the permit's expiry
 *   in ms by the client's clock, or 922337203685477 with no lease. Release (`tryReleaseAsync`): `ZREM id`,
 *   `INCRBY name 1`, publish the new count on `redisson_sc:{name}` — owner-checked by id. Expired permits are
 *   reclaimed only at the next acquire.
 * Waiters subscribe to `redisson_sc:{name}`; on a cluster with sharded pub/sub Redisson uses SPUBLISH.
 * Names are the caller's: lockscope finds those that contain "semaphore" (add others to LOCK_PATTERNS).
 */
import type { HolderRecognition, LockLibrary } from './adapter';
import { PlanRefusal } from './adapter';
import { isEpochMs, lockOf, scoreOf, standIn, utf8Of } from './common';
import { redissonPrefixed } from './redisson';
import { CUT_NAME } from '../model/probe-result';
import type { PlanStep, PublishCommand } from './release-plan';

/** `nonExpirableTimeout`: the score of a permit taken without a lease. */
const NO_LEASE = 922337203685477;
const COUNTER = /^-?\d{1,18}$/;
const SEMAPHORE_WORD = /semaphore/i;

/** The semaphore's name (its counter key) from its timeout set's key, or null when the key is not one. */
export function semaphoreNameOf(keyText: string): string | null {
  if (!keyText.endsWith(':timeout')) return null;
  const base = keyText.slice(0, -':timeout'.length);
  if (base.startsWith('{') && base.endsWith('}') && base.indexOf('}') === base.length - 1) return base.slice(1, -1);
  return base.includes('{') ? base : null;
}

export const redissonSemaphore: LockLibrary = {
  id: 'redisson-semaphore',
  claims: 'key',
  patterns: ['*[sS][eE][mM][aA][pP][hH][oO][rR][eE]*'],
  recognise({ text: keyText }, probe, ctx) {
    if (probe.type === 'string' && probe.value && probe.value.length < 20 && COUNTER.test(ctx.value ?? '') && SEMAPHORE_WORD.test(keyText)) {
      const free = Number(ctx.value);
      const r = lockOf('redisson-semaphore', null);
      r.fields = { kind: 'permit counter (RSemaphore)', freePermits: String(free) };
      r.group = { holders: [], count: null, permits: { held: null, free, limit: null }, heldAsOne: false, releaseAll: false, renewal: null, redisClock: false, counterOnly: true };
      return r;
    }
    const name = semaphoreNameOf(keyText);
    if (name === null || probe.type !== 'zset' || !probe.fields?.length) return null;
    const holders: HolderRecognition[] = [];
    for (const [member, score, cut = 0] of probe.fields) {
      const at = scoreOf(score);
      if (cut & CUT_NAME || member.length !== 16 || !(at === NO_LEASE || isEpochMs(at))) return null;
      holders.push({
        token: member,
        members: [member],
        fields: { permitId: member.toString('hex') },
        permits: 1,
        reentryCount: null,
        expiresAt: at === NO_LEASE ? null : at,
        refreshedAt: null,
      });
    }
    const r = lockOf('redisson-semaphore', standIn(holders, ctx.current)!.token);
    r.fields = { kind: 'RPermitExpirableSemaphore', semaphore: utf8Of(name) };
    r.group = {
      holders,
      count: probe.size,
      permits: { held: probe.size, free: null, limit: null },
      heldAsOne: false,
      releaseAll: true,
      renewal: null,
      redisClock: false,
      counterOnly: false,
    };
    return r;
  },
  releasePlan({ key, owner, scope, probe, sharded }) {
    if (probe.type !== 'zset') throw new PlanRefusal('an RSemaphore records no holders: there is nothing to release');
    const name = Buffer.from(semaphoreNameOf(key.toString('latin1'))!, 'latin1');
    const command: PublishCommand = sharded ? 'SPUBLISH' : 'PUBLISH';
    // The permits go back to the counter, as `release(permitId)` gives them back, and waiters hear the new count.
    const giveBack: PlanStep = {
      op: 'incr-publish',
      counter: name,
      by: 'removed',
      command,
      channel: redissonPrefixed('redisson_sc', name),
      wake: 'redisson-semaphore-channel',
    };
    const check = { kind: 'zset' as const, members: [owner] };
    return { check, bookkeeping: [], steps: [scope === 'holder' ? { op: 'zrem', members: [owner] } : { op: 'zrem-all' }, giveBack], scope };
  },
};
