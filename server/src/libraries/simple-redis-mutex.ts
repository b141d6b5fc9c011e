/**
 * simple-redis-mutex 3.0 (npm; `dist/index.js`): `@simple-redis-mutex:lock-<name>`, value `String(Math.random())`
 * (1.x: 100 hex chars), `SET NX PX timeout` (30 s). Release is `GET==v → DEL` then
 * `PUBLISH @simple-redis-mutex:locks-releases '{ "key": "<full key>", "value": "<v>" }'`: every process keeps one
 * subscriber on that channel for all its locks and matches the message's `key`. Renewal (`refreshTimeout()`) only
 * when asked. Side keys: the fencing counter `@simple-redis-mutex:fencing-tokens`, 1.x FIFO counters.
 */
import type { LockLibrary } from './adapter';
import { lockOf, utf8Of } from './common';

const PREFIX = '@simple-redis-mutex:lock-';
export const SIMPLE_REDIS_MUTEX_CHANNEL = '@simple-redis-mutex:locks-releases';
/** `String(Math.random())`: `0.` and digits, or (rarely) an exponent form; 1.x: `randomBytes(50)` as hex. */
const VALUE = /^(?:0\.\d+|\d(?:\.\d+)?e-\d+|[0-9a-f]{100})$/;

export const simpleRedisMutex: LockLibrary = {
  id: 'simple-redis-mutex',
  claims: 'key',
  // `@simple-redis-mutex:lock-<name>` contains "lock": the generic glob finds it.
  patterns: [`${PREFIX}*`],
  sideKey({ text: k }) {
    if (!k.startsWith('@simple-redis-mutex:')) return null;
    if (k === '@simple-redis-mutex:fencing-tokens') return { library: 'simple-redis-mutex', parent: null, kind: 'internal' };
    const fifo = /^(@simple-redis-mutex:lock-.*):(next-id|last-out-id)$/.exec(k);
    return fifo ? { library: 'simple-redis-mutex', parent: Buffer.from(fifo[1]!, 'latin1'), kind: 'internal' } : null;
  },
  recognise({ text: keyText }, probe) {
    if (!keyText.startsWith(PREFIX) || probe.type !== 'string' || !probe.value) return null;
    if (!VALUE.test(probe.value.toString('latin1'))) return lockOf('generic', probe.value);
    const r = lockOf('simple-redis-mutex', probe.value);
    r.fields = { name: utf8Of(keyText.slice(PREFIX.length)) };
    return r;
  },
  releasePlan({ key, owner }) {
    // Its release script formats the message with `string.format('{ "key": "%s", "value": "%s" }', key, value)`.
    const message = Buffer.concat([Buffer.from('{ "key": "'), key, Buffer.from('", "value": "'), owner, Buffer.from('" }')]);
    return {
      check: { kind: 'string', value: owner },
      bookkeeping: [],
      steps: [{ op: 'del' }, { op: 'publish', command: 'PUBLISH', channel: Buffer.from(SIMPLE_REDIS_MUTEX_CHANNEL), message, wake: 'simple-redis-mutex-channel' }],
      scope: 'lock',
    };
  },
};
