import { expect, test } from './support/fixtures';

test.describe('themes', () => {
  test('follows the system by default, live', async ({ dashboard, page }) => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await dashboard.open('/');
    await expect(page.locator('html')).toHaveClass(/(^|\s)dark(\s|$)/);
    await expect(page.getByRole('radio', { name: 'System' })).toBeChecked();
    await page.emulateMedia({ colorScheme: 'light' });
    await expect(page.locator('html')).not.toHaveClass(/(^|\s)dark(\s|$)/);
  });

  test('the switch picks dark or light and the choice is remembered', async ({ dashboard, page }) => {
    await page.emulateMedia({ colorScheme: 'light' });
    await dashboard.open('/');
    const html = page.locator('html');
    await expect(html).not.toHaveClass(/(^|\s)dark(\s|$)/);
    await page.getByRole('radio', { name: 'Dark' }).check();
    await expect(html).toHaveClass(/(^|\s)dark(\s|$)/);
    // Dark surfaces, not just a class.
    const bg = await page.locator('header').evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(bg).not.toBe('rgb(255, 255, 255)');
    await page.reload();
    await expect(html).toHaveClass(/(^|\s)dark(\s|$)/);
    await expect(page.getByRole('radio', { name: 'Dark' })).toBeChecked();
    await page.getByRole('radio', { name: 'Light' }).check();
    await page.emulateMedia({ colorScheme: 'dark' });
    await expect(html).not.toHaveClass(/(^|\s)dark(\s|$)/);
  });
});
