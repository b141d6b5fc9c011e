import { describe, expect, it } from 'vitest';
import type { LockView } from '../../shared/locks';
import type { ServerStatus, TargetStatus } from '../../shared/status';
import { lockModel, useLockStore, viewedTarget } from '../src/store/lock-store';

function lock(key: string): LockView {
  const id = btoa(key);
  return {
    id,
    key: { text: key, base64: id, binary: false, escaped: false },
    type: 'string',
    library: 'generic',
    owner: { text: 'w', base64: btoa('w'), binary: false, escaped: false, truncated: false, sizeBytes: 1, fields: {} },
    reentryCount: null,
    pttlMs: 1000,
    deadline: Date.now() + 1000,
    acquiredAt: Date.now(),
    renewals: 0,
    lastRenewalAt: null,
    renewalIntervalMs: null,
    expectedRenewalMs: null,
    state: 'held',
    endedAt: null,
    node: null,
    slot: null,
  };
}

const target = (id: string): TargetStatus => ({
  id,
  name: id,
  url: `redis://${id}:6379`,
  kind: 'standalone',
  health: 'ok',
  problem: null,
  locks: 0,
  nodes: [],
  lastRestart: null,
  lastError: null,
  replication: null,
});

describe('the lock store with several targets', () => {
  it('a snapshot of another target replaces the table at once; messages of a target not shown are ignored', () => {
    const store = useLockStore.getState();
    store.applySnapshot({ target: 'prod', seq: 0, locks: [lock('lock:prod:a'), lock('lock:prod:b')], done: true, serverTime: Date.now() });
    expect(useLockStore.getState().target).toBe('prod');
    expect(lockModel.size).toBe(2);

    // Switching: the first part of staging's snapshot empties prod's table before any staging lock arrives.
    store.applySnapshot({ target: 'staging', seq: 0, locks: [], done: false, serverTime: Date.now() });
    expect(useLockStore.getState().target).toBe('staging');
    expect(lockModel.size).toBe(0);
    // A late change of prod (sent before the switch took effect) is not staging's.
    store.applyChanges({ target: 'prod', upserts: [lock('lock:prod:c')], removed: [], serverTime: Date.now() });
    expect(lockModel.size).toBe(0);
    store.applySnapshot({ target: 'staging', seq: 1, locks: [lock('lock:staging:a')], done: true, serverTime: Date.now() });
    store.applyChanges({ target: 'staging', upserts: [lock('lock:staging:b')], removed: [], serverTime: Date.now() });
    expect(lockModel.size).toBe(2);
    expect(lockModel.byId.has(btoa('lock:staging:b'))).toBe(true);
  });

  it('the status shown is the viewed target’s, or the first one’s before a snapshot says which', () => {
    const status: ServerStatus = { version: 't', patterns: ['*'], targets: [target('prod'), target('staging')] };
    expect(viewedTarget(status, null)?.id).toBe('prod');
    expect(viewedTarget(status, 'staging')?.id).toBe('staging');
    expect(viewedTarget(status, 'gone')?.id).toBe('prod');
    expect(viewedTarget(null, 'prod')).toBeNull();
  });
});
