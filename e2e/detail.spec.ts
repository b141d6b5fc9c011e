import { expect, test } from './support/fixtures';

test.describe('lock details', () => {
  test('opening a lock shows who holds it, and its timeline and TTL chart grow as it is renewed', async ({ lockscope, dashboard }) => {
    const key = 'orders:e2e-detail-lock:{7}';
    const uuid = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
    // A Redisson lock: a hash of "<client uuid>:<thread id>" → re-entry count.
    await lockscope.redis.hset(key, `${uuid}:57`, 1);
    await lockscope.redis.pexpire(key, 30_000);
    await dashboard.open('/');
    await dashboard.filter.fill('e2e-detail-lock');
    await dashboard.row(key).click();

    const panel = dashboard.detail;
    await expect(panel).toBeVisible();
    await expect(panel.getByTestId('detail-key')).toHaveText(key);
    await expect(panel.getByTestId('detail-owner')).toHaveText(`${uuid}:57`);
    const fields = panel.getByRole('definition').filter({ hasText: uuid });
    await expect(fields.first()).toBeVisible();
    await expect(panel.getByText('Redisson', { exact: true })).toBeVisible();
    await expect(panel.locator('[data-slot="admin-actions"]')).toBeAttached();
    await expect(dashboard.row(key)).toHaveAttribute('aria-current', 'true');
    await expect(dashboard.timelineItems('acquired')).toHaveCount(1);
    await expect(panel.getByTestId('ttl-chart').locator('canvas')).toBeVisible();

    // The watchdog renews: each renewal appears in the timeline (newest first) without reopening the panel.
    for (let n = 1; n <= 3; n++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await lockscope.redis.pexpire(key, 30_000);
      await expect(dashboard.timelineItems('renewed')).toHaveCount(n);
      await expect(panel.getByTestId('detail-renewals')).toHaveText(String(n));
    }
    await expect(dashboard.timelineItems().first()).toHaveAttribute('data-kind', 'renewed');
    await expect(dashboard.timelineItems().last()).toHaveAttribute('data-kind', 'acquired');
    await expect(panel.getByTestId('ttl-chart')).toHaveAttribute('aria-label', /3 renewals/);

    await panel.getByRole('button', { name: 'Close details' }).click();
    await expect(panel).toBeHidden();
  });

  test('copy buttons put the key and the owner token on the clipboard and say so', async ({ lockscope, dashboard, context }) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await lockscope.redis.set('lock:e2e-copy', 'token-1234', 'PX', 60_000);
    await dashboard.open('/');
    await dashboard.filter.fill('e2e-copy');
    await dashboard.row('lock:e2e-copy').click();
    const copyKey = dashboard.detail.getByRole('button', { name: 'Copy key', exact: true });
    await copyKey.click();
    await expect(copyKey).toHaveText('Copied');
    await expect(dashboard.detail.getByRole('status').filter({ hasText: 'Key copied' })).toBeAttached();
    expect(await dashboard.page.evaluate(() => navigator.clipboard.readText())).toBe('lock:e2e-copy');
    await dashboard.detail.getByRole('button', { name: 'Copy owner token' }).click();
    expect(await dashboard.page.evaluate(() => navigator.clipboard.readText())).toBe('token-1234');
  });

  test('at 1024 px the details open over the table and Esc closes them', async ({ lockscope, dashboard, page }) => {
    await page.setViewportSize({ width: 1024, height: 768 });
    await lockscope.redis.set('lock:e2e-narrow', 'worker-1', 'PX', 60_000);
    await dashboard.open('/');
    await dashboard.filter.fill('e2e-narrow');
    await dashboard.row('lock:e2e-narrow').click();
    await expect(dashboard.detail).toBeVisible();
    const panelBox = (await dashboard.detail.boundingBox())!;
    const tableBox = (await dashboard.table.boundingBox())!;
    // An overlay: the table keeps its full width underneath.
    expect(tableBox.width).toBeGreaterThan(1000);
    expect(panelBox.x + panelBox.width).toBeLessThanOrEqual(1024);
    await page.keyboard.press('Escape');
    await expect(dashboard.detail).toBeHidden();
  });
});
