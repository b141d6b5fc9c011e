import { expect, type Locator, type Page } from '@playwright/test';

/** Logs in through the header's admin login, as an operator would (the outcome is the caller's to check). */
export async function logIn(page: Page, token: string): Promise<void> {
  await page.getByRole('button', { name: 'Log in for admin actions' }).click();
  await page.getByLabel(/Admin token/).fill(token);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

/** Opens "Set TTL" on a row, sets `seconds` with a reason, sees "TTL set" and closes the dialog. */
export async function setTtlFromDialog(page: Page, row: Locator, key: string, seconds: string, reason: string): Promise<void> {
  await row.getByRole('button', { name: `Set TTL on ${key}` }).click();
  const dialog = page.getByRole('dialog', { name: 'Set a TTL on this lock' });
  await dialog.getByLabel('TTL in seconds').fill(seconds);
  await dialog.getByLabel(/Reason/).fill(reason);
  await dialog.getByRole('button', { name: 'Set TTL' }).click();
  await expect(dialog.getByRole('status')).toContainText('TTL set');
  await dialog.getByRole('button', { name: 'Close', exact: true }).click();
}
