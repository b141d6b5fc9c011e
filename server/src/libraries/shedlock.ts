/**
 * ShedLock (`InternalRedisLockProvider.java`): `job-lock:<env>:<name>`, value `ADDED:<ISO time>@<host>[:<uuid>]`.
 * Unlocking before lockAtLeastFor keeps the key until then on purpose (`SET XX PX <rest>`).
 */
import type { LockLibrary } from './adapter';
import { lockOf, UUID } from './common';

const VALUE = new RegExp(`^ADDED:([^@]+)@(.*?)(?::(${UUID}))?$`);

export const shedlock: LockLibrary = {
  id: 'shedlock',
  claims: 'value',
  // `job-lock:<env>:<name>` contains "lock": the generic glob finds it.
  patterns: ['job-lock:*'],
  recognise({ text: keyText }, probe, { value = '' }) {
    if (probe.type !== 'string' || !probe.value || !value.startsWith('ADDED:')) return null;
    const m = VALUE.exec(probe.value.toString('utf8'));
    if (!m) return null;
    const r = lockOf('shedlock', probe.value);
    const at = Date.parse(m[1]!);
    r.acquiredAt = Number.isNaN(at) ? null : at;
    r.fields = { lockedAt: m[1]!, host: m[2]! };
    if (m[3]) r.fields.instance = m[3];
    const name = /^([^:]*):([^:]*):(.*)$/.exec(keyText);
    if (name) Object.assign(r.fields, { env: name[2]!, name: name[3]! });
    return r;
  },
};
