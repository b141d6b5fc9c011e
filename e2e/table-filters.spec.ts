import { expect, test } from './support/fixtures';

/**
 * An operator arrives during an incident and narrows thousands of locks down to the ones that are stuck.
 * Each test seeds its own keys (the worker's Redis is shared) and narrows to them with the text filter first.
 */
test.describe('finding stuck locks', () => {
  test('the summary bar counts locks per state, and a chip filters the table to that state', async ({ lockscope, dashboard, page }) => {
    const r = lockscope.redis;
    await r.set('lock:e2e-chips:stuck-a', 'crashed-worker-1');
    await r.set('lock:e2e-chips:stuck-b', 'crashed-worker-2');
    await r.set('lock:e2e-chips:fine', 'worker-3', 'PX', 60_000);
    await dashboard.open('/');
    await dashboard.filter.fill('e2e-chips');
    await expect(dashboard.rows).toHaveCount(3);

    const stuck = dashboard.chip('no TTL (stuck)');
    await expect(stuck).toHaveAttribute('aria-pressed', 'false');
    await stuck.click();
    await expect(stuck).toHaveAttribute('aria-pressed', 'true');
    await expect(dashboard.rows).toHaveCount(2);
    for (const row of await dashboard.rows.all()) await expect(row).toHaveAttribute('data-state', 'no-ttl');
    await expect(page).toHaveURL(/[?&]state=no-ttl(&|$)/);

    // Clicking again shows every state again.
    await stuck.click();
    await expect(stuck).toHaveAttribute('aria-pressed', 'false');
    await expect(dashboard.rows).toHaveCount(3);

    // "Needs attention" groups every problem state.
    await dashboard.summary.getByRole('button', { name: /Needs attention/ }).click();
    await expect(dashboard.rows).toHaveCount(2);
    await expect(page).toHaveURL(/state=renewal-overdue,no-ttl,held-too-long/);
    await dashboard.summary.getByRole('button', { name: /^All / }).click();
    await expect(dashboard.rows).toHaveCount(3);
  });

  test('the state filter and the library filter narrow the table, and "Clear filters" undoes them', async ({ lockscope, dashboard }) => {
    const r = lockscope.redis;
    await r.set('lock:e2e-sf:stuck', 'crashed');
    // redlock: a 32-hex-digit random token.
    await r.set('lock:e2e-sf:redlock', 'a3f9c2e1b4d5968778695a4b3c2d1e0f', 'PX', 60_000);
    await r.set('lock:e2e-sf:plain', 'worker-9', 'PX', 60_000);
    await dashboard.open('/');
    await dashboard.filter.fill('e2e-sf');
    await expect(dashboard.rows).toHaveCount(3);

    await dashboard.page.getByRole('button', { name: 'State filter' }).click();
    await dashboard.page.getByRole('checkbox', { name: 'no TTL (stuck)' }).check();
    await expect(dashboard.rows).toHaveCount(1);
    await expect(dashboard.row('lock:e2e-sf:stuck')).toBeVisible();
    // The chip shows the same filter.
    await expect(dashboard.chip('no TTL (stuck)')).toHaveAttribute('aria-pressed', 'true');
    await dashboard.page.keyboard.press('Escape');
    await expect(dashboard.page.getByRole('checkbox', { name: 'no TTL (stuck)' })).toBeHidden();

    await dashboard.page.getByRole('button', { name: 'Clear filters' }).first().click();
    await expect(dashboard.filter).toHaveValue('');
    await dashboard.filter.fill('e2e-sf');
    await dashboard.page.getByRole('combobox', { name: 'Library' }).selectOption('redlock');
    await expect(dashboard.rows).toHaveCount(1);
    await expect(dashboard.row('lock:e2e-sf:redlock')).toBeVisible();
  });

  test('the text filter matches key or owner, and headers sort the table', async ({ lockscope, dashboard }) => {
    const r = lockscope.redis;
    await r.set('lock:e2e-sort:b', 'owner-beta', 'PX', 40_000);
    await r.set('lock:e2e-sort:a', 'owner-alpha', 'PX', 50_000);
    await r.set('lock:e2e-sort:c', 'owner-gamma', 'PX', 30_000);
    await dashboard.open('/');
    await dashboard.filter.fill('owner-gamma');
    await expect(dashboard.rows).toHaveCount(1);
    await expect(dashboard.row('lock:e2e-sort:c')).toBeVisible();

    await dashboard.filter.fill('e2e-sort');
    await expect(dashboard.rows).toHaveCount(3);
    await expect(dashboard.columnHeader('State')).toHaveAttribute('aria-sort', 'ascending');
    await dashboard.sortBy('TTL');
    await expect(dashboard.columnHeader('TTL')).toHaveAttribute('aria-sort', 'ascending');
    await expect(dashboard.columnHeader('State')).toHaveAttribute('aria-sort', 'none');
    await expect.poll(() => dashboard.keys()).toEqual(['lock:e2e-sort:c', 'lock:e2e-sort:b', 'lock:e2e-sort:a']);
    await dashboard.sortBy('TTL');
    await expect(dashboard.columnHeader('TTL')).toHaveAttribute('aria-sort', 'descending');
    await expect.poll(() => dashboard.keys()).toEqual(['lock:e2e-sort:a', 'lock:e2e-sort:b', 'lock:e2e-sort:c']);
    await dashboard.sortBy('Key');
    await expect.poll(() => dashboard.keys()).toEqual(['lock:e2e-sort:a', 'lock:e2e-sort:b', 'lock:e2e-sort:c']);
  });
});
