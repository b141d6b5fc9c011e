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
    await expect(dashboard.row('lock:e2e-keys:a')).toHaveAttribute('aria-current', 'true');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await expect(dashboard.row('lock:e2e-keys:c')).toHaveAttribute('aria-current', 'true');
    await page.keyboard.press('ArrowDown'); // stays on the last row
    await page.keyboard.press('ArrowUp');
    await expect(dashboard.row('lock:e2e-keys:b')).toHaveAttribute('aria-current', 'true');
    await expect(dashboard.row('lock:e2e-keys:c')).not.toHaveAttribute('aria-current');
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
    await expect(dashboard.row('lock:e2e-keys:a')).toHaveAttribute('aria-current', 'true');
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
    await expect(dashboard.row('lock:e2e-scroll:299')).toHaveAttribute('aria-current', 'true');
    await expect(dashboard.row('lock:e2e-scroll:299')).toBeInViewport();
    await page.keyboard.press('Home');
    await expect(dashboard.row('lock:e2e-scroll:000')).toBeInViewport();
    for (let i = 0; i < 30; i++) await page.keyboard.press('ArrowDown');
    await expect(dashboard.row('lock:e2e-scroll:030')).toHaveAttribute('aria-current', 'true');
    await expect(dashboard.row('lock:e2e-scroll:030')).toBeInViewport();
  });

  test('arrows pressed on a state chip move focus to the row, so Enter opens it instead of toggling the chip', async ({ lockscope, dashboard, page }) => {
    await lockscope.redis.set('lock:e2e-chipkeys:stuck', 'crashed');
    await dashboard.open('/?q=e2e-chipkeys');
    const needs = dashboard.summary.getByRole('button', { name: /Needs attention/ });
    await needs.click();
    await expect(needs).toHaveAttribute('aria-pressed', 'true');
    await page.keyboard.press('ArrowDown');
    await expect(dashboard.row('lock:e2e-chipkeys:stuck')).toHaveAttribute('aria-current', 'true');
    await expect(dashboard.row('lock:e2e-chipkeys:stuck').getByRole('button', { name: 'lock:e2e-chipkeys:stuck', exact: true })).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(dashboard.detail.getByTestId('detail-key')).toHaveText('lock:e2e-chipkeys:stuck');
    await expect(needs).toHaveAttribute('aria-pressed', 'true');
  });

  test('Esc in the filter box keeps the filter: it leaves the box and closes the details', async ({ lockscope, dashboard, page }) => {
    await lockscope.redis.set('lock:e2e-esc:a', 'w', 'PX', 60_000);
    await dashboard.open('/');
    await page.keyboard.press('/');
    await page.keyboard.type('e2e-esc');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expect(dashboard.detail).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(dashboard.detail).toBeHidden();
    await expect(dashboard.filter).not.toBeFocused();
    await expect(dashboard.filter).toHaveValue('e2e-esc');
    await expect(page).toHaveURL(/[?&]q=e2e-esc(&|$)/);
    await expect(dashboard.rows).toHaveCount(1);
  });

  test('after a mouse choice in the theme switch or the library menu, arrows go to the table', async ({ lockscope, dashboard, page }) => {
    await page.emulateMedia({ colorScheme: 'light' });
    for (const k of ['a', 'b']) await lockscope.redis.set(`lock:e2e-mouse:${k}`, `w-${k}`, 'PX', 60_000);
    await dashboard.open('/?q=e2e-mouse&sort=key&dir=asc');
    await page.getByRole('radio', { name: 'Dark' }).click();
    await page.keyboard.press('ArrowDown');
    await expect(dashboard.row('lock:e2e-mouse:a')).toHaveAttribute('aria-current', 'true');
    await expect(page.getByRole('radio', { name: 'Dark' })).toBeChecked();

    // Open the drop-down with the mouse and pick "generic" (the first library) in it.
    const library = page.getByRole('combobox', { name: 'Library' });
    await library.click();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expect(library).toHaveValue('generic');
    await expect(dashboard.row('lock:e2e-mouse:a')).toHaveAttribute('aria-current', 'true');
    await page.keyboard.press('ArrowDown');
    await expect(dashboard.row('lock:e2e-mouse:b')).toHaveAttribute('aria-current', 'true');
    // Focus follows the selection on the frame that shows it: wait for it, as a user would see it land.
    await expect(dashboard.row('lock:e2e-mouse:b').getByRole('button', { name: 'lock:e2e-mouse:b', exact: true })).toBeFocused();
    await expect(library).toHaveValue('generic');

    // Reached with the keyboard, the select keeps its arrows.
    await library.focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    await expect(library).toBeFocused();
    await page.keyboard.press('ArrowUp');
    await expect(library).toHaveValue('');
    await expect(dashboard.row('lock:e2e-mouse:b')).toHaveAttribute('aria-current', 'true');
  });

  test('focus moved right after an arrow key stays where it was moved: the row does not take it back a frame later', async ({ lockscope, dashboard, page }) => {
    for (const k of ['a', 'b']) await lockscope.redis.set(`lock:e2e-race:${k}`, `w-${k}`, 'PX', 60_000);
    await dashboard.open('/?q=e2e-race&sort=key&dir=asc');
    await expect(dashboard.rows).toHaveCount(2);
    // ↓ selects the first row, whose focus waits for the frame that renders it; the operator tabs on before it.
    await page.evaluate(() => {
      window.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown' }));
      document.getElementById('library-filter')!.focus();
    });
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          let frames = 0;
          const next = () => (++frames > 8 ? resolve() : requestAnimationFrame(next));
          requestAnimationFrame(next);
        }),
    );
    await expect(dashboard.row('lock:e2e-race:a')).toHaveAttribute('aria-current', 'true');
    await expect(page.getByRole('combobox', { name: 'Library' })).toBeFocused();
  });

  test('Locks and Audit log are tabs: arrows switch them and the view is in the URL', async ({ dashboard, page }) => {
    await dashboard.open('/');
    const tabs = page.getByRole('tablist', { name: 'Views' });
    const locksTab = tabs.getByRole('tab', { name: 'Locks' });
    const auditTab = tabs.getByRole('tab', { name: 'Audit log' });
    await expect(locksTab).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByRole('tabpanel', { name: 'Locks' })).toBeVisible();
    await locksTab.focus();
    await page.keyboard.press('ArrowRight');
    await expect(auditTab).toHaveAttribute('aria-selected', 'true');
    await expect(auditTab).toBeFocused();
    await expect(page.getByRole('tabpanel', { name: 'Audit log' })).toBeVisible();
    await expect(auditTab).toHaveAttribute('aria-controls', (await page.getByRole('tabpanel', { name: 'Audit log' }).getAttribute('id'))!);
    await expect(page).toHaveURL(/[?&]view=audit(&|$)/);
    await page.reload();
    await expect(auditTab).toHaveAttribute('aria-selected', 'true');
    await auditTab.focus();
    await page.keyboard.press('ArrowLeft');
    await expect(locksTab).toHaveAttribute('aria-selected', 'true');
    await expect(page).not.toHaveURL(/view=/);
    await expect(dashboard.table).toBeVisible();
  });
});
