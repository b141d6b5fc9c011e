import { expect, type Locator, type Page } from '@playwright/test';

/**
 * The dashboard around the lock table, as a user sees it: filter box, state chips, state and library filters,
 * sortable headers, detail panel. Everything is found by role and accessible name.
 */
export class Dashboard {
  readonly table: Locator;
  readonly filter: Locator;
  readonly summary: Locator;
  readonly detail: Locator;
  readonly timeline: Locator;

  constructor(readonly page: Page) {
    this.table = page.getByRole('table', { name: 'Locks' });
    this.filter = page.getByRole('searchbox', { name: 'Filter by key or owner' });
    this.summary = page.getByRole('group', { name: 'Locks by state' });
    this.detail = page.getByRole('complementary', { name: 'Lock details' });
    this.timeline = this.detail.getByRole('list', { name: 'Event timeline' });
  }

  async open(path = '/'): Promise<void> {
    await this.page.goto(path);
    await expect(this.table).toBeVisible();
  }

  /** Body rows (the header row and virtualization spacers excluded). */
  get rows(): Locator {
    return this.table.locator('tbody tr[data-lock-id]');
  }

  row(key: string): Locator {
    return this.table.getByRole('row').filter({ has: this.page.getByRole('cell', { name: key, exact: true }) });
  }

  /** The keys of the rows on screen, top to bottom. */
  async keys(): Promise<string[]> {
    return this.rows.locator('td:first-child button').allTextContents();
  }

  /** A state chip in the summary bar, by the state's label (e.g. "no TTL (stuck)"). */
  chip(label: string): Locator {
    return this.summary.getByRole('button', { name: new RegExp(`^${label.replace(/[()]/g, '\\$&')} [\\d,]+$`) });
  }

  columnHeader(label: string): Locator {
    return this.table.getByRole('columnheader', { name: label, exact: true });
  }

  async sortBy(label: string): Promise<void> {
    await this.columnHeader(label).getByRole('button').click();
  }

  timelineItems(kind?: string): Locator {
    return kind ? this.timeline.locator(`li[data-kind="${kind}"]`) : this.timeline.getByRole('listitem');
  }
}

/** Base64 of a key's bytes: the lock id the URL carries. */
export function lockId(key: string): string {
  return Buffer.from(key).toString('base64');
}
