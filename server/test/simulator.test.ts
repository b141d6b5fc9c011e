import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimConfigInput, SimStats, SimSummary } from '../../shared/simulator';
import { Checker } from '../src/simulator/checker';
import { defaultSimConfig, lockKey, parseSimConfig } from '../src/simulator/config';
import { Freezer } from '../src/simulator/freezer';
import { Simulation } from '../src/simulator/simulator';
import { startSlowProxy } from '../src/simulator/slow-proxy';
import { createStrategy, DEL_REPORTING, PEXPIRE_REPORTING } from '../src/simulator/strategies';
import { startTestRedis, waitFor, type TestRedis } from './support/redis';

/**
 * Every scenario runs the real simulator against a real redis-server for a second or two, with small TTLs and
 * pauses longer than the TTL, and checks what a user would see in the summary (or in Redis itself).
 */
describe('contention simulator (real Redis)', () => {
  let redis: TestRedis;

  beforeAll(async () => {
    redis = await startTestRedis({ args: ['--notify-keyspace-events', ''] });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function run(input: SimConfigInput, during?: (sim: Simulation, stats: SimStats[]) => Promise<void>): Promise<{ summary: SimSummary; stats: SimStats[] }> {
    const sim = new Simulation(defaultSimConfig(input), { redisUrl: redis.url });
    const stats: SimStats[] = [];
    sim.on('stats', (s) => stats.push(s));
    await sim.start();
    if (during) {
      await during(sim, stats);
      await sim.stop();
    }
    return { summary: await sim.done, stats };
  }

  /** Pauses (GC-like, 400 ms) much longer than the 250 ms TTL, and crashes while holding. */
  const hostile: SimConfigInput = {
    workers: 30,
    resources: 3,
    durationMs: 2000,
    ttlMs: 250,
    holdMs: 15,
    thinkMs: 5,
    retryDelayMs: 5,
    faults: { pauseProb: 0.1, pauseMs: 400, crashProb: 0.08, respawnDelayMs: 200 },
    statsIntervalMs: 500,
  };

  it('safe: zero violations under pauses longer than the TTL and crashes, and the resource count is exact', async () => {
    const { summary, stats } = await run({ ...hostile, strategy: 'safe' });
    expect(summary.counters.pauses).toBeGreaterThan(3);
    expect(summary.counters.crashes).toBeGreaterThan(0);
    // The pauses did cost locks: the library noticed and the worker did not write.
    expect(summary.counters.lostLocksDetected).toBeGreaterThan(0);
    expect(summary.violations).toBe(0);
    expect(summary.counters).toMatchObject({ overlaps: 0, foreignReleases: 0, foreignRenewals: 0, staleWritesAccepted: 0, lostUpdates: 0 });
    expect(summary.resourceTotal).toBe(summary.writesAccepted);
    expect(summary.acquisitions).toBeGreaterThan(50);
    expect(summary.endReason).toBe('completed');
    // Live stats at the configured cadence, each with the counters.
    expect(stats.length).toBeGreaterThanOrEqual(4);
    expect(stats.at(-1)!.counters.pauses).toBe(summary.counters.pauses);
    expect(stats.some((s) => s.acquisitionsPerSec > 0 && s.waitMs.p99 !== null)).toBe(true);
  });

  it('safe-fenced: zero violations under pauses and crashes', async () => {
    const { summary } = await run({ ...hostile, strategy: 'safe-fenced' });
    expect(summary.counters.pauses).toBeGreaterThan(3);
    expect(summary.counters.crashes).toBeGreaterThan(0);
    expect(summary.violations).toBe(0);
    expect(summary.counters.lostUpdates).toBe(0);
    expect(summary.resourceTotal).toBe(summary.writesAccepted);
  });

  it('set-nx-ex-renew: overlapping holders, stale writes and lost updates when pauses exceed the TTL', async () => {
    const { summary } = await run({ ...hostile, strategy: 'set-nx-ex-renew', faults: { pauseProb: 0.15, pauseMs: 400 } });
    expect(summary.violations).toBeGreaterThan(0);
    expect(summary.counters.overlaps).toBeGreaterThan(0);
    expect(summary.counters.staleWritesAccepted).toBeGreaterThan(0);
    // Its blind DEL / PEXPIRE hit other workers' locks.
    expect(summary.counters.foreignReleases + summary.counters.foreignRenewals).toBeGreaterThan(0);
  });

  it('setnx-expire: overlapping holders and deletes of other workers’ locks when pauses exceed the TTL', async () => {
    const { summary } = await run({ ...hostile, strategy: 'setnx-expire', faults: { pauseProb: 0.15, pauseMs: 400 } });
    expect(summary.violations).toBeGreaterThan(0);
    expect(summary.counters.overlaps).toBeGreaterThan(0);
    expect(summary.counters.foreignReleases).toBeGreaterThan(0);
  });

  it('setnx-expire: a crash between SETNX and EXPIRE leaves a lock without TTL, which its quirk later repairs', async () => {
    const key = lockKey('lockscope:sim:', 0);
    const { summary } = await run(
      {
        strategy: 'setnx-expire',
        workers: 1,
        resources: 1,
        ttlMs: 200,
        durationMs: 5000,
        statsIntervalMs: 100,
        faults: { crashBetweenProb: 1, respawnDelayMs: 700 },
      },
      async (_sim, stats) => {
        // The crashed worker never set the TTL: the key stays, with PTTL -1.
        await waitFor(async () => (await redis.client.pttl(key)) === -1, 'a lock without TTL');
        expect(await redis.client.get(key)).toMatch(/^sim-w0-\d+$/);
        await waitFor(() => stats.at(-1)?.stuckLocksNow === 1, 'stats to show the stuck lock');
        // Nothing frees it while the worker is down...
        await new Promise((r) => setTimeout(r, 300));
        expect(await redis.client.pttl(key)).toBe(-1);
        // ...until the respawned worker finds it without TTL and puts one on it (the note's quirk).
        await waitFor(() => (stats.at(-1)?.counters.expiryReapplied ?? 0) > 0, 'the quirk to re-apply the expiry', 3000);
      },
    );
    expect(summary.counters.stuckLocksCreated).toBeGreaterThanOrEqual(1);
    expect(summary.violations).toBeGreaterThanOrEqual(1);
    expect(summary.endReason).toBe('stopped');
    // Cleaned up at stop.
    expect(await redis.client.exists(key)).toBe(0);
  });

  it('safe vs safe-fenced with the pause right before the write: the fence rejects the stale write that safe lets through', async () => {
    const input: SimConfigInput = { ...hostile, faults: { pauseProb: 0.15, pauseMs: 400, pauseAt: 'before-write' } };
    const [plain, fenced] = [(await run({ ...input, strategy: 'safe' })).summary, (await run({ ...input, strategy: 'safe-fenced' })).summary];
    expect(plain.counters.staleWritesAccepted).toBeGreaterThan(0);
    expect(fenced.counters.staleWritesRejected).toBeGreaterThan(0);
    expect(fenced.counters.staleWritesAccepted).toBe(0);
    expect(fenced.violations).toBe(0);
    expect(fenced.counters.lostUpdates).toBe(0);
  });

  it('touches only keys under its prefix, and leaves none behind', async () => {
    const prefix = 'lockscope:sim:';
    await redis.client.set('lock:unrelated', 'keep-me');
    await redis.client.set('lockscope:simulation', 'keep-me-too');
    await redis.client.set('lockscope:sim', 'no-colon-not-ours');
    const monitor = await redis.client.duplicate().monitor();
    const touched = new Set<string>();
    monitor.on('monitor', (_t: string, args: string[]) => {
      const cmd = args[0]!.toLowerCase();
      if (['set', 'setnx', 'get', 'del', 'unlink', 'pttl', 'pexpire', 'incr'].includes(cmd)) args.slice(1, cmd === 'unlink' ? undefined : 2).forEach((k) => touched.add(k));
      if (cmd === 'evalsha' || cmd === 'eval') args.slice(3, 3 + Number(args[2])).forEach((k) => touched.add(k));
    });
    const { summary } = await run({
      ...hostile,
      strategy: 'safe-fenced',
      durationMs: 800,
      faults: { crashProb: 0.1, respawnDelayMs: 100 },
    });
    // Also the unsafe strategies' scripts and the stuck-lock fault.
    await run({ ...hostile, strategy: 'setnx-expire', durationMs: 600, faults: { crashBetweenProb: 0.2, respawnDelayMs: 100 } });
    await run({ ...hostile, strategy: 'set-nx-ex-renew', durationMs: 600 });
    monitor.disconnect();
    expect(summary.acquisitions).toBeGreaterThan(0);
    const outside = [...touched].filter((k) => !k.startsWith(prefix) && !k.startsWith('lock:unrelated'));
    expect(touched.size).toBeGreaterThan(3);
    expect(outside).toEqual([]);
    expect(await redis.client.get('lock:unrelated')).toBe('keep-me');
    expect(await redis.client.get('lockscope:simulation')).toBe('keep-me-too');
    expect(await redis.client.get('lockscope:sim')).toBe('no-colon-not-ours');
    expect((await redis.client.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000))[1]).toEqual([]);
    await redis.client.del('lock:unrelated', 'lockscope:simulation', 'lockscope:sim');
  });

  it('runs 200 workers, each on its own Redis connection, without violations', async () => {
    const { summary } = await run(
      { strategy: 'safe', workers: 200, resources: 50, durationMs: 5000, ttlMs: 1000, holdMs: 5, thinkMs: 5, statsIntervalMs: 250 },
      async (_sim, stats) => {
        await waitFor(() => stats.at(-1)?.workersAlive === 200, '200 workers to be up');
        const clients = (await redis.client.client('LIST')) as string;
        expect(clients.split('\n').filter((l) => /name=lockscope:sim:w\d+ /.test(l)).length).toBe(200);
        await waitFor(() => (stats.at(-1)?.acquisitions ?? 0) > 2000, 'work to happen', 5000);
      },
    );
    expect(summary.violations).toBe(0);
    expect(summary.perWorkerMin).toBeGreaterThan(0);
    expect(summary.fairness).toBeGreaterThan(0.5);
    // Connections are closed after the run.
    await waitFor(async () => !/name=lockscope:sim:w/.test((await redis.client.client('LIST')) as string), 'worker connections to close');
  });

  it('keeps every run under lockscope:sim: — a prefix elsewhere (lock:, bull:) is refused, by the schema and by the run itself', () => {
    for (const keyPrefix of ['lock:', 'bull:', 'lockscope:', 'lockscope:simx:', 'lockscope:sim:a:b:', 'lockscope:sim:*:', 'lockscope:sim']) {
      const parsed = parseSimConfig({ keyPrefix });
      expect(parsed.ok, keyPrefix).toBe(false);
      expect(!parsed.ok && parsed.problems.join(' ')).toContain('always live under lockscope:sim:');
    }
    expect(parseSimConfig({ keyPrefix: 'lockscope:sim:ci-42:' })).toMatchObject({ ok: true, config: { keyPrefix: 'lockscope:sim:ci-42:' } });
    // A config built by hand does not get around the schema: the run deletes its keys at start and stop.
    expect(() => new Simulation({ ...defaultSimConfig(), keyPrefix: 'lock:' }, { redisUrl: redis.url })).toThrow(/lockscope:sim:/);
  });

  it('sends live stats at ≥ 1 Hz: statsIntervalMs above 1000 is refused', () => {
    expect(parseSimConfig({ statsIntervalMs: 5000 })).toMatchObject({ ok: false, problems: ['statsIntervalMs: must be at most 1000 ms'] });
    expect(parseSimConfig({ statsIntervalMs: 1000 }).ok).toBe(true);
  });

  it('deletes only its own lock and fencing keys: other keys under lockscope:sim: and a sub-prefixed run’s keys survive', async () => {
    const survivors = {
      'lock:important': 'keep',
      'bull:queue:1': 'keep',
      'lockscope:sim:notes': 'not a run key',
      'lockscope:sim:lock:r5:extra': 'not a run key either',
      'lockscope:sim:ci-1:lock:r0': 'another run’s lock',
    };
    for (const [k, v] of Object.entries(survivors)) await redis.client.set(k, v);
    const { summary } = await run({ ...hostile, strategy: 'safe-fenced', durationMs: 500, faults: {} });
    expect(summary.acquisitions).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(survivors)) expect(await redis.client.get(k), k).toBe(v);

    // A run under its own name keeps to it, and leaves the root's and everyone else's keys alone.
    await redis.client.set(lockKey('lockscope:sim:', 0), 'a root run’s lock');
    const named = await run({ ...hostile, strategy: 'setnx-expire', durationMs: 500, faults: {}, keyPrefix: 'lockscope:sim:ci-2:' });
    expect(named.summary.acquisitions).toBeGreaterThan(0);
    expect(await redis.client.get(lockKey('lockscope:sim:', 0))).toBe('a root run’s lock');
    for (const [k, v] of Object.entries(survivors)) expect(await redis.client.get(k), k).toBe(v);
    expect((await redis.client.scan('0', 'MATCH', 'lockscope:sim:ci-2:*', 'COUNT', 10_000))[1]).toEqual([]);
    await redis.client.del(...Object.keys(survivors), lockKey('lockscope:sim:', 0));
  });

  it('safe: counts a release refused after the lock had already expired locally as refused by the owner check', async () => {
    // Redis stops answering writes (CLIENT PAUSE WRITE) while the worker holds the lock: the watchdog's renewals
    // time out, the library sees the lock expire (reason 'expired'), and the release that gets through once the
    // pause is over finds the key expired and is refused.
    const conn = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    conn.on('error', () => {});
    try {
      const checker = new Checker(1);
      const strategy = createStrategy({
        redis: conn,
        timers: new Freezer(),
        config: defaultSimConfig({ strategy: 'safe', resources: 1, ttlMs: 300 }),
        checker,
        stop: new AbortController().signal,
        crash: () => {
          throw new Error('no crash in this test');
        },
        nextTag: () => 'unused',
      });
      let wrote = true;
      const outcome = await strategy.run(0, async (holding) => {
        await redis.client.call('CLIENT', 'PAUSE', '700', 'WRITE');
        await sleep(650);
        wrote = holding.mayWrite();
      });
      expect(outcome).toBe('done');
      expect(wrote).toBe(false);
      expect(checker.counters.refusedByOwnerCheck).toBe(1);
      expect(await redis.client.exists(lockKey('lockscope:sim:', 0))).toBe(0);
    } finally {
      conn.disconnect();
    }
  });

  it('stuckLocksNow covers every resource, also beyond the first 2000', async () => {
    const key = lockKey('lockscope:sim:', 2400);
    await run({ strategy: 'safe', workers: 1, resources: 2500, durationMs: 10_000, holdMs: 1, thinkMs: 50, statsIntervalMs: 100 }, async (_sim, stats) => {
      await redis.client.set(key, 'stuck-by-hand'); // no TTL
      await waitFor(() => stats.at(-1)?.stuckLocksNow === 1, 'the lock without TTL at resource 2400 to be counted', 3000);
      await redis.client.del(key);
      await waitFor(() => stats.at(-1)?.stuckLocksNow === 0, 'it to leave the count once it is gone', 3000);
    });
  });

  it('slow Redis: the delaying proxy really slows every round trip, and the simulator’s workers go through it', async () => {
    const roundTrip = async (url: string) => {
      const c = new Redis(url, { maxRetriesPerRequest: 1 });
      try {
        await c.ping();
        const times: number[] = [];
        for (let i = 0; i < 9; i++) {
          const t0 = performance.now();
          await c.ping();
          times.push(performance.now() - t0);
        }
        return times.sort((a, b) => a - b)[4]!;
      } finally {
        c.disconnect();
      }
    };
    const slow = await startSlowProxy(redis.url, { prob: 1, delayMs: 40 });
    const passThrough = await startSlowProxy(redis.url, { prob: 0, delayMs: 40 });
    try {
      const [direct, through, slowed] = [await roundTrip(redis.url), await roundTrip(passThrough.url), await roundTrip(slow.url)];
      // 40 ms each way.
      expect(slowed).toBeGreaterThanOrEqual(78);
      expect(slowed).toBeLessThan(400);
      expect(direct).toBeLessThan(30);
      expect(through).toBeLessThan(30);
    } finally {
      await slow.close();
      await passThrough.close();
    }
    // In a run: every acquire is at least one slowed round trip (SET, 2 × 30 ms).
    const base: SimConfigInput = { strategy: 'safe', workers: 1, resources: 1, durationMs: 1000, holdMs: 0, thinkMs: 0, statsIntervalMs: 500 };
    const fast = (await run(base)).summary;
    const slowRun = (await run({ ...base, faults: { slowProb: 1, slowMs: 30 } })).summary;
    expect(slowRun.waitMs.p50).toBeGreaterThanOrEqual(55);
    expect(fast.waitMs.p50).toBeLessThan(20);
    // Acquire + release is ≥ 2 slowed round trips: at most ~8 a second, against hundreds direct.
    expect(slowRun.acquisitions).toBeLessThanOrEqual(10);
    expect(fast.acquisitions).toBeGreaterThan(5 * slowRun.acquisitions);
  });

  it('set-nx-ex-renew: the renewal loop stops with the release — no PEXPIRE reaches a key after its DEL', async () => {
    const sha = (script: string) => createHash('sha1').update(script).digest('hex');
    const kinds = new Map([
      [sha(DEL_REPORTING), 'del'],
      [DEL_REPORTING, 'del'],
      [sha(PEXPIRE_REPORTING), 'renew'],
      [PEXPIRE_REPORTING, 'renew'],
    ]);
    const key = lockKey('lockscope:sim:', 0);
    const monitor = await redis.client.duplicate().monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_t: string, args: string[], source: string) => {
      if (source === 'lua') return; // the scripts' own GET / DEL / PEXPIRE
      const cmd = args[0]!.toLowerCase();
      if (cmd === 'set' && args[1] === key) seen.push('set');
      else if ((cmd === 'evalsha' || cmd === 'eval') && args[3] === key) seen.push(kinds.get(args[1]!) ?? `other:${cmd}`);
      else if (cmd === 'pexpire' || cmd === 'expire') seen.push('plain-expire');
    });
    // Renewals every 20 ms while holding 70 ms; 60 ms between a release and the next SET, so a renewal that
    // outlived the release would land in that gap.
    const { summary } = await run({
      strategy: 'set-nx-ex-renew',
      workers: 1,
      resources: 1,
      durationMs: 1200,
      ttlMs: 90,
      renewIntervalMs: 20,
      holdMs: 70,
      holdDistribution: 'fixed',
      thinkMs: 60,
    });
    await sleep(200);
    monitor.disconnect();
    expect(summary.acquisitions).toBeGreaterThanOrEqual(5);
    expect(seen.filter((s) => s === 'renew').length).toBeGreaterThanOrEqual(2 * summary.acquisitions - 2);
    expect(seen.filter((s) => s === 'del').length).toBeGreaterThanOrEqual(summary.acquisitions - 1);
    const afterDel = seen.flatMap((s, i) => (seen[i - 1] === 'del' ? [s] : []));
    expect(new Set(afterDel)).toEqual(new Set(['set']));
    expect(seen.filter((s) => s.startsWith('other') || s === 'plain-expire')).toEqual([]);
  });
});
