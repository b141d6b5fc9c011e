/**
 * UI benchmark: the lock table with 100,000 locks while 1,000 changes a second stream in.
 *
 * Seeds 100k string locks (pipelined SET PX, one-hour TTLs) into the bench's private Redis, starts the real
 * lockscope server against it, opens the built dashboard in Chromium and measures, in the page:
 * - long tasks (`PerformanceObserver({ type: 'longtask' })`: every main-thread task over 50 ms),
 * - frame intervals (requestAnimationFrame deltas),
 * - main-thread busy time (CDP `Performance.getMetrics` TaskDuration),
 * first on the idle page with the full table (baseline), then while this process drives ~1,000 changes/s
 * (pipelined PEXPIRE and SET with a new owner on random keys, loopback only, bounded) for 10 s — with the
 * default sort, sorted by TTL (every renewal moves its row), and with a text filter active.
 * Also reports how long the 100k snapshot (sent in parts) takes to arrive and show, and the long tasks meanwhile
 * (page start-up included).
 *
 * First, page start-up on its own: STARTUP_LOADS first visits (fresh browser context, nothing cached) with an empty
 * table and with 10k locks: the long tasks from navigation until the table is painted and the page has settled, and
 * the bytes transferred for that first paint (HTML, scripts, styles) next to the uncompressed single bundle this page
 * shipped before code splitting and compression (BUNDLE_BEFORE_BYTES). `BENCH_UI_STARTUP_ONLY=1` stops after it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type CDPSession, type Page } from '@playwright/test';
import { Redis } from 'ioredis';
import { CHROMIUM_ARGS } from '../playwright.config';
import { startLockscope } from '../e2e/support/lockscope';
import type { BenchContext } from './run';

const LOCKS = 100_000;
const RATE = 1_000; // changes per second
const PHASE_S = 10;
const TICK_MS = 50;
const TTL_MS = 3_600_000;
const root = fileURLToPath(new URL('..', import.meta.url));
const STARTUP_LOADS = 5;
const STARTUP_LOCKS = 10_000;
/** What the first paint cost before issue 14: index.html, a 441,276-byte script and a 41,633-byte stylesheet, uncompressed. */
const BUNDLE_BEFORE_BYTES = { html: 480, js: 441_276, css: 41_633 };

interface PageStats {
  longTasks: { start: number; duration: number }[];
  frames: number[];
}

interface Diagnostics {
  snapshots: number;
  snapshotLocks: number;
  snapshotParts: number;
  snapshotApplyMs: number;
  snapshotPartMaxMs: number;
  snapshotStartedAt: number;
  snapshotDoneAt: number;
  batches: number;
  upserts: number;
  applyMsTotal: number;
  applyMsMax: number;
  publishes: number;
}

interface Mark {
  end: number;
  busyS: number;
  diag: Diagnostics;
}

/**
 * What the in-page functions below use. This file is compiled with the server's Node-only libs, and those
 * functions run in the browser: they reach the page's globals through this type.
 */
interface PageGlobals {
  __bench: PageStats;
  __lockscope: Diagnostics;
  document: { querySelector(selector: string): { textContent: string | null } | null };
}

const key = (i: number) => `lock:bench:${String(i).padStart(6, '0')}`;

