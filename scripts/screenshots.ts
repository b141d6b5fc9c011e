/**
 * `npm run screenshots`: boots lockscope against a private Redis with an admin token and the simulator, seeds
 * locks the way real libraries write them (some renewing, some stuck), logs in as an operator would, and saves the
 * README's screenshots to docs/, light and dark: the table with its admin actions, the table filtered to locks that
 * need attention, the detail panel with a renewal sawtooth, a 1024-px laptop screen with the details open, the
 * audit log after a force-release and a set-TTL, the contention simulator running, a semaphore's holders in the
 * detail panel, the table after Redis restarted without persistence (every lock lost); then a second lockscope
 * watching four deployments (one fine, one with a managed-Redis user, one down, one whose user may not SCAN) for
 * the target switcher and the blind state; a Sentinel group (master, replica, three sentinels) whose master is
 * killed: the failover in the header; a Redis Cluster of three masters, one of them killed; and three lockscope
 * replicas whose leader was killed: a follower's lease card.
 */
import { chromium, type BrowserContext, type Page } from '@playwright/test';
import { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import { CHROMIUM_ARGS } from '../playwright.config';
import { logIn, setTtlFromDialog } from '../e2e/support/admin';
import { startLockscope } from '../e2e/support/lockscope';
import { freePort, startEmbeddedRedis } from '../server/src/redis/embedded-redis';
import { startTestSentinel } from '../server/test/support/sentinel';
import { startTestCluster } from '../server/test/support/cluster';

const out = new URL('../docs/', import.meta.url).pathname;
const ADMIN_TOKEN = 'screenshots-admin-token-0123456789';
const uuid = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const hex = (n: number) => Array.from({ length: 32 }, (_, i) => ((n * 7 + i * 13) % 16).toString(16)).join('');
// `npm run screenshots -- sentinel`: only the Sentinel failover shots.
if (process.argv.includes('sentinel')) {
  await sentinelFailover();
  process.exit(0);
}
// `npm run screenshots -- replicas`: only the replicas shots.
if (process.argv.includes('replicas')) {
  await severalReplicas();
  process.exit(0);
}
const lockscope = await startLockscope({ HELD_TOO_LONG_MS: '3600000', ADMIN_TOKEN, SIMULATOR: '1' });

const r = lockscope.redis;

// Redisson (hash: "<client uuid>:<thread id>" → re-entry count), renewed by its watchdog.
await r.hset('orders:checkout-lock:{42}', `${uuid}:57`, 2);
await r.pexpire('orders:checkout-lock:{42}', 30_000);
await r.hset('inventory:reserve-lock:{sku-8812}', `${uuid}:91`, 1);
await r.pexpire('inventory:reserve-lock:{sku-8812}', 30_000);
// BullMQ job locks: one renewed, one whose worker stopped renewing (overdue after 1.5 × 7.5 s).
await r.set('bull:thumbnails:88:lock', 'd9428888-122b-11e1-b85c-61cd3cbb3210:1', 'PX', 30_000);
await r.set('bull:emails:1337:lock', 'a1b2c3d4-122b-11e1-b85c-61cd3cbb3210:3', 'PX', 30_000);
// ShedLock, held for over an hour.
await r.set('job-lock:default:nightly-report', `ADDED:${new Date(Date.now() - 75 * 60_000).toISOString()}@batch-host-3:${uuid}`, 'PX', 7_200_000);
// redlock-style tokens.
await r.set('lock:payments:settlement-run', hex(1), 'PX', 5_000);
await r.set('lock:payments:refund-991', hex(2), 'PX', 8_000);
// Leases of a few minutes, long enough to outlast the screenshots.
for (let i = 0; i < 12; i++) await r.set(`lock:tenant-${100 + i * 7}:sync`, hex(10 + i), 'PX', 120_000 + i * 40_000);
await r.set('cache:invoice-lock:7', hex(3), 'PX', 300_000);
// The classic stuck locks: SET NX without an expiry, holder gone.
await r.set('lock:inventory:sku-2231', 'crashed-worker-7');
await r.set('lock:migrations', 'deploy-2291@ci-runner-4');
// A cache warm-up lock left behind by a crashed deploy: the audit-log shot force-releases it.
await r.set('lock:cache:warmup', 'deploy-2288@ci-runner-2');
// sidekiq-unique-jobs (a hash of job id → time taken) and a long lease.
await r.hset('uniquejobs:6e47a2b1f3c8d9e0:LOCKED', 'b8f2c3a1d4e5f60718293a4b', String(Date.now() / 1000 - 400));
await r.pexpire('uniquejobs:6e47a2b1f3c8d9e0:LOCKED', 900_000);
// python-redis-lock with a binary token.
await r.set('lock:reports', Buffer.from([0x8f, 0x12, 0xee, 0x01, 0x77, 0x9a, 0x10, 0x44, 0x5e, 0xa0, 0x0b, 0xc3, 0x7d, 0x02, 0x61, 0xf9]), 'EX', 900);

// redis-semaphore (the real library): a pool of four holders, each refreshing itself; and a Redisson permit-expirable
// semaphore whose job died holding a permit (its lease ran out, Redisson has not reclaimed it).
const semaphoreClient = new Redis(lockscope.redisUrl);
const pool = [0, 1, 2, 3].map(() => new Semaphore(semaphoreClient, 'render-pool', 6, { lockTimeout: 30_000, onLockLost: () => {} }));
for (const s of pool) await s.acquire();
await r.set('export-semaphore', 1);
const permit = (n: number) => Buffer.from(Array.from({ length: 16 }, (_, i) => (n * 37 + i * 11) % 256));
await r.zadd('{export-semaphore}:timeout', Date.now() - 95_000, permit(1), Date.now() + 600_000, permit(2));

const timers = [
  setInterval(() => void r.pexpire('orders:checkout-lock:{42}', 30_000), 1_000),
  setInterval(() => void r.pexpire('inventory:reserve-lock:{sku-8812}', 30_000), 1_500),
  setInterval(() => void r.pexpire('bull:thumbnails:88:lock', 30_000), 2_000),
  // The sawtooth of the detail shot: a 5 s lease renewed every 2.5 s.
  setInterval(() => void r.pexpire('lock:payments:settlement-run', 5_000), 2_500),
  setInterval(() => void r.pexpire('lock:payments:refund-991', 8_000), 3_000),
];

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
type Scheme = 'light' | 'dark';
const contexts = new Map<Scheme, BrowserContext>();

/** One browser context per colour scheme, logged in as admin (the session cookie is shared by its pages). */
async function context(scheme: Scheme): Promise<BrowserContext> {
  let ctx = contexts.get(scheme);
  if (ctx) return ctx;
  ctx = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.goto(lockscope.url);
  await logIn(page, ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Log out' }).waitFor();
  await page.close();
  contexts.set(scheme, ctx);
  return ctx;
}

async function open(scheme: Scheme, path: string, width: number, height: number): Promise<Page> {
  const page = await (await context(scheme)).newPage();
  await page.setViewportSize({ width, height });
  await page.goto(`${lockscope.url}${path}`);
  return page;
}

async function save(page: Page, name: string, scheme: Scheme): Promise<void> {
  // Let countdowns tick and charts draw.
  await page.waitForTimeout(600);
  const file = `lockscope-${name}-${scheme}.png`.replace('lockscope-table-', 'lockscope-');
  await page.screenshot({ path: `${out}${file}` });
  console.log(`saved docs/${file}`);
  await page.close();
}

async function shot(scheme: Scheme, name: string, path: string, width: number, prepare: (page: Page) => Promise<void>): Promise<void> {
  const page = await open(scheme, path, width, width < 1280 ? 768 : 800);
  await page.getByRole('table', { name: 'Locks' }).getByRole('row').nth(1).waitFor();
  await prepare(page);
  await save(page, name, scheme);
}

const settlementId = Buffer.from('lock:payments:settlement-run').toString('base64');
const semaphoreId = Buffer.from('semaphore:render-pool').toString('base64');
const timeline = (page: Page) => page.getByRole('complementary', { name: 'Lock details' }).getByRole('list', { name: 'Event timeline' }).waitFor();

/** What the audit log shot shows: an operator force-releases the stale warm-up lock and puts a TTL on a stuck one. */
async function actAsOperator(): Promise<void> {
  const page = await open('light', '/?q=lock%3Acache%3Awarmup', 1280, 800);
  await page.getByRole('button', { name: 'Force release lock:cache:warmup' }).click();
  const dialog = page.getByRole('dialog', { name: 'Force release lock' });
  await dialog.getByLabel(/Reason/).fill('deploy-2288 crashed during warm-up; INC-4471');
  await dialog.getByRole('button', { name: 'Force release' }).click();
  await dialog.getByRole('status').waitFor();
  await dialog.getByRole('button', { name: 'Close', exact: true }).click();
  await page.getByRole('searchbox', { name: 'Filter by key or owner' }).fill('lock:migrations');
  await setTtlFromDialog(page, page.locator('body'), 'lock:migrations', '900', 'runner-4 gone; let it expire if nobody renews');
  await page.close();
}

try {
  await context('light');
  await context('dark');
  // Let the renewals build a history and the unrenewed BullMQ lock become overdue (after 1.5 × 7.5 s).
  await new Promise((resolve) => setTimeout(resolve, 12_000));
  // The table shots first, while the unrenewed BullMQ lock is overdue but has not expired yet.
  for (const scheme of ['light', 'dark'] as const) {
    await shot(scheme, 'table', '/', 1280, async () => {});
    await shot(scheme, 'stuck', '/', 1280, async (page) => {
      await page.getByRole('button', { name: /Needs attention/ }).click();
    });
  }
  for (const scheme of ['light', 'dark'] as const) {
    await shot(scheme, 'detail', `/?lock=${encodeURIComponent(settlementId)}`, 1280, timeline);
    await shot(scheme, 'detail-1024', `/?lock=${encodeURIComponent(settlementId)}`, 1024, timeline);
    await shot(scheme, 'semaphore', `/?lock=${encodeURIComponent(semaphoreId)}`, 1280, (page) =>
      page.getByRole('complementary', { name: 'Lock details' }).getByRole('list', { name: 'Holders' }).waitFor(),
    );
  }
  await actAsOperator();
  for (const scheme of ['light', 'dark'] as const) {
    const page = await open(scheme, '/?view=audit', 1280, 800);
    await page.getByRole('table', { name: 'Audit log' }).getByRole('row').nth(2).waitFor();
    await save(page, 'audit', scheme);
  }
  // The simulator: workers racing for a few resources with SETNX+EXPIRE, crashing now and then.
  const sim = await open('light', '/', 1280, 800);
  await sim.getByRole('button', { name: 'Show simulator' }).click();
  await sim.getByLabel('Duration (s)').fill('60');
  await sim.getByLabel('Strategy').selectOption('setnx-expire');
  await sim.getByLabel('Crash probability').fill('0.05');
  await sim.getByLabel('Crash between SETNX/EXPIRE').fill('0.2');
  await sim.getByRole('button', { name: 'Start' }).click();
  await sim.waitForTimeout(8_000);
  // The panel scrolls within itself: show its live stats and charts rather than the settings.
  const showStats = (page: Page) => page.getByLabel('Simulator stats').evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await showStats(sim);
  await save(sim, 'simulator', 'light');
  const simDark = await open('dark', '/', 1280, 800);
  await simDark.getByRole('button', { name: 'Show simulator' }).click();
  await simDark.waitForTimeout(3_000);
  await showStats(simDark);
  await save(simDark, 'simulator', 'dark');
  const stop = await open('light', '/', 1280, 800);
  await stop.getByRole('button', { name: 'Show simulator' }).click();
  await stop.getByRole('button', { name: 'Stop', exact: true }).click();
  await stop.getByRole('button', { name: 'Stop', exact: true }).and(stop.locator(':disabled')).waitFor();
  await stop.close();

  // Redis restarts without persistence: every lock its holders still think they hold is gone.
  await lockscope.stopRedis();
  await lockscope.startRedisAgain();
  for (const scheme of ['light', 'dark'] as const) {
    await shot(scheme, 'restart', `/?lock=${encodeURIComponent(settlementId)}&state=lost`, 1280, async (page) => {
      await page.getByTestId('restart-banner').getByText(/gone/).waitFor({ timeout: 15_000 });
    });
  }
  await severalTargets();
  await sentinelFailover();
  await aCluster();
  await severalReplicas();
} finally {
  for (const t of timers) clearInterval(t);
  await Promise.all(pool.map((s) => s.release().catch(() => {})));
  semaphoreClient.disconnect();
  await browser.close();
  await lockscope.stop();
}

/**
 * Four deployments in one dashboard: `eu` (all permissions), `us` (a managed-Redis user: no INFO, CONFIG or
 * channels, so polling and a restart marker), `ap-south` (unreachable) and `reporting` (a user without SCAN: blind).
 */
async function severalTargets(): Promise<void> {
  const [eu, us, reporting] = await Promise.all([startEmbeddedRedis(), startEmbeddedRedis(), startEmbeddedRedis()]);
  const clients = [eu, us, reporting].map((x) => new Redis(x.url, { maxRetriesPerRequest: 1 }));
  const [euC, usC, repC] = clients as [Redis, Redis, Redis];
  const down = await freePort();
  await usC.call('ACL', 'SETUSER', 'app', 'on', '>app-secret', '+@all', '-@dangerous', '~*');
  await repC.call('ACL', 'SETUSER', 'reader', 'on', '>reader-secret', '+@all', '-scan', '~*', '&*');
  for (let i = 0; i < 9; i++) await euC.set(`lock:eu:orders:${4100 + i}`, hex(40 + i), 'PX', 120_000 + i * 9_000);
  await euC.set('lock:eu:migrations', 'deploy-3110@ci-runner-1');
  for (let i = 0; i < 4; i++) await usC.set(`bull:us-emails:${770 + i}:lock`, `${uuid.slice(0, 24)}${hex(60 + i).slice(0, 12)}:1`, 'PX', 30_000 + i * 5_000);
  await usC.set('job-lock:default:us-billing', `ADDED:${new Date(Date.now() - 5 * 60_000).toISOString()}@batch-us-2:${uuid}`, 'PX', 3_600_000);
  await repC.set('lock:reports:weekly', hex(77), 'PX', 600_000);
  const several = await startLockscope(
    {
      REDIS_URL: `eu=${eu.url},us=redis://app:app-secret@127.0.0.1:${us.port},ap-south=redis://127.0.0.1:${down},reporting=redis://reader:reader-secret@127.0.0.1:${reporting.port}`,
      CONFIGURE_NOTIFICATIONS: '',
      HELD_TOO_LONG_MS: '3600000',
    },
    { redisUrl: eu.url, waitFor: 'listening' },
  );
  try {
    for (const scheme of ['light', 'dark'] as const) {
      const ctx = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      await page.goto(`${several.url}/?target=us`);
      await page.getByRole('table', { name: 'Locks' }).getByRole('row').nth(4).waitFor();
      await page.getByTestId('capability-banner').getByText('What this costs').click();
      await save(page, 'targets', scheme);
      const blind = await ctx.newPage();
      await blind.goto(`${several.url}/?target=reporting`);
      await blind.getByTestId('blind-banner').waitFor();
      await save(blind, 'blind', scheme);
      await ctx.close();
    }
  } finally {
    await several.stop();
    for (const c of clients) c.disconnect();
    await Promise.all([eu.stop(), us.stop(), reporting.stop()]);
  }
}

/**
 * A Sentinel group whose master dies right after a payment job took its lock: the sentinels promote the replica,
 * lockscope follows it, and the lock the replica never received ends lost. The replica had no keyspace
 * notifications, and lockscope may not set them: it polls the new master, and says so.
 */
async function sentinelFailover(): Promise<void> {
  const group = await startTestSentinel();
  const master = group.nodeClient(group.master.port);
  await master.hset('orders:checkout-lock:{42}', `${uuid}:57`, 1);
  await master.pexpire('orders:checkout-lock:{42}', 30_000);
  await master.set('bull:thumbnails:88:lock', 'd9428888-122b-11e1-b85c-61cd3cbb3210:1', 'PX', 30_000);
  for (let i = 0; i < 6; i++) await master.set(`lock:tenant-${100 + i * 7}:sync`, hex(10 + i), 'PX', 120_000 + i * 40_000);
  await master.set('lock:migrations', 'deploy-2291@ci-runner-4');
  await master.call('WAIT', 1, 2000);
  const own = await startLockscope(
    { REDIS_URL: '', REDIS_SENTINELS: group.sentinelAddresses, REDIS_SENTINEL_MASTER: group.masterName, CONFIGURE_NOTIFICATIONS: '', HELD_TOO_LONG_MS: '3600000' },
    { redisUrl: group.master.url },
  );
  const renew = setInterval(() => void group.client.pexpire('orders:checkout-lock:{42}', 30_000).catch(() => {}), 1_000);
  const shots = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    // Taken on the old master a moment before it dies: the replica never receives it.
    await group.setOnMasterOnly('lock:payments:settlement-run', hex(1), 60_000);
    await new Promise((r) => setTimeout(r, 500));
    await group.failover();
    for (const scheme of ['light', 'dark'] as const) {
      const page = await (await shots.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 800 } })).newPage();
      await page.goto(own.url);
      await page.getByTestId('failover-polling').waitFor({ timeout: 15_000 });
      await page.waitForTimeout(600);
      await page.screenshot({ path: `${out}lockscope-sentinel-${scheme}.png` });
      console.log(`saved docs/lockscope-sentinel-${scheme}.png`);
    }
  } finally {
    clearInterval(renew);
    await shots.close();
    await own.stop();
    await group.stop();
  }
}

