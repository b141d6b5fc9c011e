import { expect, test } from './support/fixtures';

test.describe('keyboard', () => {
  test('/ focuses the filter, arrows move the selection, Enter opens details, Esc closes them', async ({ lockscope, dashboard, page }) => {
    const r = lockscope.redis;
    for (const k of ['a', 'b', 'c']) await r.set(`lock:e2e-keys:${k}`, `worker-${k}`, 'PX', 60_000);
    await dashboard.open('/');
    await dashboard.table.getByRole('row').nth(1).waitFor();

    await page.keyboard.press('/');
    await expect(dashboard.filter).toBeFocused();
    await page.keyboard.type('e2e-keys');
    await expect(dashboard.rows).toHaveCount(3);

    // Arrows work from the filter box too, so typing then ↓ picks a result.
    await page.keyboard.press('ArrowDown');
    await expect(dashboard.row('lock:e2e-keys:a')).toHaveAttribute('aria-selected', 'true');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await expect(dashboard.row('lock:e2e-keys:c')).toHaveAttribute('aria-selected', 'true');
    await page.keyboard.press('ArrowDown'); // stays on the last row
    await page.keyboard.press('ArrowUp');
    await expect(dashboard.row('lock:e2e-keys:b')).toHaveAttribute('aria-selected', 'true');
    await expect(dashboard.row('lock:e2e-keys:c')).toHaveAttribute('aria-selected', 'false');
    await expect(dashboard.detail).toBeHidden();

    await page.keyboard.press('Enter');
    await expect(dashboard.detail.getByTestId('detail-key')).toHaveText('lock:e2e-keys:b');
    // With details open, the selection and the panel move together.
    await page.keyboard.press('ArrowUp');
    await expect(dashboard.detail.getByTestId('detail-key')).toHaveText('lock:e2e-keys:a');

    await page.keyboard.press('Escape');
    await expect(dashboard.detail).toBeHidden();
    await expect(dashboard.filter).not.toBeFocused();
    // Still selected, and the keys keep working with focus outside the filter.
    await expect(dashboard.row('lock:e2e-keys:a')).toHaveAttribute('aria-selected', 'true');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expect(dashboard.detail.getByTestId('detail-key')).toHaveText('lock:e2e-keys:b');
  });

  test('the selection scrolls into view in a long table', async ({ lockscope, dashboard, page }) => {
    const pipeline = lockscope.redis.pipeline();
    for (let i = 0; i < 300; i++) pipeline.set(`lock:e2e-scroll:${String(i).padStart(3, '0')}`, 'w', 'PX', 60_000);
    await pipeline.exec();
    await dashboard.open('/?q=e2e-scroll&sort=key&dir=asc');
    await expect(dashboard.page.getByTestId('shown-count')).toContainText('300');
    // Only rows near the viewport are rendered.
    expect(await dashboard.rows.count()).toBeLessThan(60);
    await page.keyboard.press('End');
    await expect(dashboard.row('lock:e2e-scroll:299')).toHaveAttribute('aria-selected', 'true');
    await expect(dashboard.row('lock:e2e-scroll:299')).toBeInViewport();
    await page.keyboard.press('Home');
    await expect(dashboard.row('lock:e2e-scroll:000')).toBeInViewport();
    for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowDown');
    await expect(dashboard.row('lock:e2e-scroll:030')).toHaveAttribute('aria-selected', 'true');
    await expect(dashboard.row('lock:e2e-scroll:030')).toBeInViewport();
  });
});
