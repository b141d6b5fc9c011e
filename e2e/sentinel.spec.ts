import { expect, test } from '@playwright/test';
import { startTestSentinel, type TestSentinel } from '../server/test/support/sentinel';
import { LockTablePage } from './support/fixtures';
import { startLockscope, type RunningLockscope } from './support/lockscope';
import { shots } from './support/shots';

test.describe('Sentinel in the browser', () => {
  let group: TestSentinel;
  let own: RunningLockscope;

  test.beforeAll(async () => {
    group = await startTestSentinel();
    own = await startLockscope(
      { REDIS_URL: '', REDIS_SENTINELS: group.sentinelAddresses, REDIS_SENTINEL_MASTER: group.masterName, POLL_MS: '500', CONFIGURE_NOTIFICATIONS: 'false' },
      { redisUrl: group.master.url },
    );
  });
  test.afterAll(async () => {
    await own?.stop();
    await group?.stop();
  });

  test('a failover: the header names the new master and the failover, the table follows, a lock never replicated ends lost', async ({ page }) => {
    test.setTimeout(45_000);
    const locks = new LockTablePage(page);
    const oldMaster = group.nodeClient(group.master.port);
    const [from, to] = [`127.0.0.1:${group.master.port}`, `127.0.0.1:${group.replica.port}`];
    await oldMaster.set('lock:e2e-sentinel:orders', 'worker-1', 'PX', 60_000);
    await oldMaster.call('WAIT', 1, 2000);
    await locks.open(own.url);
    await expect(locks.row('lock:e2e-sentinel:orders')).toHaveAttribute('data-state', 'held');
    await expect(page.getByTestId('redis-target')).toHaveText(`redis+sentinel://${group.sentinelAddresses}/mymaster`);
    await expect(page.getByTestId('sentinel-master')).toHaveText(from);
    await expect(page.getByTestId('sentinel-count')).toHaveText('sentinels 3/3');
    await shots(page, 'sentinel-header');
    await group.setOnMasterOnly('lock:e2e-sentinel:payments', 'worker-2', 60_000);
    await expect(locks.row('lock:e2e-sentinel:payments')).toHaveAttribute('data-state', 'held');

    await group.failover();
    await expect(page.getByTestId('sentinel-master')).toHaveText(to, { timeout: 10_000 });
    await expect(locks.row('lock:e2e-sentinel:payments')).toHaveAttribute('data-state', 'lost', { timeout: 10_000 });
    await expect(locks.row('lock:e2e-sentinel:orders')).toHaveAttribute('data-state', 'held');
    const banner = page.getByTestId('restart-banner');
    await expect(page.getByTestId('restart-headline')).toHaveText(new RegExp(`^Sentinel failover at \\d\\d:\\d\\d:\\d\\d of “mymaster”: ${from} → ${to}\\.$`));
    await expect(banner).toContainText('1 lock held before it is gone');
    await expect(banner).toContainText('may never reach the new master');
    // The promoted replica has no notifications, and lockscope was not allowed to set them: it polls, and says so.
    await expect(page.getByTestId('feed-mode')).toHaveText('polling', { timeout: 10_000 });
    await expect(page.getByTestId('failover-polling')).toContainText('polling every 0.5 s');
    await group.client.set('lock:e2e-sentinel:after', 'worker-3', 'PX', 60_000);
    await expect(locks.row('lock:e2e-sentinel:after')).toHaveAttribute('data-state', 'held', { timeout: 5000 });
    await shots(page, 'sentinel-failover');

    // A sentinel goes away: failovers are still heard from the other two, and the header counts them.
    await group.nodeClient(group.sentinels[2]!.port).call('SHUTDOWN', 'NOSAVE').catch(() => {});
    await expect(page.getByTestId('sentinel-count')).toHaveText('sentinels 2/3');
    await expect(page.getByTestId('sentinel-count')).toHaveAttribute('title', new RegExp(`127\\.0\\.0\\.1:${group.sentinels[2]!.port}: (reconnecting|down)`));
    await page.getByTestId('restart-banner').getByRole('button', { name: 'Dismiss' }).click();
    await shots(page, 'sentinel-degraded');
  });
});