/**
 * A Redis Cluster of three masters (no replicas, so that one killed stays down): locks on every master with the
 * node holding each, then one master killed — its node down in the header, its locks shown as last seen.
 */
async function aCluster(): Promise<void> {
  const cluster = await startTestCluster({ replicasPerMaster: 0 });
  const c = cluster.client;
  let own: Awaited<ReturnType<typeof startLockscope>> | null = null;
  try {
    for (let i = 0; i < 6; i++) await c.set(`lock:orders:${5120 + i * 37}`, hex(90 + i), 'PX', 180_000 + i * 20_000);
    for (let i = 0; i < 4; i++) await c.set(`bull:invoices:${880 + i}:lock`, `${uuid.slice(0, 24)}${hex(70 + i).slice(0, 12)}:1`, 'PX', 30_000);
    await c.hset('inventory:reserve-lock:{sku-4471}', `${uuid}:12`, 1);
    await c.pexpire('inventory:reserve-lock:{sku-4471}', 30_000);
    await c.set('job-lock:default:ledger-close', `ADDED:${new Date(Date.now() - 4 * 60_000).toISOString()}@batch-eu-1:${uuid}`, 'PX', 3_600_000);
    await c.set('lock:migrations:eu', 'deploy-4120@ci-runner-3');
    own = await startLockscope({ HELD_TOO_LONG_MS: '3600000' }, { redisUrl: cluster.masters()[0]!.url });
    await cluster.kill(cluster.masterOf('lock:migrations:eu').port);
    for (const scheme of ['light', 'dark'] as const) {
      const ctx = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      await page.goto(`${own.url}/?sort=node`);
      await page.getByRole('list', { name: 'Redis nodes' }).getByText('down').waitFor({ timeout: 15_000 });
      await save(page, 'cluster', scheme);
      await ctx.close();
    }
  } finally {
    await own?.stop();
    await cluster.stop();
  }
}

