import { expect, test } from './support/fixtures';
import { Dashboard, lockId } from './support/dashboard';
import { startLockscope } from './support/lockscope';

test.describe('live lock table', () => {
  test('a lock taken in Redis appears with its owner and a falling TTL, then leaves when released', async ({ lockscope, locks }) => {
    await locks.open('/');
    await lockscope.redis.set('lock:e2e:invoice-7', 'worker-17@host-a', 'PX', 30_000);

    const row = locks.row('lock:e2e:invoice-7');
    await expect(row).toBeVisible();
    await expect(row.getByRole('cell', { name: 'worker-17@host-a' })).toBeVisible();
    const first = await locks.ttlMs('lock:e2e:invoice-7');
    expect(first).toBeGreaterThan(25_000);
    expect(first).toBeLessThanOrEqual(30_000);
    // Counts down in the browser between server updates.
    await expect.poll(() => locks.ttlMs('lock:e2e:invoice-7')).toBeLessThan(first - 500);

    await lockscope.redis.del('lock:e2e:invoice-7');
    await expect(row).toHaveAttribute('data-state', 'released');
    await expect(row.getByText('released')).toBeVisible();
  });

  test('a lock without TTL is shown as stuck, prominently', async ({ lockscope, locks }) => {
    await lockscope.redis.set('lock:e2e:stuck', 'crashed-between-setnx-and-expire');
    await locks.open('/');
    const row = locks.row('lock:e2e:stuck');
    await expect(row).toHaveAttribute('data-state', 'no-ttl');
    await expect(row.getByText('no TTL', { exact: true })).toBeVisible();
    await expect(row.getByText('no TTL (stuck)')).toBeVisible();
  });

  test('binary keys and owners are shown escaped, as text', async ({ lockscope, locks }) => {
    await lockscope.redis.set(Buffer.from('lock:e2e:bin:\xff\x01', 'latin1'), Buffer.from([0xc3, 0x28, 0x3c, 0x62, 0x3e]), 'PX', 60_000);
    await locks.open('/');
    const row = locks.row('lock:e2e:bin:\\xff\\x01');
    await expect(row).toBeVisible();
    // "<b>" in the owner is rendered as characters, never as markup.
    await expect(row.getByRole('cell', { name: /\\xc3\(<b>/ })).toBeVisible();
    await expect(row.locator('b')).toHaveCount(0);
  });

  test('keys and owners with hidden characters read as what they are: escaped, different, found, copied exactly', async ({ lockscope, dashboard, context, page }) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const r = lockscope.redis;
    await r.set('lock:e2e-hidden:42', 'worker-1', 'PX', 60_000);
    await r.set('lock:e2e-hidden:4\u200b2', 'worker-1', 'PX', 60_000);
    await r.set('lock:e2e-hidden:\u202e24', 'owner-\u202etxt.exe', 'PX', 60_000);
    await dashboard.open('/?q=e2e-hidden&sort=key&dir=asc');
    await expect(dashboard.rows).toHaveCount(3);
    // Three different texts on screen, none of them hiding anything from the reader.
    expect(await dashboard.keys()).toEqual(['lock:e2e-hidden:42', 'lock:e2e-hidden:4\\u{200B}2', 'lock:e2e-hidden:\\u{202E}24']);
    expect(await dashboard.table.textContent()).not.toMatch(/[\u200b\u202e]/);
    const zwsp = dashboard.row('lock:e2e-hidden:4\\u{200B}2');
    const rlo = dashboard.row('lock:e2e-hidden:\\u{202E}24');
    await expect(zwsp.getByTitle(/^U\+200B zero-width space/)).toHaveText('\\u{200B}');
    await expect(rlo.getByTitle(/^U\+202E right-to-left override/).first()).toHaveText('\\u{202E}');
    await expect(rlo.getByRole('cell', { name: 'owner-\\u{202E}txt.exe', exact: true })).toBeVisible();
    await expect(dashboard.row('lock:e2e-hidden:42').getByText('escaped', { exact: true })).toHaveCount(0);
    await expect(zwsp.getByText('escaped', { exact: true })).toBeVisible();

    // The filter finds what is shown: an escape typed out, or a key pasted with its hidden characters.
    await dashboard.filter.fill('\\u{202e}');
    await expect(dashboard.rows).toHaveCount(1);
    await expect(rlo).toBeVisible();
    await dashboard.filter.fill('lock:e2e-hidden:4\u200b2');
    await expect(dashboard.rows).toHaveCount(1);
    await expect(zwsp).toBeVisible();

    // Details say why it reads so, and Copy copies the exact key.
    await zwsp.click();
    await expect(dashboard.detail.getByTestId('detail-key')).toHaveText('lock:e2e-hidden:4\\u{200B}2');
    await expect(dashboard.detail.getByTestId('escape-note')).toBeVisible();
    await dashboard.detail.getByRole('button', { name: 'Copy key', exact: true }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('lock:e2e-hidden:4\u200b2');
  });

  test('a table of 20,000 arrives as a snapshot in parts; sorting and filtering it (in slices) end exact', async ({ page }) => {
    const own = await startLockscope();
    try {
      const N = 20_000;
      const key = (i: number) => `lock:e2e:many:${String(i).padStart(5, '0')}`;
      const p = own.redis.pipeline();
      for (let i = 0; i < N; i++) p.set(key(i), `owner-${i % 7}`, 'PX', 120_000);
      await p.exec();
      const count = page.getByTestId('lock-count');
      await page.goto(own.url);
      await expect(count).toHaveText('20,000', { timeout: 15_000 });
      // Loaded again, now that the server has them all: one snapshot, in parts.
      await page.reload();
      await expect(count).toHaveText('20,000', { timeout: 15_000 });
      const loaded = await page.evaluate(() => (globalThis as unknown as { __lockscope: { snapshotParts: number; snapshotLocks: number } }).__lockscope);
      expect(loaded.snapshotParts).toBeGreaterThanOrEqual(20);
      expect(loaded.snapshotLocks).toBe(N);

      const dashboard = new Dashboard(page);
      await dashboard.sortBy('Key');
      await dashboard.sortBy('Key');
      await expect(dashboard.columnHeader('Key')).toHaveAttribute('aria-sort', 'descending');
      await expect(dashboard.rows.first()).toHaveAttribute('data-lock-id', lockId(key(N - 1)));
      // many:19990 … many:19999, in the order asked for.
      await dashboard.filter.fill('many:1999');
      await expect(page.getByTestId('shown-count')).toHaveText('10 of 20,000 locks match');
      expect(await dashboard.keys()).toEqual(Array.from({ length: 10 }, (_, i) => key(19_999 - i)));
    } finally {
      await own.stop();
    }
  });

  test('a banner says so when Redis goes away, the header shows the target and feed, and locks a restart wiped show as lost', async ({ page, locks }) => {
    const own = await startLockscope();
    try {
      await page.goto(own.url);
      await expect(page.getByTestId('redis-state')).toHaveText('ready');
      await expect(page.getByTestId('feed-mode')).toHaveText('notifications');
      await expect(page.getByTestId('redis-target')).toContainText('redis://127.0.0.1:');
      await own.redis.set('lock:e2e:before-restart', 'worker-1', 'PX', 60_000);
      await expect(locks.row('lock:e2e:before-restart')).toHaveAttribute('data-state', 'held');
      await own.stopRedis();
      await expect(page.getByRole('alert')).toContainText('Redis is', { timeout: 10_000 });

      // It comes back empty (a restart without persistence): the lock its holder still thinks it has is lost.
      await own.startRedisAgain();
      await expect(locks.row('lock:e2e:before-restart')).toHaveAttribute('data-state', 'lost', { timeout: 10_000 });
      const banner = page.getByTestId('restart-banner');
      await expect(banner).toContainText('Redis restarted or failed over at');
      await expect(banner).toContainText('1 lock held before it is gone');
      await expect(page.getByRole('button', { name: /lost in Redis restart/ })).toContainText('1');
      await banner.getByRole('button', { name: 'Dismiss' }).click();
      await expect(banner).toBeHidden();
    } finally {
      await own.stop();
    }
  });
});
