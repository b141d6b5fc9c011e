import { Redis } from 'ioredis';
import { freePort, startEmbeddedRedis, type EmbeddedRedis } from '../server/src/redis/embedded-redis';
import { expect, test } from './support/fixtures';
import { shots } from './support/shots';
import { startLockscope, type RunningLockscope } from './support/lockscope';

test.describe('several deployments in one dashboard', () => {
  let prod: EmbeddedRedis;
  let staging: EmbeddedRedis;
  let stagingClient: Redis;
  let own: RunningLockscope;
  let deadPort: number;

  test.beforeAll(async () => {
    [prod, staging] = await Promise.all([startEmbeddedRedis(), startEmbeddedRedis()]);
    deadPort = await freePort();
    stagingClient = new Redis(staging.url, { maxRetriesPerRequest: 1 });
    own = await startLockscope(
      { REDIS_URL: `prod=${prod.url},eu-down=redis://:s3cret@127.0.0.1:${deadPort},staging=${staging.url}` },
      { redisUrl: prod.url, waitFor: 'listening' },
    );
  });
  test.afterAll(async () => {
    stagingClient?.disconnect();
    await own?.stop();
    await Promise.all([prod?.stop(), staging?.stop()]);
  });

  test('the switcher shows each target with its lock count and health; one down shows its error and disturbs no other', async ({ page, locks }) => {
    await own.redis.set('lock:e2e-prod:orders', 'prod-worker', 'PX', 60_000);
    await stagingClient.set('lock:e2e-staging:a', 'staging-worker', 'PX', 60_000);
    await stagingClient.set('lock:e2e-staging:b', 'staging-worker', 'PX', 60_000);
    await page.goto(own.url);
    const switcher = page.getByRole('navigation', { name: 'Redis targets' });
    const button = (name: string) => switcher.getByRole('button', { name: new RegExp(`^${name}:`) });
    // Opens on the first target named, and says so in the URL.
    await expect(button('prod')).toHaveAttribute('aria-current', 'page');
    await expect(page).toHaveURL(/\?target=prod$/);
    await expect(locks.row('lock:e2e-prod:orders')).toBeVisible();
    await expect(page.getByTestId('target-name')).toHaveText('prod');
    await expect(button('staging')).toHaveAccessibleName(/^staging: 2 locks, ok$/, { timeout: 5000 });
    await expect(button('eu-down')).toHaveAccessibleName(/^eu-down: 0 locks, down$/);
    await expect(switcher).not.toContainText('s3cret');
    await shots(page, 'targets-switcher');

    await button('staging').click();
    await expect(page).toHaveURL(/\?target=staging$/);
    await expect(locks.row('lock:e2e-staging:a')).toBeVisible();
    await expect(locks.row('lock:e2e-prod:orders')).toHaveCount(0);
    await expect(page.getByTestId('redis-target')).toContainText(staging.url);
    // Live on the target shown.
    await stagingClient.del('lock:e2e-staging:b');
    await expect(locks.row('lock:e2e-staging:b')).toHaveAttribute('data-state', 'released');

    await button('eu-down').click();
    await expect(page).toHaveURL(/\?target=eu-down$/);
    await expect(page.getByTestId('empty-table')).toContainText('lockscope cannot look');
    await expect(page.getByRole('alert')).toContainText(/Redis is unreachable \(connect ECONNREFUSED/);
    await expect(page.getByTestId('redis-target')).toHaveText(`redis://:***@127.0.0.1:${deadPort}`);
    await shots(page, 'targets-down');

    // A link to a target opens on it.
    await page.goto(`${own.url}/?target=staging`);
    await expect(button('staging')).toHaveAttribute('aria-current', 'page');
    await expect(locks.row('lock:e2e-staging:a')).toBeVisible();
  });
});

test('a Redis user without SCAN: the dashboard says it is blind, never "no locks"', async ({ page }) => {
  const redis = await startEmbeddedRedis();
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  let own: RunningLockscope | null = null;
  try {
    await admin.call('ACL', 'SETUSER', 'noscan', 'on', '>pw-noscan', '+@all', '-scan', '~*', '&*');
    await admin.set('lock:e2e-blind:a', 'worker', 'PX', 60_000);
    own = await startLockscope({ REDIS_URL: `redis://noscan:pw-noscan@127.0.0.1:${redis.port}` }, { redisUrl: redis.url, waitFor: 'listening' });
    await page.goto(own.url);
    const banner = page.getByTestId('blind-banner');
    await expect(banner).toContainText('lockscope cannot see the locks');
    await expect(banner).toContainText('SCAN');
    await expect(banner).toContainText("no permissions to run the 'scan' command");
    await expect(page.getByTestId('target-blind')).toHaveText('blind');
    await expect(page.getByTestId('empty-table')).toContainText('This empty table says nothing about the locks in this Redis');
    await expect(page.getByTestId('feed-mode')).toHaveText('off');
    await expect(page.getByText('No locks held right now')).toHaveCount(0);
    expect((await fetch(`${own.url}/healthz`)).status).toBe(503);
    await shots(page, 'blind');
  } finally {
    admin.disconnect();
    await own?.stop();
    await redis.stop();
  }
});

test('a managed-Redis user (+@all -@dangerous): locks shown, the fallbacks named on demand', async ({ page, locks }) => {
  const redis = await startEmbeddedRedis();
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  let own: RunningLockscope | null = null;
  try {
    await admin.call('ACL', 'SETUSER', 'app', 'on', '>pw-app', '+@all', '-@dangerous', '~*');
    await admin.set('lock:e2e-managed:a', 'worker', 'PX', 60_000);
    own = await startLockscope({ REDIS_URL: `redis://app:pw-app@127.0.0.1:${redis.port}`, CONFIGURE_NOTIFICATIONS: '' }, { redisUrl: redis.url });
    await page.goto(own.url);
    await expect(locks.row('lock:e2e-managed:a')).toBeVisible();
    const banner = page.getByTestId('capability-banner');
    await expect(banner).toContainText('Reduced permissions: no INFO, CONFIG GET, PSUBSCRIBE (channels)');
    await expect(page.getByTestId('feed-mode')).toHaveText('polling');
    await banner.getByText('What this costs').click();
    await expect(banner.getByRole('listitem').filter({ hasText: 'No PSUBSCRIBE' })).toContainText('polling every POLL_MS');
    await expect(banner).toContainText('marker key under lockscope:state:');
    await shots(page, 'reduced-permissions');
  } finally {
    admin.disconnect();
    await own?.stop();
    await redis.stop();
  }
});