export default async function run(ctx: BenchContext): Promise<void> {
  await ensureClientBuild(ctx.log);
  const redis = new Redis(ctx.redisUrl, { maxRetriesPerRequest: 3 });
  try {
    await startupPhase(ctx, redis);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  // BENCH_UI_STARTUP_ONLY=1: just the start-up figures (a minute, not ten).
  if (process.env.BENCH_UI_STARTUP_ONLY) return void redis.disconnect();
  await redis.flushdb();
  let t = Date.now();
  for (let from = 0; from < LOCKS; from += 10_000) {
    const p = redis.pipeline();
    // Every owner its own random token, as redlock, redis-py and lockscope's own locks have them.
    for (let i = from; i < Math.min(LOCKS, from + 10_000); i++) p.set(key(i), randomBytes(16).toString('hex'), 'PX', TTL_MS);
    await p.exec();
  }
  ctx.log(`seeded ${LOCKS.toLocaleString('en-US')} locks in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  t = Date.now();
  const lockscope = await startLockscope({ LOG_LEVEL: 'warn' }, { redisUrl: ctx.redisUrl, healthTimeoutMs: 180_000 });
  ctx.log(`server up with its first full scan done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.addInitScript({ content: PROBES });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');

    // --- Snapshot load
    t = Date.now();
    await page.goto(lockscope.url);
    await page
      .waitForFunction((n) => (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="lock-count"]')?.textContent === n.toLocaleString('en-US'), LOCKS, {
        timeout: 120_000,
        polling: 50,
      })
      .catch(async (err: Error) => {
        const shown = await page.getByTestId('lock-count').textContent();
        throw new Error(`the table did not reach ${LOCKS} locks (header shows ${shown}; page counters ${JSON.stringify(await diagnostics(page))}): ${err.message}`);
      });
    await page.getByRole('table', { name: 'Locks' }).locator('tbody tr[data-lock-id]').first().waitFor();
    const loadMs = Date.now() - t;
    const afterLoad = await stats(page);
    const diag0 = await diagnostics(page);
    const loadLong = afterLoad.longTasks.map((l) => l.duration);
    // Long tasks that ended before the first part arrived are the page starting up (script, first render).
    const startup = afterLoad.longTasks.filter((l) => l.start + l.duration <= diag0.snapshotStartedAt).map((l) => l.duration);
    const parts = afterLoad.longTasks.filter((l) => l.start + l.duration > diag0.snapshotStartedAt).map((l) => l.duration);
    ctx.log(
      `snapshot: ${LOCKS.toLocaleString('en-US')} locks on screen ${(loadMs / 1000).toFixed(2)} s after navigation; ` +
        `applying it to the model took ${diag0.snapshotApplyMs.toFixed(0)} ms in ${diag0.snapshotParts} parts (longest ${fmt(diag0.snapshotPartMaxMs)} ms); ` +
        `longest task during load ${fmt(Math.max(0, ...loadLong))} ms (${loadLong.length} long tasks, ${fmt(sum(loadLong))} ms in total)`,
    );
    ctx.log(
      `  of which page start-up (before the first part, ${(diag0.snapshotStartedAt / 1000).toFixed(2)} s after navigation): ` +
        `${startup.length} long tasks, longest ${fmt(Math.max(0, ...startup))} ms; ` +
        `while the ${diag0.snapshotParts} parts arrived (${((diag0.snapshotDoneAt - diag0.snapshotStartedAt) / 1000).toFixed(2)} s) and after: ` +
        `${parts.length} long tasks, longest ${parts.length ? `${fmt(Math.max(...parts))} ms` : '—'}`,
    );
    ctx.log(`page JS heap after load: ${(await heapMb(cdp)).toFixed(0)} MB`);
    await page.waitForTimeout(1000);

    // --- Baseline: the same page and table, idle
    const idle = await measure(page, cdp, () => new Promise((r) => setTimeout(r, PHASE_S * 1000)));
    report(ctx, 'idle (baseline)', idle, null);

    // --- 1,000 changes/s, default sort (state, then key)
    const drive = () => driveChanges(redis);
    const busy = await measure(page, cdp, drive);
    report(ctx, `${RATE}/s, default sort`, busy, idle);

    // --- Sorted by TTL: every renewal moves its row (binary-search remove + insert)
    const sortStart = await now(page);
    await page.getByRole('columnheader', { name: 'TTL', exact: true }).getByRole('button').click();
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('th[aria-sort="ascending"]')?.textContent?.includes('TTL'));
    await page.waitForTimeout(300);
    const sortTasks = (await stats(page)).longTasks.filter((l) => l.start >= sortStart).map((l) => l.duration);
    ctx.log(`re-sort of ${LOCKS.toLocaleString('en-US')} rows by TTL (click): longest task ${fmt(Math.max(0, ...sortTasks))} ms`);
    const sorted = await measure(page, cdp, drive);
    report(ctx, `${RATE}/s, sorted by TTL`, sorted, idle);

    // --- Sorting by owner: 100k distinct tokens to order as strings
    const ownerStart = await now(page);
    await page.getByRole('columnheader', { name: 'Owner', exact: true }).getByRole('button').click();
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('th[aria-sort="ascending"]')?.textContent?.includes('Owner'));
    await page.waitForTimeout(300);
    const ownerTasks = (await stats(page)).longTasks.filter((l) => l.start >= ownerStart).map((l) => l.duration);
    ctx.log(`re-sort of ${LOCKS.toLocaleString('en-US')} rows by owner (as many distinct tokens): longest task ${fmt(Math.max(0, ...ownerTasks))} ms`);
    await page.getByRole('columnheader', { name: 'TTL', exact: true }).getByRole('button').click();
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('th[aria-sort="ascending"]')?.textContent?.includes('TTL'));

    // --- A text filter active: the filtered rows are maintained per change too
    const filterStart = await now(page);
    await page.getByRole('searchbox', { name: 'Filter by key or owner' }).fill('bench:01');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="shown-count"]')?.textContent?.includes('match'));
    await page.waitForTimeout(300);
    const filterTasks = (await stats(page)).longTasks.filter((l) => l.start >= filterStart).map((l) => l.duration);
    ctx.log(`applying a text filter to ${LOCKS.toLocaleString('en-US')} rows: longest task ${fmt(Math.max(0, ...filterTasks))} ms`);
    const filtered = await measure(page, cdp, drive);
    report(ctx, `${RATE}/s, text filter`, filtered, idle);

    const all = [busy, sorted, filtered];
    const worst = Math.max(...all.map((w) => Math.max(0, ...w.longTasks)));
    const over = all.reduce((n, w) => n + w.longTasks.length, 0);
    ctx.log(`RESULT under load: max long task ${worst ? `${fmt(worst)} ms` : 'none (no task over 50 ms)'}, ${over} task(s) over 50 ms in ${all.length * PHASE_S} s`);
  } finally {
    await browser.close();
    await lockscope.stop();
    redis.disconnect();
  }
}

