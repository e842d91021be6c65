/**
 * A real headless browser for the report's page: Debian's chromium (installed by
 * scripts/setup-postgres.sh) driven by playwright-core. The page's console errors, uncaught
 * exceptions and every request it makes are collected, so that a test can require none.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CMMC_TEST_CHROMIUM ?? '/usr/bin/chromium';

export interface OpenedPage {
  page: Page;
  /** Console messages of type error, and uncaught exceptions. */
  errors: string[];
  /** URLs requested after the page itself. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Opens `url` (a file:// URL) in headless chromium with no background networking, in a window `width` CSS pixels
 * wide (default 1280), in the time zone `timezoneId` (default the machine's).
 */
export async function openPage(url: string, options: { width?: number; timezoneId?: string } = {}): Promise<OpenedPage> {
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: options.width ?? 1280, height: 900 }, timezoneId: options.timezoneId });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load' });
    return { page, errors, requests, close: () => browser.close() };
  } catch (err) {
    await browser.close();
    throw err;
  }
}
