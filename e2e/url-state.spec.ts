import { expect, test } from './support/fixtures';
import { lockId } from './support/dashboard';

test.describe('shareable URL', () => {
  test('filter, sort and the selected lock are in the URL and survive a reload', async ({ lockscope, dashboard, page }) => {
    const r = lockscope.redis;
    await r.set('lock:e2e-url:stuck', 'crashed');
    await r.set('lock:e2e-url:a', 'worker-a', 'PX', 50_000);
    await r.set('lock:e2e-url:b', 'worker-b', 'PX', 40_000);
    await dashboard.open('/');
    await dashboard.filter.fill('e2e-url');
    await dashboard.sortBy('TTL');
    await dashboard.row('lock:e2e-url:a').click();
    await expect(dashboard.detail.getByTestId('detail-key')).toHaveText('lock:e2e-url:a');
    await expect(page).toHaveURL(new RegExp(`\\?q=e2e-url&sort=ttl&dir=asc&lock=${encodeURIComponent(lockId('lock:e2e-url:a'))}$`));

    await page.reload();
    await expect(dashboard.filter).toHaveValue('e2e-url');
    await expect(dashboard.columnHeader('TTL')).toHaveAttribute('aria-sort', 'ascending');
    await expect.poll(() => dashboard.keys()).toEqual(['lock:e2e-url:b', 'lock:e2e-url:a', 'lock:e2e-url:stuck']);
    await expect(dashboard.row('lock:e2e-url:a')).toHaveAttribute('aria-current', 'true');
    await expect(dashboard.detail.getByTestId('detail-key')).toHaveText('lock:e2e-url:a');
  });

  test('a link with state and library filters opens filtered', async ({ lockscope, dashboard }) => {
    await lockscope.redis.set('lock:e2e-link:stuck', 'crashed');
    await lockscope.redis.set('lock:e2e-link:fine', 'worker', 'PX', 60_000);
    await dashboard.open('/?q=e2e-link&state=no-ttl&lib=generic');
    await expect(dashboard.chip('no TTL (stuck)')).toHaveAttribute('aria-pressed', 'true');
    await expect(dashboard.page.getByRole('combobox', { name: 'Library' })).toHaveValue('generic');
    await expect(dashboard.rows).toHaveCount(1);
    await expect(dashboard.row('lock:e2e-link:stuck')).toBeVisible();
  });

  test('closing the details takes the lock out of the URL, so a reload does not reopen it', async ({ lockscope, dashboard, page }) => {
    await lockscope.redis.set('lock:e2e-close:a', 'worker-a', 'PX', 60_000);
    await dashboard.open(`/?q=e2e-close&lock=${encodeURIComponent(lockId('lock:e2e-close:a'))}`);
    await expect(dashboard.detail.getByTestId('detail-key')).toHaveText('lock:e2e-close:a');
    await page.keyboard.press('Escape');
    await expect(dashboard.detail).toBeHidden();
    await expect(page).toHaveURL(/\?q=e2e-close$/);
    // Still selected in this page: Enter opens it again.
    await expect(dashboard.row('lock:e2e-close:a')).toHaveAttribute('aria-current', 'true');
    await page.reload();
    await expect(dashboard.row('lock:e2e-close:a')).toBeVisible();
    await expect(dashboard.detail).toBeHidden();
  });
});

