import type { Response } from '@playwright/test';
import { expect, test } from './support/fixtures';

/** Page start-up (issue 14): what the first paint loads, how it is sent, and what waits until it is needed. */
test.describe('page start-up', () => {
  test('the first paint loads no on-demand code, every script and stylesheet arrives compressed and cacheable for a year', async ({ page, lockscope }) => {
    await lockscope.redis.set('lock:startup:a', 'owner-a', 'PX', 60_000);
    const responses: Response[] = [];
    page.on('response', (r) => responses.push(r));
    // Nothing idle: the first paint's own requests, before the on-demand chunks are fetched in idle time.
    await page.addInitScript(() => {
      window.requestIdleCallback = () => 0;
    });
    await page.goto('/');
    await expect(page.getByRole('table', { name: 'Locks' }).locator('tbody tr[data-lock-id]').first()).toBeVisible();

    const assets = responses.filter((r) => new URL(r.url()).pathname.startsWith('/assets/'));
    const names = assets.map((r) => new URL(r.url()).pathname);
    expect(names.filter((n) => /\.js$/.test(n)).length).toBeGreaterThanOrEqual(2);
    expect(names.filter((n) => /SimulatorBody|TtlChart|AuditLog|Dialog|chart-/.test(n))).toEqual([]);
    for (const r of assets) {
      const headers = await r.allHeaders();
      // The build compresses every file over 1 KB (smaller ones gain nothing).
      const compressed = headers['content-encoding'] !== undefined || Number(headers['content-length']) < 1024;
      expect(compressed, r.url()).toBe(true);
      if (headers['content-encoding']) expect(headers['content-encoding'], r.url()).toMatch(/^(br|gzip)$/);
      expect(headers['cache-control'], r.url()).toBe('public, max-age=31536000, immutable');
    }
    const html = responses.find((r) => new URL(r.url()).pathname === '/')!;
    expect((await html.allHeaders())['cache-control']).toBe('no-cache');
  });

  test('opening a lock before its chart code has arrived moves nothing when the chart appears', async ({ page, lockscope, dashboard }) => {
    const key = 'lock:startup:chart';
    await lockscope.redis.set(key, 'owner-c', 'PX', 60_000);
    // The chart's chunk (uPlot) arrives a second late: the panel shows first, with the chart's room kept.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/assets\/(TtlChart|chart)-[^/]+\.js$/, async (route) => {
      await held;
      await route.continue();
    });
    await page.addInitScript(() => {
      window.requestIdleCallback = () => 0;
    });
    await page.goto(`/?lock=${encodeURIComponent(Buffer.from(key).toString('base64'))}`);
    const timeline = dashboard.detail.getByRole('heading', { name: /Event timeline/ });
    await expect(timeline).toBeVisible();
    const before = (await timeline.boundingBox())!.y;
    await expect(dashboard.detail.getByTestId('ttl-chart')).toHaveCount(0);
    release();
    await expect(dashboard.detail.getByTestId('ttl-chart').locator('canvas')).toBeVisible();
    await page.waitForTimeout(300);
    expect((await timeline.boundingBox())!.y).toBe(before);
  });
});
