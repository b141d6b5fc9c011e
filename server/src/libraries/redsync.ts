/** go-redsync (`mutex.go`, `scripts.go`): value = base64 of 16 random bytes (24 chars ending `==`); no renewal of its own. */
import type { LockLibrary } from './adapter';
import { lockOf } from './common';

const TOKEN = /^[A-Za-z0-9+/]{22}==$/;

export const redsync: LockLibrary = {
  id: 'redsync',
  claims: 'value',
  patterns: [],
  recognise(_key, probe, { value = '' }) {
    return probe.type === 'string' && probe.value && value.length === 24 && TOKEN.test(value) ? lockOf('redsync', probe.value) : null;
  },
};
