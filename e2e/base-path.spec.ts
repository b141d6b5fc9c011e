import { rmSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { startNginx, type TestNginx } from '../server/test/support/nginx';
import { makeTestCertificates, type TestCertificates } from '../server/test/support/tls';
import { logIn } from './support/admin';
import { startLockscope, type RunningLockscope } from './support/lockscope';
import { shots } from './support/shots';

const TOKEN = 'e2e-base-path-token-0123456789';
const BASE = '/ops/locks';

/**
 * lockscope with BASE_PATH=/ops/locks behind Debian's nginx serving https (the README's config, plus proxy_bind so
 * that nginx's address, 127.0.0.2, differs from the browser's, 127.0.0.1), in a real browser: everything the page
 * loads stays under the path, the live table arrives over a WebSocket through the proxy, and admin (login, force
 * release, audit log) and the simulator work. TRUST_PROXY=127.0.0.2: the audit log has the browser's address and
 * the session cookie is Secure because nginx says https.
 */
test.describe('under a sub-path behind nginx (https)', () => {
  test.use({ ignoreHTTPSErrors: true });
  let certs: TestCertificates;
  let own: RunningLockscope;
  let nginx: TestNginx;

  test.beforeAll(async () => {
    certs = await makeTestCertificates();
    own = await startLockscope({ BASE_PATH: BASE, TRUST_PROXY: '127.0.0.2', ADMIN_TOKEN: TOKEN, SIMULATOR: '1' });
    nginx = await startNginx({
      upstreams: [new URL(own.url).host],
      locations: [{ path: `${BASE}/` }],
      tls: { cert: certs.serverCert, key: certs.serverKey },
      proxyBind: '127.0.0.2',
    });
  });
  test.afterAll(async () => {
    await nginx?.stop();
    await own?.stop();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  test('everything the page loads stays under the path; admin login, force release and the audit log work through the proxy', async ({ page, context }) => {
    await own.redis.set('lock:e2e:sub:export', 'worker-4:crashed');
    await own.redis.set('lock:e2e:sub:orders', 'worker-5', 'PX', 120_000);
    const requested: string[] = [];
    page.on('request', (r) => void (r.url().startsWith('data:') || requested.push(r.url())));
    const sockets: string[] = [];
    page.on('websocket', (ws) => void sockets.push(ws.url()));

    await page.goto(`${nginx.url}${BASE}`);
    await expect(page).toHaveURL(`${nginx.url}${BASE}/`);
    const table = page.getByRole('table', { name: 'Locks' });
    const row = (key: string) => table.getByRole('row').filter({ has: page.getByRole('cell', { name: key, exact: true }) });
    await expect(row('lock:e2e:sub:export')).toHaveAttribute('data-state', 'no-ttl');
    await expect(row('lock:e2e:sub:orders')).toHaveAttribute('data-state', 'held');
    // The live table came over a WebSocket through nginx, under the path (not polling, not /socket.io/).
    expect(sockets).toEqual([expect.stringMatching(new RegExp(`^wss://127\\.0\\.0\\.1:${nginx.port}${BASE}/socket\\.io/\\?EIO=4&transport=websocket`))]);

    // A lock's details (URL state) and the on-demand chart chunk.
    await row('lock:e2e:sub:orders').getByRole('button', { name: 'lock:e2e:sub:orders' }).click();
    await expect(page).toHaveURL(new RegExp(`^${nginx.url}${BASE}/\\?lock=`));
    await expect(page.getByRole('complementary', { name: 'Lock details' }).getByRole('img', { name: /TTL/ }).locator('canvas')).toBeVisible();
    await page.reload();
    await expect(page.getByRole('complementary', { name: 'Lock details' })).toContainText('worker-5');
    await page.keyboard.press('Escape');

    await logIn(page, TOKEN);
    await expect(page.getByTestId('admin-status')).toContainText('Admin');
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'lockscope_session', path: BASE, secure: true, httpOnly: true, sameSite: 'Strict' });
    await shots(page, 'lockscope-base-path');

    await row('lock:e2e:sub:export').getByRole('button', { name: 'Force release lock:e2e:sub:export' }).click();
    const dialog = page.getByRole('dialog', { name: 'Force release lock' });
    await dialog.getByLabel(/Reason/).fill('worker-4 crashed behind the proxy');
    await dialog.getByRole('button', { name: 'Force release' }).click();
    await expect(dialog.getByRole('status')).toHaveText('Released.');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await expect(row('lock:e2e:sub:export')).toHaveAttribute('data-state', 'released');
    expect(await own.redis.exists('lock:e2e:sub:export')).toBe(0);

    await page.getByRole('tab', { name: 'Audit log' }).click();
    const audit = page.getByRole('table', { name: 'Audit log' });
    const release = audit.getByRole('row').filter({ hasText: 'lock:e2e:sub:export' });
    await expect(release).toContainText('worker-4 crashed behind the proxy');
    // The browser's address (X-Forwarded-For from the trusted nginx), not nginx's 127.0.0.2.
    await expect(release).toContainText('127.0.0.1');
    await expect(audit).not.toContainText('127.0.0.2');
    await shots(page, 'lockscope-base-path-audit');

    // Beside the address typed (the bare path, which nginx redirects), every request went under the path.
    const outside = requested.filter((u) => u !== `${nginx.url}${BASE}` && !u.startsWith(`${nginx.url}${BASE}/`));
    expect(outside, 'requests outside the base path').toEqual([]);
    expect(requested.some((u) => /\/assets\/.+\.js$/.test(u))).toBe(true);
    expect(requested).toContain(`${nginx.url}${BASE}/api/session`);
  });

  test('the simulator runs under the path, its panel loaded on demand from there', async ({ page }) => {
    await page.goto(`${nginx.url}${BASE}/`);
    await logIn(page, TOKEN);
    await expect(page.getByTestId('admin-status')).toContainText('Admin');
    const sim = page.getByRole('region', { name: 'Contention simulator' });
    await sim.getByRole('button', { name: 'Show simulator' }).click();
    await sim.getByLabel('Strategy', { exact: true }).selectOption('safe');
    await sim.getByLabel('Workers', { exact: true }).fill('6');
    await sim.getByLabel('Resources', { exact: true }).fill('2');
    await sim.getByRole('button', { name: 'Start' }).click();
    await expect(page.getByTestId('sim-status')).toHaveText(/running safe/);
    const acquisitions = () => sim.locator('[data-stat="Acquisitions"] dd').getAttribute('data-value').then(Number);
    await expect.poll(acquisitions).toBeGreaterThan(0);
    await expect(page.getByRole('table', { name: 'Locks' }).getByRole('cell', { name: 'lockscope:sim:lock:r0', exact: true })).toBeVisible();
    await shots(page, 'lockscope-base-path-simulator');
    await sim.getByRole('button', { name: 'Stop' }).click();
    await expect(page.getByTestId('sim-status')).toHaveText('idle', { timeout: 10_000 });
    await expect(sim.getByLabel('Last run')).toContainText('0 violations');
  });
});
