/**
 * `npm run screenshots`: boots lockscope against a private Redis, seeds locks the way real libraries write
 * them, and saves the README's screenshots (light and dark) to docs/.
 */
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config';
import { startLockscope } from '../e2e/support/lockscope';

const out = new URL('../docs/', import.meta.url).pathname;
const lockscope = await startLockscope({ HELD_TOO_LONG_MS: '60000' });
const r = lockscope.redis;
const uuid = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
await r.hset('orders:checkout-lock:{42}', `${uuid}:57`, 2);
await r.pexpire('orders:checkout-lock:{42}', 30_000);
await r.set('bull:emails:1337:lock', 'd9428888-122b-11e1-b85c-61cd3cbb3210:1', 'PX', 30_000);
await r.set('job-lock:default:nightly-report', `ADDED:2026-11-22T13:00:00.000Z@batch-host-3:${uuid}`, 'PX', 600_000);
await r.set('lock:payments:refund-991', 'f3b1a8c2d4e5f60718293a4b5c6d7e8f', 'PX', 8_000);
await r.set('lock:inventory:sku-2231', 'crashed-worker-7');
await r.set('lock:reports', Buffer.from([0x8f, 0x12, 0xee, 0x01, 0x77, 0x9a, 0x10, 0x44, 0x5e, 0xa0, 0x0b, 0xc3, 0x7d, 0x02, 0x61, 0xf9]), 'EX', 45);
await r.set('cache:invoice-lock:7', 'f0e1d2c3b4a5968778695a4b3c2d1e0f', 'PX', 20_000);
// A lock that renews, so the table shows a renewal count.
const renew = setInterval(() => void r.pexpire('orders:checkout-lock:{42}', 30_000), 700);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
try {
  for (const scheme of ['light', 'dark'] as const) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 520 }, colorScheme: scheme });
    await page.goto(lockscope.url);
    await page.getByRole('cell', { name: 'orders:checkout-lock:{42}' }).waitFor();
    await page.waitForTimeout(2500);
    await page.screenshot({ path: `${out}lockscope-${scheme}.png` });
    console.log(`saved docs/lockscope-${scheme}.png`);
    await page.close();
  }
} finally {
  clearInterval(renew);
  await browser.close();
  await lockscope.stop();
}
