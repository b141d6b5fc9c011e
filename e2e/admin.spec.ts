import type { Page } from '@playwright/test';
import { logIn as logInWith, setTtlFromDialog } from './support/admin';
import { expect, test } from './support/fixtures';
import { startLockscope, type RunningLockscope } from './support/lockscope';

const TOKEN = 'e2e-admin-token-0123456789';

const logIn = (page: Page, token = TOKEN) => logInWith(page, token);

test.describe('admin actions', () => {
  let own: RunningLockscope;
  test.beforeEach(async () => {
    own = await startLockscope({ ADMIN_TOKEN: TOKEN });
  });
  test.afterEach(async () => {
    await own.stop();
  });

  test('an operator logs in, force-releases a stuck lock through the dialog, and sees the row leave and the audit entry appear', async ({ page, locks }) => {
    await own.redis.set('lock:e2e:export', 'worker-9:crashed');
    await page.goto(own.url);
    const row = locks.row('lock:e2e:export');
    await expect(row).toHaveAttribute('data-state', 'no-ttl');
    // Not logged in yet: no admin buttons anywhere.
    await expect(page.getByRole('button', { name: /Force release/ })).toHaveCount(0);

    await logIn(page, 'wrong-token-wrong-token');
    await expect(page.getByRole('dialog').getByRole('alert')).toBeVisible();
    await page.getByLabel(/Admin token/).fill(TOKEN);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await expect(page.getByTestId('admin-status')).toContainText('Admin');

    await row.getByRole('button', { name: 'Force release lock:e2e:export' }).click();
    const dialog = page.getByRole('dialog', { name: 'Force release lock' });
    await expect(dialog.getByTestId('dialog-key')).toHaveText('lock:e2e:export');
    await expect(dialog.getByTestId('dialog-owner')).toHaveText('worker-9:crashed');
    await expect(dialog.getByRole('button', { name: 'Force release' })).toBeDisabled();
    await dialog.getByLabel(/Reason/).fill('worker-9 crashed; INC-1234');
    await dialog.getByRole('button', { name: 'Force release' }).click();
    await expect(dialog.getByRole('status')).toHaveText('Released.');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();

    await expect(row).toHaveAttribute('data-state', 'released');
    expect(await own.redis.exists('lock:e2e:export')).toBe(0);

    await page.getByRole('tab', { name: 'Audit log' }).click();
    const entry = page.getByRole('table', { name: 'Audit log' }).getByRole('row').filter({ hasText: 'lock:e2e:export' });
    await expect(entry).toContainText('released');
    await expect(entry).toContainText('worker-9 crashed; INC-1234');
    await expect(entry).toContainText('worker-9:crashed');
  });

  test('hidden characters in key, owner and reason read escaped in the dialog and the audit log; the exact key is released', async ({ page, locks }) => {
    const key = 'lock:e2e:\u202e24';
    await own.redis.set(key, 'worker-\u202etxt.exe', 'PX', 60_000);
    await page.goto(own.url);
    await logIn(page);
    const row = locks.row('lock:e2e:\\u{202E}24');
    await row.getByRole('button', { name: 'Force release lock:e2e:\\u{202E}24' }).click();
    const dialog = page.getByRole('dialog', { name: 'Force release lock' });
    await expect(dialog.getByTestId('dialog-key')).toHaveText('escapedlock:e2e:\\u{202E}24');
    await expect(dialog.getByTestId('dialog-owner')).toHaveText('escapedworker-\\u{202E}txt.exe');
    await dialog.getByLabel(/Reason/).fill('INC-7 \u202egnp.exe');
    await dialog.getByRole('button', { name: 'Force release' }).click();
    await expect(dialog.getByRole('status')).toHaveText('Released.');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    expect(await own.redis.exists(key)).toBe(0);

    await page.getByRole('tab', { name: 'Audit log' }).click();
    const entry = page.getByRole('table', { name: 'Audit log' }).getByRole('row').filter({ hasText: 'lock:e2e:\\u{202E}24' });
    await expect(entry).toContainText('worker-\\u{202E}txt.exe');
    await expect(entry).toContainText('INC-7 \\u{202E}gnp.exe');
    expect(await entry.textContent()).not.toContain('\u202e');
  });

  test('if the lock changed hands while the dialog was open, nothing is deleted and the new owner is shown', async ({ page, locks }) => {
    await own.redis.set('lock:e2e:race', 'owner-A', 'PX', 60_000);
    await page.goto(own.url);
    await logIn(page);

    await locks.row('lock:e2e:race').getByRole('button', { name: 'Force release lock:e2e:race' }).click();
    const dialog = page.getByRole('dialog', { name: 'Force release lock' });
    await expect(dialog.getByTestId('dialog-owner')).toHaveText('owner-A');
    // A expires and B takes the lock between looking and clicking.
    await own.redis.set('lock:e2e:race', 'owner-B', 'PX', 60_000);
    await dialog.getByLabel(/Reason/).fill('looks stuck');
    await dialog.getByRole('button', { name: 'Force release' }).click();
    await expect(dialog.getByRole('status')).toContainText('Owner changed — nothing was deleted');
    await expect(dialog.getByRole('status')).toContainText('owner-B');
    expect(await own.redis.get('lock:e2e:race')).toBe('owner-B');
  });

  test('a no-TTL lock gets a TTL from the dialog and then expires by itself', async ({ page, locks }) => {
    await own.redis.set('lock:e2e:ttl', 'holder-1');
    await page.goto(own.url);
    await logIn(page);
    await setTtlFromDialog(page, locks.row('lock:e2e:ttl'), 'lock:e2e:ttl', '1.5', 'let it expire if the holder is gone');
    await expect(locks.row('lock:e2e:ttl')).toHaveAttribute('data-state', 'expired', { timeout: 5000 });
  });

  test('bulk release checks each selected lock on its own: the one that changed hands is kept', async ({ page, locks }) => {
    await own.redis.set('lock:e2e:bulk-1', 'dead-worker-1');
    await own.redis.set('lock:e2e:bulk-2', 'dead-worker-2');
    await page.goto(own.url);
    await logIn(page);
    await locks.row('lock:e2e:bulk-1').getByRole('checkbox', { name: 'Select lock:e2e:bulk-1 for bulk release' }).check();
    await locks.row('lock:e2e:bulk-2').getByRole('checkbox', { name: 'Select lock:e2e:bulk-2 for bulk release' }).check();
    await expect(page.getByTestId('bulk-count')).toHaveText('2 locks selected');
    // Meanwhile a live worker takes over the second lock.
    await own.redis.set('lock:e2e:bulk-2', 'live-worker-3');
    await page.getByRole('button', { name: 'Release selected…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Force release 2 locks' });
    await dialog.getByLabel(/Reason/).fill('cleanup after node crash');
    await dialog.getByRole('button', { name: 'Force release 2' }).click();
    await expect(dialog.getByRole('status')).toContainText('Released 1 · owner changed 1 (not deleted) · already gone 0');
    await expect(dialog.getByRole('status')).toContainText('lock:e2e:bulk-2: owner changed — now live-worker-3');
    expect(await own.redis.exists('lock:e2e:bulk-1')).toBe(0);
    expect(await own.redis.get('lock:e2e:bulk-2')).toBe('live-worker-3');
  });
});

test('on an external Redis without an admin token the dashboard is read-only and says why', async ({ lockscope, page, locks }) => {
  await lockscope.redis.set('lock:e2e:ro', 'someone');
  await page.goto(lockscope.url);
  await expect(locks.row('lock:e2e:ro')).toBeVisible();
  await expect(page.getByTestId('admin-status')).toContainText('Read-only');
  await expect(page.getByTestId('admin-status')).toContainText('ADMIN_TOKEN');
  await expect(page.getByRole('columnheader', { name: 'Actions' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /Force release/ })).toHaveCount(0);
});