/** Page start-up with an empty table, then with STARTUP_LOCKS locks, each over STARTUP_LOADS first visits. */
async function startupPhase(ctx: BenchContext, redis: Redis): Promise<void> {
  const lockscope = await startLockscope({ LOG_LEVEL: 'warn' }, { redisUrl: ctx.redisUrl });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    for (const locks of [0, STARTUP_LOCKS]) {
      if (locks) {
        const p = redis.pipeline();
        for (let i = 0; i < locks; i++) p.set(`lock:startup:${String(i).padStart(5, '0')}`, randomBytes(16).toString('hex'), 'PX', TTL_MS);
        await p.exec();
        await waitForCount(lockscope.url, locks);
      }
      const loads: StartupLoad[] = [];
      for (let i = 0; i < STARTUP_LOADS; i++) loads.push(await startupLoad(browser, lockscope.url, locks));
      reportStartup(ctx, locks ? `${locks.toLocaleString('en-US')} locks` : 'empty table', loads);
    }
  } finally {
    await browser.close();
    await lockscope.stop();
  }
}

interface StartupLoad {
  /** Long tasks from navigation until the table was painted and the page settled (ms each). */
  longTasks: number[];
  /** ms from navigation to the table painted (rows, or the empty-table message). */
  paintedMs: number;
  /** Bytes on the wire (headers included) and decoded, by kind, of responses finished by the first paint. */
  firstPaint: Record<'html' | 'js' | 'css' | 'other', { wire: number; decoded: number; count: number }>;
  /** Bytes on the wire of what loaded after the first paint (chunks loaded on demand or prefetched). */
  laterWire: number;
  contentEncodings: Set<string>;
}

/** One first visit: a fresh context (empty cache), the table painted, then 1.5 s to settle. */
async function startupLoad(browser: Browser, url: string, locks: number): Promise<StartupLoad> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.addInitScript({ content: PROBES });
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const requests = new Map<string, { type: string; encoding: string; decoded: number }>();
    const finished: { id: string; at: number; wire: number }[] = [];
    cdp.on('Network.responseReceived', (e) => {
      const encoding = Object.entries(e.response.headers).find(([k]) => k.toLowerCase() === 'content-encoding')?.[1] ?? 'identity';
      requests.set(e.requestId, { type: e.type, encoding, decoded: 0 });
    });
    cdp.on('Network.dataReceived', (e) => {
      const r = requests.get(e.requestId);
      if (r) r.decoded += e.dataLength;
    });
    cdp.on('Network.loadingFinished', (e) => finished.push({ id: e.requestId, at: Date.now(), wire: e.encodedDataLength }));
    const started = Date.now();
    await page.goto(url);
    await page.waitForFunction(
      (n) => {
        const g = globalThis as unknown as PageGlobals;
        const painted = n ? g.document.querySelector('tbody tr[data-lock-id]') : g.document.querySelector('[data-testid="lock-table-scroll"] p');
        return g.__lockscope?.snapshots >= 1 && painted !== null && g.document.querySelector('[data-testid="lock-count"]')?.textContent === n.toLocaleString('en-US');
      },
      locks,
      { timeout: 60_000, polling: 'raf' },
    );
    const paintedAt = Date.now();
    await page.waitForTimeout(1500);
    const { longTasks } = await stats(page);
    const firstPaint = { html: zero(), js: zero(), css: zero(), other: zero() };
    let laterWire = 0;
    const contentEncodings = new Set<string>();
    for (const f of finished) {
      const r = requests.get(f.id);
      if (!r) continue;
      if (f.at > paintedAt) {
        laterWire += f.wire;
        continue;
      }
      const kind = r.type === 'Document' ? 'html' : r.type === 'Script' ? 'js' : r.type === 'Stylesheet' ? 'css' : 'other';
      firstPaint[kind].wire += f.wire;
      firstPaint[kind].decoded += r.decoded;
      firstPaint[kind].count++;
      if (kind !== 'other') contentEncodings.add(`${kind}:${r.encoding}`);
    }
    return { longTasks: longTasks.map((l) => l.duration), paintedMs: paintedAt - started, firstPaint, laterWire, contentEncodings };
  } finally {
    await context.close();
  }
}

