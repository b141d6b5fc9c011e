/**
 * `npm run screenshots`: boots lockscope against a private Redis, seeds locks the way real libraries write
 * them (some renewing, some stuck), and saves the README's screenshots of the main views, light and dark, to
 * docs/: the table, the table filtered to locks that need attention, the detail panel with a renewal sawtooth,
 * and the detail overlay on a 1024-px laptop screen.
 */
import { chromium, type Page } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config';
import { startLockscope } from '../e2e/support/lockscope';

const out = new URL('../docs/', import.meta.url).pathname;
const lockscope = await startLockscope({ HELD_TOO_LONG_MS: '3600000' });
const r = lockscope.redis;
const uuid = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
const hex = (n: number) => Array.from({ length: 32 }, (_, i) => ((n * 7 + i * 13) % 16).toString(16)).join('');

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
for (let i = 0; i < 12; i++) await r.set(`lock:tenant-${100 + i * 7}:sync`, hex(10 + i), 'PX', 20_000 + i * 4_000);
await r.set('cache:invoice-lock:7', hex(3), 'PX', 20_000);
// The classic stuck locks: SET NX without an expiry, holder gone.
await r.set('lock:inventory:sku-2231', 'crashed-worker-7');
await r.set('lock:migrations', 'deploy-2291@ci-runner-4');
// python-redis-lock with a binary token.
await r.set('lock:reports', Buffer.from([0x8f, 0x12, 0xee, 0x01, 0x77, 0x9a, 0x10, 0x44, 0x5e, 0xa0, 0x0b, 0xc3, 0x7d, 0x02, 0x61, 0xf9]), 'EX', 45);

const timers = [
  setInterval(() => void r.pexpire('orders:checkout-lock:{42}', 30_000), 1_000),
  setInterval(() => void r.pexpire('inventory:reserve-lock:{sku-8812}', 30_000), 1_500),
  setInterval(() => void r.pexpire('bull:thumbnails:88:lock', 30_000), 2_000),
  // The sawtooth of the detail shot: a 5 s lease renewed every 2.5 s.
  setInterval(() => void r.pexpire('lock:payments:settlement-run', 5_000), 2_500),
  setInterval(() => void r.pexpire('lock:payments:refund-991', 8_000), 3_000),
];
// Let the renewals build a history and the unrenewed BullMQ lock become overdue.
await new Promise((resolve) => setTimeout(resolve, 13_000));

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });

async function shot(scheme: 'light' | 'dark', name: string, path: string, width: number, prepare: (page: Page) => Promise<void>): Promise<void> {
  const page = await browser.newPage({ viewport: { width, height: 800 }, colorScheme: scheme });
  await page.goto(`${lockscope.url}${path}`);
  await page.getByRole('table', { name: 'Locks' }).getByRole('row').nth(1).waitFor();
  await prepare(page);
  // Let countdowns tick and charts draw.
  await page.waitForTimeout(600);
  const file = `lockscope-${name}${scheme === 'dark' ? '-dark' : '-light'}.png`.replace('lockscope-table-', 'lockscope-');
  await page.screenshot({ path: `${out}${file}` });
  console.log(`saved docs/${file}`);
  await page.close();
}

const settlementId = Buffer.from('lock:payments:settlement-run').toString('base64');
try {
  for (const scheme of ['light', 'dark'] as const) {
    await shot(scheme, 'table', '/', 1280, async () => {});
    await shot(scheme, 'stuck', '/', 1280, async (page) => {
      await page.getByRole('button', { name: /Needs attention/ }).click();
    });
    await shot(scheme, 'detail', `/?lock=${encodeURIComponent(settlementId)}`, 1280, async (page) => {
      await page.getByRole('complementary', { name: 'Lock details' }).getByRole('list', { name: 'Event timeline' }).waitFor();
    });
  }
  await shot('light', 'detail-1024', `/?lock=${encodeURIComponent(settlementId)}`, 1024, async (page) => {
    await page.getByRole('complementary', { name: 'Lock details' }).getByRole('list', { name: 'Event timeline' }).waitFor();
  });
} finally {
  for (const t of timers) clearInterval(t);
  await browser.close();
  await lockscope.stop();
}
