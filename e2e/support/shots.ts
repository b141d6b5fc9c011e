import type { Page } from '@playwright/test';

/** Light and dark screenshots of a UI state, when LOCKSCOPE_SHOTS names a folder (for looking at them). */
export async function shots(page: Page, name: string): Promise<void> {
  const dir = process.env.LOCKSCOPE_SHOTS;
  if (!dir) return;
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(400); // colour transitions
    await page.screenshot({ path: `${dir}/${name}-${scheme}.png` });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}
