import { test as base, expect, type Locator, type Page } from '@playwright/test';
import { Dashboard } from './dashboard';
import { startLockscope, type RunningLockscope } from './lockscope';

/** The lock table as a user sees it. */
export class LockTablePage {
  readonly table: Locator;
  constructor(readonly page: Page) {
    this.table = page.getByRole('table', { name: 'Locks' });
  }
  async open(url: string): Promise<void> {
    await this.page.goto(url);
    await expect(this.table).toBeVisible();
  }
  row(key: string): Locator {
    return this.table.getByRole('row').filter({ has: this.page.getByRole('cell', { name: key, exact: true }) });
  }
  /** Remaining TTL in ms as the row shows it right now. */
  async ttlMs(key: string): Promise<number> {
    const value = await this.row(key).locator('[data-ttl-ms]').getAttribute('data-ttl-ms');
    return Number(value);
  }
}

interface Fixtures {
  locks: LockTablePage;
  /** Filters, summary bar, sorting and the detail panel (e2e/support/dashboard.ts). */
  dashboard: Dashboard;
}
interface WorkerFixtures {
  lockscope: RunningLockscope;
}

/** One lockscope + Redis per Playwright worker; specs seed keys under their own prefixes. */
export const test = base.extend<Fixtures, WorkerFixtures>({
  lockscope: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const running = await startLockscope();
      await use(running);
      await running.stop();
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ lockscope }, use) => use(lockscope.url),
  locks: async ({ page }, use) => use(new LockTablePage(page)),
  dashboard: async ({ page }, use) => use(new Dashboard(page)),
});

export { expect };
