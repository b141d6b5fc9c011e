import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CUT_NAME, CUT_VALUE, type ProbeResult } from '../src/targets/node/probe';
import { createLibraries, type CurrentOwner } from '../src/libraries';
import { isUuid1Hex, uuid1Time } from '../src/libraries/redis-py';
import { hashResult, stringResult, uuid1Hex } from './support/probe-results';

type Present = Extract<ProbeResult, { exists: true }>;
const libraries = createLibraries();
const recognise = (key: Buffer, probe: Present, current?: CurrentOwner) => libraries.recognise(key, probe, { now: Date.now(), current });
const sideKeyOf = (key: Buffer) => libraries.sideKeyOf(key);
const str = stringResult;
const hash = hashResult;
const k = (s: string) => Buffer.from(s);


describe('recognise() on raw bytes, one library at a time', () => {
  it('Redisson RLock: hash field <uuid>:<threadId> → re-entry count, client id and thread', () => {
    const id = randomUUID();
    const r = recognise(k('orders:lock'), hash([[`${id}:57`, '3']]));
    expect(r).toMatchObject({ library: 'redisson', role: 'lock', reentryCount: 3, fields: { clientId: id, threadId: '57' } });
    expect(r.owner?.toString()).toBe(`${id}:57`);
    expect(r.renewal?.cadence(30_000)).toBe(10_000);
    expect(r.renewal?.always(30_000)).toBe(true);
    expect(r.renewal?.always(120_000)).toBe(false); // explicit leaseTime: no watchdog
  });

  it('Redisson read-write lock: mode field; the writer is the owner; readers are counted', () => {
    const a = randomUUID();
    const b = randomUUID();
    const write = recognise(k('rw'), hash([['mode', 'write'], [`${a}:1:write`, '2'], [`${a}:1`, '1']]));
    expect(write).toMatchObject({ library: 'redisson-rw', reentryCount: 2, fields: { mode: 'write', clientId: a, threadId: '1', holders: '2' } });
    expect(write.owner?.toString()).toBe(`${a}:1:write`);
    expect(write.shared).toBe(false);
    const read = recognise(k('rw'), hash([['mode', 'read'], [`${b}:9`, '1'], [`${a}:4`, '2']]));
    const names = [`${a}:4`, `${b}:9`].sort();
    expect(read).toMatchObject({ library: 'redisson-rw', shared: true, fields: { mode: 'read', holders: '2', readers: names.join(', ') } });
    // A stable pick among readers (smallest field), so the owner does not flap with hash order ...
    expect(read.owner?.toString()).toBe(names[0]);
    // ... unless the lock is already shown by a reader that is still there.
    const current = { ownedBy: (o: Buffer | null) => o?.toString() === names[1] };
    expect(recognise(k('rw'), hash([['mode', 'read'], [`${b}:9`, '1'], [`${a}:4`, '2']]), current).owner?.toString()).toBe(names[1]);
    // A single reader is still a shared read lock (others may join).
    expect(recognise(k('rw'), hash([['mode', 'read'], [`${a}:4`, '1']]))).toMatchObject({ shared: true, fields: { readers: `${a}:4` } });
  });

  it('hash fields not read in full: a cut holder value leaves the owner truncated; a sampled big hash names no owner', () => {
    const id = randomUUID();
    const cutValue = hash([[`${id}:1`, '']]);
    cutValue.fields![0]![2] = CUT_VALUE;
    expect(recognise(k('big'), cutValue)).toMatchObject({ library: 'redisson', ownerCut: true, reentryCount: null });
    const cutName = hash([['y'.repeat(512), '']]);
    cutName.fields![0]![2] = CUT_NAME | CUT_VALUE;
    const r = recognise(k('lock:odd'), cutName);
    expect(r).toMatchObject({ library: 'unknown', ownerCut: true });
    expect(r.fields.fields).toBe(`${'y'.repeat(512)}…`);
    expect(recognise(k('lock:sampled'), { ...hash([['a', 'b']]), sampled: true })).toMatchObject({ library: 'unknown', owner: null });
  });

  it('Redisson side keys (fair-lock queue and timeout set, reader timeouts, unlock latch) are not locks', () => {
    const id = randomUUID();
    for (const key of [
      'redisson_lock_queue:{fair}',
      'redisson_lock_timeout:{fair}',
      `redisson_unlock_latch:{fair}:${randomBytes(8).toString('hex')}`,
      `{rw}:${id}:1:rwlock_timeout:1`,
    ]) {
      expect(recognise(k(key), str('1')).role, key).toBe('side-key');
    }
    expect(sideKeyOf(k('redisson_lock_queue:{fair}'))).toMatchObject({ kind: 'waiters', parent: k('fair') });
    // A name that already has a hash tag is used as is.
    expect(sideKeyOf(k('redisson_lock_queue:a{b}c'))?.parent?.toString()).toBe('a{b}c');
    expect(sideKeyOf(k(`{rw}:${id}:1:rwlock_timeout:3`))?.parent?.toString()).toBe('rw');
  });

  it('BullMQ: bull:<queue>:<job>:lock with <worker uuid>:<n> → queue, job, worker; renews every lockDuration/4', () => {
    const worker = randomUUID();
    const r = recognise(k('bull:emails:1042:lock'), str(`${worker}:7`));
    expect(r).toMatchObject({ library: 'bullmq', fields: { queue: 'emails', jobId: '1042', worker, lockNumber: '7', prefix: 'bull' } });
    expect(r.renewal?.cadence(30_000)).toBe(7_500);
    expect(r.renewal?.always(2_000)).toBe(true);
  });

  it('BullMQ internals of a queue whose name contains "lock" are side keys, not locks', () => {
    for (const key of ['bull:locks:wait', 'bull:locks:meta', 'bull:locks:1', 'bull:locks:stalled', 'bull:blocking:events']) {
      expect(recognise(k(key), str('x')).role, key).toBe('side-key');
    }
  });

  it("lockscope's own fencing counters (library and simulator) are side keys, not locks", () => {
    for (const key of ['fence:{lock:orders:42}', 'lockscope:sim:fence:r3']) {
      expect(recognise(k(key), str('17')).role, key).toBe('side-key');
    }
    expect(recognise(k('lockscope:sim:lock:r3'), str(`ls1:${'a'.repeat(32)}`))).toMatchObject({ role: 'lock', library: 'lockscope' });
  });

  it('ShedLock: ADDED:<time>@<host>[:<uuid>] → host and acquire time; env and name from the key', () => {
    const uuid = randomUUID();
    const r = recognise(k('job-lock:default:nightlyReport'), str(`ADDED:2026-01-02T03:04:05.678Z@worker-7.internal:${uuid}`));
    expect(r).toMatchObject({
      library: 'shedlock',
      acquiredAt: Date.parse('2026-01-02T03:04:05.678Z'),
      fields: { host: 'worker-7.internal', instance: uuid, env: 'default', name: 'nightlyReport' },
    });
    const old = recognise(k('job-lock:prod:x'), str('ADDED:2020-05-06T07:08:09Z@host-a'));
    expect(old).toMatchObject({ library: 'shedlock', fields: { host: 'host-a', env: 'prod' } });
  });

  it('python-redis-lock: 16 raw bytes (2.x) or base64 of 18 bytes (3.x+) under lock:<name>', () => {
    const raw = Buffer.from('00ff10e3c47a8b9ad1e2f3a4b5c6d7e8', 'hex');
    expect(recognise(k('lock:reports'), str(raw))).toMatchObject({ library: 'python-redis-lock', fields: { name: 'reports' } });
    const b64 = randomBytes(18).toString('base64');
    expect(recognise(k('lock:reports'), str(b64)).library).toBe('python-redis-lock');
    expect(recognise(k('lock:reports'), str(raw)).renewal?.cadence(30_000)).toBe(20_000);
    // Sixteen printable characters under lock: are someone's text token, not urandom(16).
    expect(recognise(k('lock:reports'), str('worker-123456789')).library).toBe('generic');
    expect(sideKeyOf(k('lock-signal:reports'))).toMatchObject({ library: 'python-redis-lock', kind: 'signal', parent: k('lock:reports') });
  });

  it('redsync: base64 of 16 bytes (24 chars ending ==)', () => {
    expect(recognise(k('mutex'), str(randomBytes(16).toString('base64'))).library).toBe('redsync');
  });

  it('redis-py: uuid1().hex (version 1, RFC variant, a timestamp of this century)', () => {
    const token = uuid1Hex();
    expect(isUuid1Hex(token)).toBe(true);
    // Printed by CPython's uuid.uuid1().hex on this machine.
    expect(isUuid1Hex('b2208d0ce67d11f19bc402fc00000001')).toBe(true);
    expect(recognise(k('resource'), str(token))).toMatchObject({ library: 'redis-py', fields: { token: 'uuid1' } });
    // redis-py makes the token in acquire(): its uuid1 timestamp is when the lock was taken.
    const at = Date.UTC(2026, 3, 5, 6, 7, 8, 901);
    expect(uuid1Time(uuid1Hex(at))).toBe(at);
    expect(recognise(k('resource'), str(uuid1Hex(at))).acquiredAt).toBe(at);
    expect(recognise(k('res'), str('a3f1c2d4e5f60718293a4b5c6d7e8f90')).acquiredAt).toBeNull();
  });

  it('node-redlock: 32 random hex — even when digit 12 happens to be "1" (no uuid1 timestamp)', () => {
    expect(recognise(k('res'), str(randomBytes(16).toString('hex'))).library).not.toBe('generic');
    // A random token with '1' at index 12 used to be taken for redis-py 1 time in 16.
    let misread = 0;
    for (let i = 0; i < 2000; i++) {
      const hex = randomBytes(16).toString('hex');
      const forced = `${hex.slice(0, 12)}1${hex.slice(13)}`;
      if (recognise(k('res'), str(forced)).library !== 'redlock') misread++;
    }
    expect(misread).toBeLessThan(2000 * 0.03);
    const r = recognise(k('res'), str('a3f1c2d4e5f60718293a4b5c6d7e8f90'));
    expect(r.library).toBe('redlock');
    // using() extends 500 ms (plus 1% + 2 ms drift) before expiry.
    expect(r.renewal?.cadence(1000)).toBe(488);
  });

  it('Spring RedisLockRegistry: a version-4 UUID under <registry>:<lockKey>', () => {
    const id = randomUUID();
    expect(recognise(k('orders-registry:order-42'), str(id))).toMatchObject({
      library: 'spring',
      fields: { registry: 'orders-registry', lockKey: 'order-42', clientId: id },
    });
    // An upper-case or non-v4 UUID is not what Java's UUID.randomUUID().toString() writes.
    expect(recognise(k('a:b'), str(id.toUpperCase())).library).toBe('generic');
    expect(recognise(k('a:b'), str('6ba7b810-9dad-11d1-80b4-00c04fd430c8')).library).toBe('generic');
  });

  it('Laravel: Str::random(16) (mixed case) or any 16 alphanumerics under a cache prefix', () => {
    expect(recognise(k('laravel_cache_:invoice-run'), str('aZ3kP9qLm2Xw7Rt1')).library).toBe('laravel');
    expect(recognise(k('laravel_database_laravel_cache_:x'), str('abcdefgh12345678')).library).toBe('laravel');
    // A 16-digit hex id is not Laravel.
    expect(recognise(k('job:1'), str('deadbeefcafef00d')).library).toBe('generic');
  });

  it('sidekiq-unique-jobs: uniquejobs:<digest>:LOCKED hash jid → time; side keys are not locks', () => {
    const r = recognise(k('uniquejobs:abc123:LOCKED'), hash([['4d3c2b1a0f9e8d7c6b5a4f3e', '1767323045.123']]));
    expect(r).toMatchObject({ library: 'sidekiq-unique', fields: { digest: 'uniquejobs:abc123', jid: '4d3c2b1a0f9e8d7c6b5a4f3e' }, acquiredAt: 1767323045123 });
    for (const s of ['QUEUED', 'PRIMED', 'INFO']) expect(recognise(k(`uniquejobs:abc123:${s}`), str('x')).role).toBe('side-key');
  });

  it('sidekiq-unique-jobs v9: the job id maps to Locksmith#lock_metadata JSON (worker, queue, type, args, time)', () => {
    // lock_v9.lua: HSET <digest>:LOCKED <jid> <metadata>, metadata = dump_json(worker:, queue:, limit:, timeout:,
    // ttl:, type:, lock_args:, time: now_f, at:).
    const meta = {
      worker: 'HardWorkingJob',
      queue: 'critical',
      limit: null,
      timeout: 0,
      ttl: 7200,
      type: 'until_executed',
      lock_args: [42, 'eu-west'],
      time: 1767323045.5,
      at: null,
    };
    const jid = '4d3c2b1a0f9e8d7c6b5a4f3e';
    const r = recognise(k('uniquejobs:abc123:LOCKED'), hash([[jid, JSON.stringify(meta)]]));
    expect(r).toMatchObject({
      library: 'sidekiq-unique',
      acquiredAt: 1767323045500,
      fields: { digest: 'uniquejobs:abc123', jid, worker: 'HardWorkingJob', queue: 'critical', lockType: 'until_executed', lockArgs: '[42,"eu-west"]', ttl: '7200' },
    });
    expect(r.owner?.toString()).toBe(jid);
    // A value longer than the probe reads is cut: the members there in full still decode.
    const long = JSON.stringify({ ...meta, lock_args: ['x'.repeat(600)] }).slice(0, 512);
    const cut = hash([[jid, long]]);
    cut.fields![0]![2] = CUT_VALUE;
    const rc = recognise(k('uniquejobs:abc123:LOCKED'), cut);
    expect(rc).toMatchObject({ library: 'sidekiq-unique', ownerCut: true, acquiredAt: null, fields: { worker: 'HardWorkingJob', queue: 'critical', ttl: '7200' } });
    expect(rc.fields.lockArgs).toBeUndefined();
    // Several jobs hold a lock with a limit above 1.
    expect(recognise(k('uniquejobs:abc123:LOCKED'), hash([[jid, JSON.stringify(meta)], ['ffeeddccbbaa998877665544', '{}']])).fields.holders).toBe('2');
  });

  it('lockscope own locks, generic strings, odd hashes and other types', () => {
    expect(recognise(k('x'), str(`ls1:${randomBytes(16).toString('hex')}`)).library).toBe('lockscope');
    expect(recognise(k('lock:stuck'), str('1')).library).toBe('generic');
    expect(recognise(k('h'), hash([['a', '1'], ['b', '2']]))).toMatchObject({ library: 'unknown', fields: { fields: 'a, b' } });
    const list: Present = { exists: true, type: 'list', pttlMs: -1, size: 2, value: null, fields: null };
    expect(recognise(k('lock:q'), list)).toMatchObject({ library: 'unknown', role: 'lock', owner: null });
  });

  it('never throws on binary keys and values', () => {
    for (let i = 0; i < 200; i++) {
      const key = randomBytes(1 + (i % 40));
      expect(() => recognise(key, str(randomBytes(i % 64)))).not.toThrow();
      expect(() => recognise(key, { ...hash([]), fields: [[randomBytes(8), randomBytes(8)]] })).not.toThrow();
    }
  });
});