const zero = () => ({ wire: 0, decoded: 0, count: 0 });

function reportStartup(ctx: BenchContext, name: string, loads: StartupLoad[]): void {
  const all = loads.flatMap((l) => l.longTasks);
  const perLoadMax = loads.map((l) => Math.max(0, ...l.longTasks));
  const painted = loads.map((l) => l.paintedMs).sort((a, b) => a - b);
  ctx.log(
    `start-up, ${name} (${loads.length} first visits): long tasks >50 ms: ${all.length} (longest per visit: ${perLoadMax.map((m) => (m ? fmt(m) : '—')).join(', ')} ms); ` +
      `table painted ${painted[Math.floor(painted.length / 2)]} ms after navigation (median)`,
  );
  const fp = loads[0]!.firstPaint;
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  const wire = fp.html.wire + fp.js.wire + fp.css.wire;
  const decoded = fp.html.decoded + fp.js.decoded + fp.css.decoded;
  const before = BUNDLE_BEFORE_BYTES.html + BUNDLE_BEFORE_BYTES.js + BUNDLE_BEFORE_BYTES.css;
  ctx.log(
    `  first paint transferred ${kb(wire)} (HTML ${kb(fp.html.wire)}, ${fp.js.count} script(s) ${kb(fp.js.wire)}, ${fp.css.count} stylesheet(s) ${kb(fp.css.wire)}; ` +
      `${kb(decoded)} decoded) vs ${kb(before)} before (${kb(BUNDLE_BEFORE_BYTES.js)} script + ${kb(BUNDLE_BEFORE_BYTES.css)} stylesheet, uncompressed): ` +
      `×${(wire / before).toFixed(2)}; loaded after it: ${kb(loads[0]!.laterWire)}; encodings ${[...loads[0]!.contentEncodings].sort().join(', ')}`,
  );
}

