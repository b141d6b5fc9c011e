/**
 * BullMQ (`prepareJobForProcessing.lua`, `extendLocks-1.lua`, `lock-manager.ts`): a worker processing a job holds
 * `<prefix>:<queue>:<jobId>:lock` (prefix `bull` by default), value `<worker uuid>:<n>`, renewed by the worker's
 * lock extender. Every other key under `bull:` is the queue's bookkeeping.
 */
import type { LockLibrary, RenewalRule } from './adapter';
import { lockOf, utf8Of, UUID } from './common';

const VALUE = new RegExp(`^(${UUID}):(\\d+)$`);
const KEY = /^(.+):([^:]+):lock$/;

/**
 * BullMQ ≥ 5 (`lock-manager.ts`): lockRenewTime defaults to lockDuration/2 and the extender timer runs every
 * lockRenewTime/2, extending each active job: lockDuration/4 (7.5 s of the default 30 s).
 */
export const BULLMQ_RENEWAL: RenewalRule = { cadence: (maxTtl) => Math.round(maxTtl / 4), always: () => true };

export const bullmq: LockLibrary = {
  id: 'bullmq',
  renewal: BULLMQ_RENEWAL,
  claims: 'key',
  // `bull:<queue>:<jobId>:lock` contains "lock": the generic glob finds it.
  patterns: ['bull:*:lock'],
  sideKey({ text: k }) {
    // A queue's internals (`bull:<queue>:wait`, `:meta`, job hashes...) match `*lock*` when the queue's name
    // contains "lock"; only `<prefix>:<queue>:<jobId>:lock` is a lock.
    return k.startsWith('bull:') && !k.endsWith(':lock') ? { library: 'bullmq', parent: null, kind: 'internal' } : null;
  },
  recognise({ text: keyText }, probe, { value: text = '' }) {
    const key = keyText.endsWith(':lock') ? KEY.exec(keyText) : null;
    if (!key) return null;
    const value = VALUE.exec(text);
    if (!value) {
      // A job lock's name under BullMQ's own prefix with a value BullMQ never writes: not credited to any library.
      return keyText.startsWith('bull:') && probe.type === 'string' && probe.value ? lockOf('generic', probe.value) : null;
    }
    const r = lockOf('bullmq', probe.value);
    const prefixAndQueue = key[1]!;
    const cut = prefixAndQueue.lastIndexOf(':');
    r.fields = { queue: utf8Of(cut >= 0 ? prefixAndQueue.slice(cut + 1) : prefixAndQueue), jobId: utf8Of(key[2]!), worker: utf8Of(value[1]!), lockNumber: value[2]! };
    if (cut >= 0) r.fields.prefix = utf8Of(prefixAndQueue.slice(0, cut));
    r.renewal = BULLMQ_RENEWAL;
    return r;
  },
};