/**
 * Three lockscope replicas on one Redis; the first (the leader) is killed with SIGKILL and another takes over: a
 * browser on the remaining follower, its replica item open on the lease (holder, term 2, one transition).
 */
async function severalReplicas(): Promise<void> {
  const redis = await startEmbeddedRedis();
  const c = new Redis(redis.url);
  const env = { LEASE_MS: '3000', HELD_TOO_LONG_MS: '3600000' };
  const replicas: Awaited<ReturnType<typeof startLockscope>>[] = [];
  // A browser of its own: `npm run screenshots -- replicas` runs this alone.
  const own = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    for (let i = 0; i < 8; i++) await c.set(`lock:orders:${7100 + i * 13}`, hex(40 + i), 'PX', 240_000 + i * 30_000);
    await c.set('bull:payouts:311:lock', `${uuid.slice(0, 24)}${hex(5).slice(0, 12)}:1`, 'PX', 30_000);
    await c.set('lock:migrations:payments', 'deploy-5120@ci-runner-1');
    const renew = setInterval(() => void c.pexpire('bull:payouts:311:lock', 30_000), 2_000);
    replicas.push(await startLockscope(env, { redisUrl: redis.url }));
    replicas.push(await startLockscope(env, { redisUrl: redis.url }), await startLockscope(env, { redisUrl: redis.url }));
    const roleOf = async (url: string) =>
      ((await (await fetch(`${url}/healthz`)).json()) as { targets: { replication: { role: string } | null }[] }).targets[0]!.replication?.role;
    await replicas[0]!.killServer();
    let follower: string | null = null;
    for (let i = 0; i < 100 && !follower; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const roles = await Promise.all(replicas.slice(1).map((x) => roleOf(x.url)));
      if (roles.includes('leader') && roles.includes('follower')) follower = replicas[1 + roles.indexOf('follower')]!.url;
    }
    if (!follower) throw new Error('no new leader after the kill');
    for (const scheme of ['light', 'dark'] as const) {
      const ctx = await own.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      await page.goto(follower);
      await page.getByTestId('replica-role').filter({ hasText: 'follower' }).click();
      await page.getByTestId('lease-card').getByText('Transitions').waitFor();
      await save(page, 'replicas', scheme);
      await ctx.close();
    }
    clearInterval(renew);
  } finally {
    await own.close();
    for (const x of replicas) await x.stop();
    c.disconnect();
    await redis.stop();
  }
}
