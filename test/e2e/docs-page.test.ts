import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

const SCREENSHOT = path.resolve(import.meta.dirname, '../../test-output/docs.png');

/** True for a URL on this machine (or one the page makes itself: data:, blob:, about:). */
function isLocal(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return true;
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

describe('the /docs API reference in a browser', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('lists the operations of the served document, loading nothing from another host', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const requested: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });

    const response = await page.goto(`${server.url}/docs`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    expect(await page.title()).toContain('KAIRO');

    // The first area is open; the others are listed in the sidebar by their tags.
    for (const summary of ['Create an agent', 'List agents', 'Delete an agent']) {
      await page.getByText(summary, { exact: true }).first().waitFor({ state: 'visible', timeout: 30_000 });
    }
    for (const tag of ['Runs', 'Workflows', 'Context', 'Webhooks', 'Budgets', 'Status']) {
      await expect(page.getByText(tag, { exact: true }).first().isVisible()).resolves.toBe(true);
    }
    // An operation's error responses come from the document: its codes are on the page.
    await page.getByText('resource_missing').first().waitFor({ state: 'attached', timeout: 10_000 });

    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(10_000);

    expect(requested).toContain(`${server.url}/v1/openapi.json`);
    expect(requested).toContain(`${server.url}/docs/assets/scalar.js`);
    expect(requested.filter((url) => !isLocal(url))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 90_000);
});