/** Waits until the server tracks `n` locks (its /metrics), so a page load sees them all in its snapshot. */
async function waitForCount(url: string, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let tracked = 0;
  while (Date.now() < deadline) {
    const text = await (await fetch(`${url}/metrics`)).text();
    tracked = [...text.matchAll(/^lockscope_locks\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    if (tracked >= n) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`lockscope tracked ${tracked} locks, not ${n}, after 60 s`);
}

/**
 * Runs in the page before its scripts: records long tasks and frame intervals. A string, not a function: the
 * TypeScript loader adds helpers to functions (`__name`) that do not exist in the page.
 */
const PROBES = `
  window.__bench = { longTasks: [], frames: [] };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__bench.longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
  let last = 0;
  const frame = (ts) => {
    if (last) window.__bench.frames.push(ts - last);
    last = ts;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
`;

interface Measured {
  longTasks: number[];
  frames: number[];
  busyFraction: number;
  seconds: number;
  upserts: number;
  batches: number;
  applyMs: number;
  renders: number;
  /** Full snapshots received during the phase (the server re-sends one to a client it found too slow). */
  snapshots: number;
}

async function measure(page: Page, cdp: CDPSession, during: () => Promise<unknown>): Promise<Measured> {
  const a = await mark(page, cdp);
  await page.evaluate(() => {
    (globalThis as unknown as PageGlobals).__bench.frames.length = 0;
  });
  await during();
  const b = await mark(page, cdp);
  const s = await stats(page);
  const seconds = (b.end - a.end) / 1000;
  return {
    longTasks: s.longTasks.filter((l) => l.start >= a.end && l.start < b.end).map((l) => l.duration),
    frames: s.frames,
    busyFraction: (b.busyS - a.busyS) / seconds,
    seconds,
    upserts: b.diag.upserts - a.diag.upserts,
    batches: b.diag.batches - a.diag.batches,
    applyMs: b.diag.applyMsTotal - a.diag.applyMsTotal,
    renders: b.diag.publishes - a.diag.publishes,
    snapshots: b.diag.snapshots - a.diag.snapshots,
  };
}

async function mark(page: Page, cdp: CDPSession): Promise<Mark> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const busyS = metrics.find((m) => m.name === 'TaskDuration')?.value ?? 0;
  return { end: await now(page), busyS, diag: await diagnostics(page) };
}

function report(ctx: BenchContext, name: string, m: Measured, base: Measured | null): void {
  const f = [...m.frames].sort((x, y) => x - y);
  const p = (q: number) => f[Math.min(f.length - 1, Math.floor(q * f.length))] ?? 0;
  const slow = f.filter((x) => x > 50).length;
  const maxLong = Math.max(0, ...m.longTasks);
  const fps = f.length / m.seconds;
  ctx.log(
    `${name.padEnd(22)} long tasks >50 ms: ${m.longTasks.length} (max ${maxLong ? `${fmt(maxLong)} ms` : '—'}) | ` +
      `main thread busy ${(m.busyFraction * 100).toFixed(1)}% | frames ${fps.toFixed(0)}/s, p50 ${fmt(p(0.5))} ms, p99 ${fmt(p(0.99))} ms, max ${fmt(f[f.length - 1] ?? 0)} ms, ${slow} over 50 ms`,
  );
  if (m.batches) {
    ctx.log(
      `${''.padEnd(22)} page applied ${m.upserts.toLocaleString('en-US')} changed locks (${(m.upserts / m.seconds).toFixed(0)}/s) in ${m.batches} batches, ` +
        `${m.renders} renders; model time ${fmt(m.applyMs)} ms total, ${fmt(m.applyMs / m.batches)} ms per batch` +
        (m.snapshots ? `; ${m.snapshots} full snapshot(s) re-sent by the server` : ''),
    );
  }
  if (base) {
    const ratio = (x: number, y: number) => (y > 0 ? `×${(x / y).toFixed(2)}` : 'n/a');
    const bf = [...base.frames].sort((x, y) => x - y);
    const bp99 = bf[Math.min(bf.length - 1, Math.floor(0.99 * bf.length))] ?? 0;
    ctx.log(
      `${''.padEnd(22)} vs idle baseline: busy ${ratio(m.busyFraction, base.busyFraction)}, frame p99 ${ratio(p(0.99), bp99)}, ` +
        `long tasks ${m.longTasks.length} vs ${base.longTasks.length}`,
    );
  }
}

/** ~RATE changes a second for PHASE_S seconds on random keys: 80% renewals (PEXPIRE), 20% new owners (SET). */
async function driveChanges(redis: Redis): Promise<void> {
  const started = Date.now();
  const total = RATE * PHASE_S;
  let sent = 0;
  let n = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * RATE) + RATE / (1000 / TICK_MS));
    const p = redis.pipeline();
    for (; sent < due; sent++) {
      const k = key(Math.floor(Math.random() * LOCKS));
      if (Math.random() < 0.8) p.pexpire(k, TTL_MS);
      else p.set(k, `worker-${n++ % 512}@bench-host-2`, 'PX', TTL_MS);
    }
    await p.exec();
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  // Let the last batches reach the page.
  await new Promise((r) => setTimeout(r, 300));
}

async function stats(page: Page): Promise<PageStats> {
  return page.evaluate(() => {
    const b = (globalThis as unknown as PageGlobals).__bench;
    return { longTasks: [...b.longTasks], frames: [...b.frames] };
  });
}

async function diagnostics(page: Page): Promise<Diagnostics> {
  return page.evaluate(() => ({ ...(globalThis as unknown as PageGlobals).__lockscope }));
}

const now = (page: Page) => page.evaluate(() => performance.now());

async function heapMb(cdp: CDPSession): Promise<number> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  return (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0) / 1024 / 1024;
}

const fmt = (ms: number) => ms.toFixed(ms < 10 ? 1 : 0);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  return st.isDirectory() ? Math.max(st.mtimeMs, ...readdirSync(path).map((e) => newest(join(path, e)))) : st.mtimeMs;
}

/** The server serves client/dist: build it when missing or older than its sources. */
async function ensureClientBuild(log: (line: string) => void): Promise<void> {
  const built = join(root, 'client', 'dist', 'index.html');
  const sources = Math.max(...['client/src', 'client/index.html', 'shared'].map((s) => newest(join(root, s))));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  log('building the dashboard…');
  const { build } = await import('vite');
  await build({ configFile: join(root, 'client', 'vite.config.ts'), logLevel: 'warn' });
}
