import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import { logIn } from './support/admin';
import { Dashboard } from './support/dashboard';
import { expect, test } from './support/fixtures';
import { startLockscope, type RunningLockscope } from './support/lockscope';

const TOKEN = 'e2e-admin-token-0123456789';

test.describe('semaphores and declared formats', () => {
  let own: RunningLockscope;
  let dir: string;
  let clients: Redis[] = [];

  test.beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lockscope-e2e-formats-'));
    const file = join(dir, 'lock-formats.json');
    writeFileSync(file, JSON.stringify({ formats: [{ label: 'billing-locks', keyPattern: 'billing:*', owner: { from: 'regex', pattern: '^(?<host>[^/]+)/(?<pid>\\d+)$' } }] }));
    own = await startLockscope({ ADMIN_TOKEN: TOKEN, LOCK_FORMATS: file });
  });
  test.afterEach(async () => {
    for (const c of clients) c.disconnect();
    clients = [];
    await own.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Three redis-semaphore holders of `semaphore:e2e-pool`, each refreshing itself as the library does. */
  async function threeHolders(): Promise<Semaphore[]> {
    const sems = [0, 1, 2].map(() => {
      const c = new Redis(own.redisUrl);
      clients.push(c);
      return new Semaphore(c, 'e2e-pool', 5, { lockTimeout: 20_000, onLockLost: () => {} });
    });
    for (const s of sems) await s.acquire();
    return sems;
  }

  test('a semaphore is one row with its holders; the details list each with its own expiry, and an operator frees one holder', async ({ page }) => {
    const sems = await threeHolders();
    try {
      const dashboard = new Dashboard(page);
      await dashboard.open(own.url);
      const row = dashboard.row('semaphore:e2e-pool');
      await expect(row.getByTestId('holders-summary')).toHaveText('3 holders');
      await expect(row.getByRole('cell', { name: 'redis-semaphore' })).toBeVisible();
      // Not logged in: no admin action anywhere.
      await expect(row.getByRole('button', { name: /holders of/ })).toHaveCount(0);
      await logIn(page, TOKEN);
      await expect(page.getByTestId('admin-status')).toContainText('Admin');
      // Releasing it whole would take it from all three: the row leads to the holders instead.
      await row.getByRole('button', { name: 'Show the holders of semaphore:e2e-pool' }).click();

      const panel = dashboard.detail;
      await expect(panel.getByRole('heading', { name: /Holders \(3 holders\)/ })).toBeVisible();
      const holders = panel.getByRole('list', { name: 'Holders' }).getByRole('listitem');
      await expect(holders).toHaveCount(3);
      await expect.poll(async () => (await panel.getByTestId('holder-token').allTextContents()).sort()).toEqual(sems.map((s) => s.identifier).sort());
      await expect(holders.first()).toContainText(/expires in \d/);
      await expect(panel.getByText('Each holder renews about every 16 s.')).toBeVisible();
      await expect(panel.getByRole('button', { name: 'Release all 3 holders…' })).toBeVisible();

      const victim = sems[1]!;
      await panel.getByRole('button', { name: `Release holder ${victim.identifier}` }).click();
      const dialog = page.getByRole('dialog', { name: 'Free one holder' });
      await expect(dialog.getByTestId('dialog-owner')).toHaveText(victim.identifier);
      await dialog.getByLabel(/Reason/).fill('worker-2 hung (INC-9001)');
      await dialog.getByRole('button', { name: 'Free this holder' }).click();
      await expect(dialog.getByRole('status')).toHaveText('Released. Freed 1 holder.');
      await dialog.getByRole('button', { name: 'Close', exact: true }).click();

      await expect(holders).toHaveCount(2);
      await expect(row.getByTestId('holders-summary')).toHaveText('2 holders');
      expect((await own.redis.zrange('semaphore:e2e-pool', 0, -1)).sort()).toEqual([sems[0]!.identifier, sems[2]!.identifier].sort());
      await expect(dashboard.timelineItems('holder-force-released')).toHaveCount(1);
      await expect(dashboard.timelineItems('holder-force-released')).toContainText(victim.identifier);
    } finally {
      for (const s of sems) await s.release().catch(() => {});
    }
  });

  test('a declared format shows its label in the Library column and filter', async ({ page }) => {
    await own.redis.set('billing:e2e-invoice-1', 'web-3/4412', 'PX', 60_000);
    await own.redis.set('lock:e2e-other', 'someone', 'PX', 60_000);
    const dashboard = new Dashboard(page);
    await dashboard.open(own.url);
    const row = dashboard.row('billing:e2e-invoice-1');
    await expect(row.getByRole('cell', { name: 'billing-locks', exact: true })).toBeVisible();
    const filter = page.getByRole('combobox', { name: 'Library' });
    await expect(filter.getByRole('option', { name: 'billing-locks (1)' })).toBeAttached();
    await filter.selectOption({ label: 'billing-locks (1)' });
    await expect(dashboard.rows).toHaveCount(1);
    await expect(row).toBeVisible();
    await expect(page).toHaveURL(/lib=declared%3Abilling-locks|lib=declared:billing-locks/);
    await row.click();
    await expect(dashboard.detail.getByText('billing-locks', { exact: true })).toBeVisible();
    await expect(dashboard.detail.getByRole('definition').filter({ hasText: '4412' })).toBeVisible();
  });
});
