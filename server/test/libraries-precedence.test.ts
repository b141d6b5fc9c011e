import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../src/targets/node/probe';
import { BUILTIN_LIBRARIES, BUILTIN_PATTERNS, createLibraries, GENERIC_LOCK_GLOB } from '../src/libraries';
import { lockFormatsSchema } from '../src/libraries/declared';
import { defaultPatterns } from '../src/libraries/registry';
import { hashResult, stringResult, zsetResult } from './support/probe-results';

type Present = Extract<ProbeResult, { exists: true }>;
const libraries = createLibraries();
const now = Date.now();
const recognise = (key: string, probe: Present) => libraries.recognise(Buffer.from(key), probe, { now });
const libraryOf = (key: string, value: string) => recognise(key, stringResult(value)).library;
const zset = zsetResult;

/**
 * "No false friends": when two adapters could claim a key, which wins (the rule is in registry.ts and the README),
 * and a value that merely looks like some library's token is not credited to it when the key's shape says otherwise.
 */
describe('which adapter claims a key', () => {
  it('asks key-shape adapters before value-shape ones (the registry order the README documents)', () => {
    const tiers = BUILTIN_LIBRARIES.map((l) => l.claims);
    expect(tiers.indexOf('value')).toBeGreaterThan(0);
    expect(tiers.slice(tiers.indexOf('value')).every((t) => t === 'value')).toBe(true);
  });

  it('a UUID v4 under a library\'s own prefix is that library\'s, not Spring\'s (which takes a UUID under any key with ":")', () => {
    const uuid = randomUUID();
    expect(libraryOf('mutex:report-42', uuid)).toBe('redis-semaphore');
    expect(libraryOf('mutex:report-42', `${uuid}-worker-7`)).toBe('redis-semaphore');
    expect(libraryOf('redlock:orders', uuid)).toBe('redlock-net');
    expect(libraryOf('orders:42', uuid)).toBe('spring');
    expect(libraryOf('orders-42', uuid)).toBe('uuid-token');
  });

  it('a prefix claims a key only with its library\'s value: otherwise the value decides', () => {
    // node-redlock users name resources `redlock:…` too; its 32-hex token stays node-redlock's.
    expect(libraryOf('redlock:using:report', randomBytes(16).toString('hex'))).toBe('redlock');
    // A go-redsync token under `mutex:` is redsync's; redis-semaphore always writes a UUID.
    expect(libraryOf('mutex:report', randomBytes(16).toString('base64'))).toBe('redsync');
    // `lock:` is python-redis-lock's prefix, but its ids are raw or base64 bytes: anything else is another's.
    expect(libraryOf('lock:reports', randomBytes(16).toString('hex'))).toBe('redlock');
    expect(libraryOf('lock:reports', 'worker-7')).toBe('generic');
  });

  it('in a namespace only one library writes, a value it never writes is credited to no library at all', () => {
    expect(libraryOf('bull:emails:7:lock', randomBytes(16).toString('hex'))).toBe('generic');
    expect(libraryOf('bull:emails:7:lock', `${randomUUID()}:3`)).toBe('bullmq');
    expect(libraryOf('@simple-redis-mutex:lock-x', randomBytes(12).toString('base64'))).toBe('generic');
    expect(libraryOf('@simple-redis-mutex:lock-x', '0.5183647913')).toBe('simple-redis-mutex');
  });

  it('redis-lock\'s deadline value must agree with the TTL (a 13-digit number that is not the deadline is somebody else\'s)', () => {
    expect(recognise('lock.exports', stringResult(String(now + 30_000), 30_000)).library).toBe('redis-lock');
    expect(recognise('lock.exports', stringResult(String(now + 3_600_000), 30_000)).library).toBe('generic');
    expect(recognise('lock:exports', stringResult(String(now + 30_000), 30_000)).library).toBe('generic');
  });

  it('sorted sets: the semaphore: prefix with epoch scores, Symfony tokens, Redisson permits; anything else is no lock', () => {
    expect(recognise('semaphore:pool', zset([[randomUUID(), now]])).library).toBe('redis-semaphore');
    // A `semaphore:` set whose scores are not times (a leaderboard, say) is not one.
    expect(recognise('semaphore:scores', zset([['alice', 12]])).library).toBe('unknown');
    expect(recognise('pdf', zset([[randomBytes(32).toString('base64'), now + 300_000], ['__write__', now + 300_000]])).library).toBe('symfony');
    expect(recognise('{render-semaphore}:timeout', zset([[randomBytes(16), now + 1000]])).library).toBe('redisson-semaphore');
    // 16-byte members under a name that is not `{name}:timeout`: not a Redisson permit set.
    expect(recognise('render', zset([[randomBytes(16), now + 1000]])).library).toBe('unknown');
  });

  it('a bsm/redislock token needs mixed case: a 22-character name or word is not one', () => {
    expect(libraryOf('report', 'sj51AOjAqpD-daUsMvvImA')).toBe('bsm-redislock');
    expect(libraryOf('report', 'sj51AOjAqpD-daUsMvvImAworker-7')).toBe('bsm-redislock');
    expect(libraryOf('report', 'nightly_export_worker7')).toBe('generic');
  });

  it('helper keys are never locks, whatever their value', () => {
    for (const key of ['lock-signal:x', 'redisson_lock_queue:{x}', 'fence:{lock:x}', '@simple-redis-mutex:fencing-tokens', 'uniquejobs:d:PRIMED', 'symfony_check_support_time']) {
      expect(recognise(key, stringResult(randomUUID())).role, key).toBe('side-key');
    }
  });

  it('a declared format claims the keys its pattern matches, before any built-in; other keys are untouched', () => {
    const declared = createLibraries(lockFormatsSchema.parse({ formats: [{ label: 'ours', keyPattern: 'mutex:ours:*' }] }).formats);
    const uuid = randomUUID();
    expect(declared.recognise(Buffer.from('mutex:ours:1'), stringResult(uuid), { now }).library).toBe('declared:ours');
    expect(declared.recognise(Buffer.from('mutex:theirs:1'), stringResult(uuid), { now }).library).toBe('redis-semaphore');
    // Of another type than declared: not the format's (a hash under its pattern is left to the built-ins).
    expect(declared.recognise(Buffer.from('mutex:ours:2'), hashResult([[`${uuid}:1`, '1']]), { now }).library).toBe('redisson');
  });
});

describe('default LOCK_PATTERNS', () => {
  it('are the union of the adapters\' patterns and the generic "lock" glob, less those a broader one covers', () => {
    expect(BUILTIN_PATTERNS).toEqual([GENERIC_LOCK_GLOB, 'mutex:*', '*[sS][eE][mM][aA][pP][hH][oO][rR][eE]*']);
    const all = new Set(BUILTIN_LIBRARIES.flatMap((l) => l.patterns));
    for (const covered of ['bull:*:lock', 'lock:*', 'lock.*', 'redlock:*', 'job-lock:*', '@simple-redis-mutex:lock-*', 'uniquejobs:*:LOCKED', 'semaphore:*']) {
      expect(all.has(covered), covered).toBe(true);
    }
    // A pattern nothing covers stays.
    expect(defaultPatterns([{ ...BUILTIN_LIBRARIES[0]!, patterns: ['jobs:*:owner'] }])).toEqual([GENERIC_LOCK_GLOB, 'jobs:*:owner']);
  });
});
