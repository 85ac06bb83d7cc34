import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';

/** Where the browser tests leave their screenshots (kept as test output, for a human to look at). */
export const SCREENSHOT_DIR = join(process.cwd(), 'test-output', 'screenshots');

/** The widths every console page is shot at: a phone and a desktop. */
export const SCREENSHOT_WIDTHS = [375, 1280] as const;

/** Full-page screenshots of `page` at each width (`<name>-<width>.png`); the viewport ends at 1280 × 900. */
export async function screenshotBoth(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  for (const width of SCREENSHOT_WIDTHS) {
    await page.setViewportSize({ width, height: width < 600 ? 800 : 900 });
    await page.waitForTimeout(150); // let the layout settle after the resize
    await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}
