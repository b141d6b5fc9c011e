import type { Page } from '@playwright/test';
import { logIn as logInWith, setTtlFromDialog } from './support/admin';
import { expect, test } from './support/fixtures';
import { startLockscope, type RunningLockscope } from './support/lockscope';

const TOKEN = 'e2e-layout-token-0123456789';
const LONG_KEY = 'lock:e2e-layout:tenant-eu-west-1:service-billing-reconciliation';

async function logIn(page: Page): Promise<void> {
  await logInWith(page, TOKEN);
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
}

/** Horizontal extents of the rendered text in each cell of a row, left to right. */
function cellTextBoxes(page: Page, key: string) {
  return page.evaluate((k) => {
    const row = [...document.querySelectorAll('tr[data-lock-id]')].find((tr) => tr.querySelector('td')?.textContent?.includes(k))!;
    return [...row.querySelectorAll('td')].map((td) => {
      const range = document.createRange();
      range.selectNodeContents(td);
      const text = range.getBoundingClientRect();
      const cell = td.getBoundingClientRect();
      return { text: td.textContent ?? '', left: text.left, right: text.right, cellLeft: cell.left, cellRight: cell.right, clipped: td.scrollWidth > td.clientWidth };
    });
  }, key);
}

test.describe('lock table layout with admin actions', () => {
  let own: RunningLockscope;
  test.beforeEach(async () => {
    own = await startLockscope({ ADMIN_TOKEN: TOKEN });
  });
  test.afterEach(async () => {
    await own.stop();
  });

  test('at 1024 px with the details open, the key stays readable and long TTLs do not run into each other', async ({ page, dashboard }) => {
    await page.setViewportSize({ width: 1024, height: 768 });
    await own.redis.set(LONG_KEY, 'worker-17@host-a', 'PX', 700_000);
    await own.redis.set('lock:e2e-layout:stuck', 'crashed');
    await page.goto(own.url);
    await logIn(page);
    await dashboard.filter.fill('e2e-layout');
    await dashboard.row(LONG_KEY).click();
    await expect(dashboard.detail).toBeVisible();
    // The panel has the buttons; the row keeps only its bulk-select box.
    await expect(dashboard.detail.getByRole('button', { name: `Force release ${LONG_KEY}` })).toBeVisible();
    await expect(dashboard.row(LONG_KEY).getByRole('checkbox', { name: `Select ${LONG_KEY} for bulk release` })).toBeVisible();
    await expect(dashboard.table.getByRole('button', { name: /^Force release/ })).toHaveCount(0);
    const key = dashboard.row(LONG_KEY).getByRole('button', { name: LONG_KEY });
    expect((await key.boundingBox())!.width).toBeGreaterThan(150);

    // TTL ("11m 39s") and held-for sit inside their own cells.
    const cells = await cellTextBoxes(page, LONG_KEY);
    const [ttl, held] = [cells[3]!, cells[4]!];
    expect(ttl.text).toMatch(/^1[01]m \d\ds$/);
    for (const c of [ttl, held]) {
      expect(c.clipped).toBe(false);
      expect(c.left).toBeGreaterThanOrEqual(c.cellLeft);
      expect(c.right).toBeLessThanOrEqual(c.cellRight);
    }
    expect(held.left - ttl.right).toBeGreaterThanOrEqual(12);

    // Without the panel the table still fits the window: no sideways scrolling at 1024.
    await page.keyboard.press('Escape');
    await expect(dashboard.detail).toBeHidden();
    const overflow = await page.getByTestId('lock-table-scroll').evaluate((el) => el.scrollWidth - el.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });

  test('row buttons: only the current row is in the Tab order, and arrows still work from them', async ({ page, dashboard }) => {
    for (const k of ['a', 'b']) await own.redis.set(`lock:e2e-tab:${k}`, `crashed-${k}`);
    await page.goto(own.url);
    await logIn(page);
    await dashboard.filter.fill('e2e-tab');
    await page.keyboard.press('ArrowDown');
    await expect(dashboard.row('lock:e2e-tab:a')).toHaveAttribute('aria-current', 'true');
    await expect(dashboard.row('lock:e2e-tab:a').getByRole('button', { name: 'Force release lock:e2e-tab:a' })).toHaveAttribute('tabindex', '0');
    await expect(dashboard.row('lock:e2e-tab:b').getByRole('button', { name: 'Force release lock:e2e-tab:b' })).toHaveAttribute('tabindex', '-1');
    await dashboard.row('lock:e2e-tab:a').getByRole('button', { name: 'Force release lock:e2e-tab:a' }).focus();
    await page.keyboard.press('ArrowDown');
    await expect(dashboard.row('lock:e2e-tab:b')).toHaveAttribute('aria-current', 'true');
    await expect(dashboard.row('lock:e2e-tab:b').getByRole('button', { name: 'lock:e2e-tab:b', exact: true })).toBeFocused();
  });

  test('a key in the audit log opens that lock in the table', async ({ page, dashboard }) => {
    await own.redis.set('lock:e2e-audit-link', 'holder-1');
    await page.goto(own.url);
    await logIn(page);
    await setTtlFromDialog(page, dashboard.row('lock:e2e-audit-link'), 'lock:e2e-audit-link', '600', 'holder gone');

    await page.getByRole('tab', { name: 'Audit log' }).click();
    const entry = page.getByRole('table', { name: 'Audit log' }).getByRole('row').filter({ hasText: 'lock:e2e-audit-link' });
    // Today's entries show a 24-hour time without the date.
    await expect(entry.locator('time')).toHaveText(/^\d\d:\d\d:\d\d$/);
    await entry.getByRole('button', { name: 'lock:e2e-audit-link' }).click();
    await expect(page.getByRole('tab', { name: 'Locks' })).toHaveAttribute('aria-selected', 'true');
    await expect(dashboard.detail.getByTestId('detail-key')).toHaveText('lock:e2e-audit-link');
    await expect(dashboard.row('lock:e2e-audit-link')).toHaveAttribute('aria-current', 'true');
  });
});

test('the header stays on one line at 1024 px, Redis target in full, read-only as a short badge with its reason', async ({ page, lockscope }) => {
  await page.setViewportSize({ width: 1024, height: 768 });
  await page.goto(lockscope.url);
  const header = page.getByRole('banner');
  await expect(page.getByTestId('admin-status')).toHaveText(/^Read-only/);
  const readOnly = page.getByRole('button', { name: 'Read-only' });
  await expect(readOnly).toHaveAccessibleDescription(/ADMIN_TOKEN/);
  expect((await header.boundingBox())!.height).toBeLessThan(50);
  const target = page.getByTestId('redis-target');
  await expect(target).toHaveText(lockscope.redisUrl.replace(/\/$/, ''));
  expect(await target.evaluate((el) => el.scrollWidth <= el.clientWidth && el.parentElement!.scrollWidth <= el.parentElement!.clientWidth)).toBe(true);
  await readOnly.click();
  await expect(page.getByText(/^No admin actions: .*ADMIN_TOKEN/)).toBeVisible();
});

test('changing the filter or the sort starts the table at the top', async ({ lockscope, dashboard, page }) => {
  const pipeline = lockscope.redis.pipeline();
  for (let i = 0; i < 200; i++) pipeline.set(`lock:e2e-top:${String(i).padStart(3, '0')}`, 'w', 'PX', 60_000 + i * 100);
  await pipeline.exec();
  await dashboard.open('/?q=e2e-top&sort=key&dir=asc');
  await expect(page.getByTestId('shown-count')).toContainText('200');
  const scroller = page.getByTestId('lock-table-scroll');
  await page.keyboard.press('End');
  await expect.poll(() => scroller.evaluate((el) => el.scrollTop)).toBeGreaterThan(1000);
  await dashboard.sortBy('TTL');
  await expect.poll(() => scroller.evaluate((el) => el.scrollTop)).toBe(0);
  await page.keyboard.press('End');
  await expect.poll(() => scroller.evaluate((el) => el.scrollTop)).toBeGreaterThan(1000);
  await dashboard.filter.fill('e2e-top:1');
  await expect.poll(() => scroller.evaluate((el) => el.scrollTop)).toBe(0);
});
