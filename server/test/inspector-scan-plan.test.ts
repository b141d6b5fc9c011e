import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LOCK_PATTERNS } from '../src/config/config';
import { planScan } from '../src/targets/node/scan-plan';
import { scanKeys } from '../src/targets/node/scan';
import { compileGlob, globMatch, globRegExp } from '../src/model/glob';
import { startTestRedis, type TestRedis } from './support/redis';

/** Keys a glob matches, as Redis itself says (KEYS on a small private keyspace). */
async function redisMatches(redis: TestRedis, pattern: Buffer): Promise<Set<string>> {
  const keys = (await redis.client.callBuffer('KEYS', pattern)) as Buffer[];
  return new Set(keys.map((k) => k.toString('base64')));
}

describe('Redis globs matched in lockscope exactly as Redis matches them', () => {
  let redis: TestRedis;
  const keys: Buffer[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    const names = [
      'lock:orders:42', 'LOCK', 'Lock.exports', 'job-lock:default:x', 'bull:q:1:lock', 'mutex:a', 'mutex:', 'semaphore:pool',
      '{pdf-Semaphore}:timeout', 'session:7', 'user:42:profile', 'a', 'ab', 'abc', 'a*c', 'a?c', 'a[b]c', 'a\\b', 'a-b', 'a]b', '[', ']',
      'x^y', 'hello', 'hallo', 'hxllo', 'heeeello', '', 'wörk-lock', 'key\x00with\x00nul',
    ];
    for (const n of names) keys.push(Buffer.from(n, 'utf8'));
    // Random keys too, none equal to another (Redis would hold one, and the comparison count it twice).
    while (keys.length < names.length + 40) {
      const k = randomBytes(1 + (keys.length % 9));
      if (!keys.some((x) => x.equals(k))) keys.push(k);
    }
    const p = redis.client.pipeline();
    for (const k of keys) p.set(k, '1');
    await p.exec();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('agrees with Redis on every key for tricky patterns: classes, negation, ranges both ways, escapes, unclosed brackets, binary', async () => {
    const patterns = [
      '*[lL][oO][cC][kK]*', 'mutex:*', '*[sS][eE][mM][aA][pP][hH][oO][rR][eE]*', 'h?llo', 'h*llo', 'h[ae]llo', 'h[^e]llo', 'h[a-b]llo',
      'h[z-a]llo', 'a\\*c', 'a\\?c', 'a[\\]]b', 'a[', 'a[b', '[', '\\', 'a\\', '*', '**', '?', '', 'a*', '*c', '*b*', '[]]', 'a[]b', 'x[\\^]y',
      '[^a]*', '*\x00*', 'w*k-*', 'a[a-]b', 'a[-b]c', '[a-c-]*', 'h[^a-d]llo', '*[ELelu][MOmot][ACace][KPkpx]*',
    ].map((p) => Buffer.from(p, 'utf8'));
    for (let i = 0; i < 30; i++) patterns.push(Buffer.concat([Buffer.from('*'), randomBytes(1 + (i % 3)), Buffer.from('*')]));
    for (const pattern of patterns) {
      const expected = [...(await redisMatches(redis, pattern))].sort();
      const matched = (test: (k: Buffer) => boolean) => keys.filter(test).map((k) => k.toString('base64')).sort();
      const shown = JSON.stringify(pattern.toString('latin1'));
      expect(matched((k) => globMatch(pattern, k)), `matcher, pattern ${shown}`).toEqual(expected);
      // The compiled form (a RegExp where that is sure to agree) too, for patterns given as text.
      if (pattern.equals(Buffer.from(pattern.toString('utf8'), 'utf8'))) expect(matched(compileGlob(pattern.toString('utf8'))), `compiled, pattern ${shown}`).toEqual(expected);
    }
    // The compiled form falls back to the matcher where a RegExp could read the pattern differently.
    for (const odd of ['a[', '[]]', 'a[]b', 'x[a-]y', 'x[a-\\]y', '[\u00e9-z]']) expect(globRegExp(Buffer.from(odd, 'utf8')), odd).toBeNull();
    expect(globRegExp(Buffer.from('*[lL][oO][cC][kK]*'))?.source).toBe('^[\\s\\S]*[\\x6c\\x4c][\\x6f\\x4f][\\x63\\x43][\\x6b\\x4b][\\s\\S]*$');
  });

  it('folds several patterns into one SCAN walk that finds exactly the keys each pattern would', async () => {
    const groups = [
      [...DEFAULT_LOCK_PATTERNS],
      ['lock:*', 'mutex:*', 'job-lock:*'],
      ['*[lL][oO][cC][kK]*', 'h?llo'],
      ['*[lL][oO][cC][kK]*', 'h?l?o'],
      ['*', 'mutex:*'],
      ['a[b]c', 'a\\*c', 'x^y'],
    ];
    for (const patterns of groups) {
      const passes = planScan(patterns);
      const found = new Set<string>();
      for (const { glob, keep } of passes) {
        for await (const page of scanKeys(redis.client, glob, 50, 2)) for (const k of page) if (!keep || keep(k)) found.add(k.toString('base64'));
      }
      const expected = new Set<string>();
      for (const p of patterns) for (const k of await redisMatches(redis, Buffer.from(p))) expected.add(k);
      expect([...found].sort(), patterns.join(' ')).toEqual([...expected].sort());
    }
    // The defaults fold into a single walk; a pattern without a two-byte literal run gets a walk of its own.
    expect(planScan(DEFAULT_LOCK_PATTERNS)).toHaveLength(1);
    expect(planScan(['*[lL][oO][cC][kK]*', 'h?l?o']).map((p) => p.glob.toString())).toEqual(['h?l?o', '*[lL][oO][cC][kK]*']);
    expect(planScan(['*', 'mutex:*'])).toEqual([{ glob: Buffer.from('*'), keep: null }]);
  });
});
