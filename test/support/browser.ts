import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium, headless, with nothing of its own going to the network. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** True for a URL of 127.0.0.1 (or one the page makes itself: data:, blob:, about:). */
export function isLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return hostname === '127.0.0.1';
}

/** A page that records every URL it requests and every error it shows. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  requested: string[];
  /** Uncaught exceptions, and console errors other than failed requests (Content-Security-Policy violations among them). */
  problems: string[];
  /** The statuses of failed requests the console reported ("Failed to load resource"), in order. */
  failedLoads: string[];
  /** Saves a screenshot as `<dir>/<name>.png`. */
  screenshot(name: string): Promise<void>;
}

export async function watchedPage(browser: Browser, options: { width: number; height: number; screenshots: string }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: options.width, height: options.height } });
  const page = await context.newPage();
  const requested: string[] = [];
  const problems: string[] = [];
  const failedLoads: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    if (message.text().startsWith('Failed to load resource')) failedLoads.push(message.text());
    else problems.push(`console: ${message.text()}`);
  });
  fs.mkdirSync(options.screenshots, { recursive: true });
  return {
    page, context, requested, problems, failedLoads,
    screenshot: async (name) => {
      await page.screenshot({ path: path.join(options.screenshots, `${name}.png`), fullPage: true });
    },
  };
}
