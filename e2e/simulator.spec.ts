import { expect, test } from './support/fixtures';
import { startLockscope, type RunningLockscope } from './support/lockscope';
import type { Page } from '@playwright/test';

/** The simulator panel as a user sees it. */
function panel(page: Page) {
  const region = page.getByRole('region', { name: 'Contention simulator' });
  return {
    region,
    async open() {
      await region.getByRole('button', { name: 'Show simulator' }).click();
    },
    field: (label: string) => region.getByLabel(label, { exact: true }),
    stat: (name: string) => region.locator(`[data-stat="${name}"] dd`),
    async statValue(name: string): Promise<number> {
      return Number(await region.locator(`[data-stat="${name}"] dd`).getAttribute('data-value'));
    },
  };
}

test.describe('contention simulator panel', () => {
  // REDIS_URL counts as external, so the simulator is on only because this server was started with SIMULATOR=1.
  let lockscope: RunningLockscope;
  test.beforeAll(async () => {
    lockscope = await startLockscope({ SIMULATOR: '1' });
  });
  test.afterAll(async () => {
    await lockscope?.stop();
  });

  test('starting a safe run from the panel fills the lock table and moves the stats and charts; Stop reports zero violations', async ({ page, locks }) => {
    await locks.open(lockscope.url);
    const sim = panel(page);
    await expect(sim.region).toBeVisible();
    await sim.open();
    // Where the pause is set, the panel says what safe's zero covers and what only fencing does.
    await expect(sim.field('Pause strikes')).toHaveValue('hold');
    await expect(sim.field('Pause strikes')).toHaveAccessibleDescription(
      /safe shows 0 violations under crashes and pauses while holding.*defeats any lock without fencing, safe included.*safe-fenced fixes that/,
    );
    await sim.field('Strategy').selectOption('safe');
    await sim.field('Workers').fill('12');
    await sim.field('Resources').fill('3');
    await sim.field('Hold (ms, mean)').fill('200');
    await sim.field('Hold distribution').selectOption('fixed');
    await sim.region.getByRole('button', { name: 'Start' }).click();

    await expect(page.getByTestId('sim-status')).toHaveText(/running safe/);
    // Its locks are live locks like any other, written by lockscope's own library.
    const row = locks.row('lockscope:sim:lock:r0');
    await expect(row).toBeVisible();
    await expect(row.getByRole('cell', { name: 'lockscope', exact: true })).toBeVisible();
    // Stats move at least once a second.
    await expect.poll(() => sim.statValue('Acquisitions')).toBeGreaterThan(0);
    const first = await sim.statValue('Acquisitions');
    await expect.poll(() => sim.statValue('Acquisitions'), { timeout: 5000 }).toBeGreaterThan(first);
    await expect(sim.stat('Workers alive')).toHaveText('12');
    for (const chart of ['Throughput chart', 'Wait percentiles chart', 'Violations chart']) {
      await expect(sim.region.getByRole('img', { name: chart }).locator('canvas')).toBeVisible();
    }

    await sim.region.getByRole('button', { name: 'Stop' }).click();
    await expect(page.getByTestId('sim-status')).toHaveText('idle', { timeout: 10_000 });
    await expect(sim.region.getByLabel('Last run')).toContainText('0 violations');
    // The run's keys are deleted: its locks leave the live table.
    await expect(row).not.toHaveAttribute('data-state', 'held');
  });

  test('a crash between SETNX and EXPIRE in setnx-expire leaves a lock shown as stuck', async ({ page, locks }) => {
    await locks.open(lockscope.url);
    const sim = panel(page);
    await sim.open();
    await sim.field('Strategy').selectOption('setnx-expire');
    await sim.field('Workers').fill('1');
    await sim.field('Resources').fill('1');
    await sim.field('Crash between SETNX/EXPIRE').fill('1');
    await sim.region.getByRole('button', { name: 'Start' }).click();
    const row = locks.row('lockscope:sim:lock:r0');
    await expect(row).toHaveAttribute('data-state', 'no-ttl');
    await expect(row.getByText('no TTL (stuck)')).toBeVisible();
    await expect.poll(() => sim.statValue('Stuck locks (no TTL)')).toBeGreaterThan(0);
    await sim.region.getByRole('button', { name: 'Stop' }).click();
    await expect(page.getByTestId('sim-status')).toHaveText('idle', { timeout: 10_000 });
  });

  test('is off, with the reason, on a server started --read-only, even with --simulator', async ({ page, locks }) => {
    const readOnly = await startLockscope({ SIMULATOR: '1', READ_ONLY: '1' });
    try {
      await locks.open(readOnly.url);
      const sim = panel(page);
      await sim.open();
      await expect(page.getByTestId('sim-status')).toHaveText('off');
      await expect(sim.region).toContainText('The simulator is off: lockscope was started read-only (--read-only / READ_ONLY)');
      await expect(sim.region.getByRole('button', { name: 'Start' })).toBeDisabled();
    } finally {
      await readOnly.stop();
    }
  });

  test('is off, with the reason, on a server watching an external Redis without --simulator', async ({ page, lockscope: plain, locks }) => {
    await locks.open(plain.url);
    const sim = panel(page);
    await sim.open();
    await expect(sim.region).toContainText('--simulator');
    await expect(sim.region.getByRole('button', { name: 'Start' })).toBeDisabled();
  });
});
