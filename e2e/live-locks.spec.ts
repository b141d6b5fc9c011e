import { expect, test } from './support/fixtures';
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

  test('a banner says so when Redis goes away, and the header shows the target and feed', async ({ page }) => {
    const own = await startLockscope();
    try {
      await page.goto(own.url);
      await expect(page.getByTestId('redis-state')).toHaveText('ready');
      await expect(page.getByTestId('feed-mode')).toHaveText('notifications');
      await expect(page.getByTestId('redis-target')).toContainText('redis://127.0.0.1:');
      await own.stopRedis();
      await expect(page.getByRole('alert')).toContainText('Redis is', { timeout: 10_000 });
    } finally {
      await own.stop();
    }
  });
});
