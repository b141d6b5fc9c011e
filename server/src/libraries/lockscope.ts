/**
 * lockscope's own lock library (`server/src/locklib/`): `SET NX PX` with a random `ls1:<32 hex>` token; fencing
 * counters at `fence:{<lock key>}`, the simulator's at `lockscope:sim:fence:r<i>`. lockscope's audit log (a
 * stream at `lockscope:audit`) matches the generic "lock" glob too, and is not a lock.
 */
import { AUDIT_STREAM } from '../../../shared/admin';
import type { LockLibrary } from './adapter';
import { lockOf } from './common';

const TOKEN = /^ls1:[0-9a-f]{32}$/;

export const lockscope: LockLibrary = {
  id: 'lockscope',
  claims: 'value',
  patterns: [],
  sideKey({ text: k }) {
    if (k === AUDIT_STREAM) return { library: 'lockscope', parent: null, kind: 'internal' };
    if (k.startsWith('fence:{') && k.endsWith('}')) return { library: 'lockscope', parent: Buffer.from(k.slice(7, -1), 'latin1'), kind: 'internal' };
    if (k.startsWith('lockscope:sim:fence:')) return { library: 'lockscope', parent: null, kind: 'internal' };
    return null;
  },
  recognise(_key, probe, { value = '' }) {
    return probe.type === 'string' && probe.value && value.startsWith('ls1:') && TOKEN.test(value) ? lockOf('lockscope', probe.value) : null;
  },
};
