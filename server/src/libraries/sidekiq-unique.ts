/**
 * sidekiq-unique-jobs (`lua/lock.lua`, `lua/lock_v9.lua`): `uniquejobs:<digest>:LOCKED`, a HASH job id → lock data.
 * v7/v8 write the time (`HSET locked job_id current_time`, float seconds); v9 writes the JSON
 * `Locksmith#lock_metadata` builds (`worker`, `queue`, `limit`, `timeout`, `ttl`, `type`, `lock_args`, `time`, `at`).
 * With a lock limit above 1 several jobs hold it: the first read stands for them, `holders` counts them.
 */
import type { LockLibrary } from './adapter';
import { jsonFields, lockOf, utf8Of, YEAR_2000_MS, YEAR_2100_MS } from './common';

const LOCKED = /^(.*):LOCKED$/;

export const sidekiqUnique: LockLibrary = {
  id: 'sidekiq-unique',
  claims: 'key',
  patterns: ['uniquejobs:*:LOCKED'],
  sideKey({ text: k }) {
    const m = k.startsWith('uniquejobs:') ? /^(uniquejobs:.*):(QUEUED|PRIMED|INFO)$/.exec(k) : null;
    return m ? { library: 'sidekiq-unique', parent: Buffer.from(`${m[1]!}:LOCKED`, 'latin1'), kind: 'internal' } : null;
  },
  recognise({ text: keyText }, probe) {
    const m = keyText.endsWith(':LOCKED') ? LOCKED.exec(keyText) : null;
    if (!m || !keyText.startsWith('uniquejobs:') || probe.type !== 'hash' || probe.sampled || !probe.fields?.length) return null;
    const [jid, value, cut = 0] = probe.fields[0]!;
    const r = lockOf('sidekiq-unique', jid);
    r.ownerCut = cut !== 0;
    r.fields = { digest: utf8Of(m[1]!), jid: jid.toString('utf8') };
    if (probe.size > 1) r.fields.holders = String(probe.size);
    const text = value.toString('utf8');
    let seconds = Number(text);
    if (text.startsWith('{')) {
      const meta = jsonFields(text, ['worker', 'queue', 'type', 'lock_args', 'limit', 'ttl', 'time']);
      const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
      const put = (name: string, v: string | undefined) => {
        if (v !== undefined && v !== '') r.fields[name] = v.length > 200 ? `${v.slice(0, 200)}…` : v;
      };
      put('worker', str(meta.worker));
      put('queue', str(meta.queue));
      put('lockType', str(meta.type));
      if (meta.lock_args !== undefined && meta.lock_args !== null) put('lockArgs', JSON.stringify(meta.lock_args));
      put('limit', str(meta.limit));
      put('ttl', str(meta.ttl));
      seconds = typeof meta.time === 'number' ? meta.time : Number.NaN;
    }
    if (Number.isFinite(seconds) && seconds * 1000 > YEAR_2000_MS && seconds * 1000 < YEAR_2100_MS) r.acquiredAt = Math.round(seconds * 1000);
    return r;
  },
};
