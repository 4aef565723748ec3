import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBuilt } from '../support/console-build.js';
import { isLocal, launchChromium, watchedPage, type WatchedPage } from '../support/browser.js';
import { startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';

const SCREENSHOTS = path.resolve(import.meta.dirname, '../../test-output/console');
const HANDBOOK = path.resolve(import.meta.dirname, '../fixtures/documents/handbook.md');

describe('the console in a browser', () => {
  let server: TestServer;
  let browser: Browser;
  let ws: TestWorkspace;
  let tab: WatchedPage;
  let page: Page;
  const go = async (to: string) => {
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: to, exact: true }).click();
  };
  const heading = (name: string) => page.getByRole('heading', { level: 1, name }).waitFor();

  beforeAll(async () => {
    await ensureConsoleBuilt();
    server = await startTestServer('sqlite');
    ws = await server.workspace('pro');
    browser = await launchChromium();
    tab = await watchedPage(browser, { width: 1280, height: 900, screenshots: SCREENSHOTS });
    page = tab.page;
    page.setDefaultTimeout(10_000);
  }, 120_000);
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await tab.screenshot(`failed-${task.name.replace(/\W+/g, '-')}`);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('signs in with a test key', async () => {
    const response = await page.goto(`${server.url}/`);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    await heading('Sign in to KAIRO');
    await tab.screenshot('sign-in');
    await page.getByLabel('API key', { exact: true }).fill(ws.testKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Test mode').waitFor();
  });

  let newSecret = '';
  it('creates an API key and shows its secret once', async () => {
    await go('Settings');
    await heading('Settings');
    await page.getByLabel('Name').fill('console key');
    await page.getByRole('button', { name: 'Create key' }).click();
    newSecret = (await page.getByTestId('new-secret').textContent()) ?? '';
    expect(newSecret).toMatch(/^sk_test_/);
    await page.getByRole('cell', { name: 'console key' }).waitFor();
    await tab.screenshot('api-keys');
  });

  let agentUrl = '';
  it('creates an agent, runs it in the playground and opens its trace', async () => {
    await go('Agents');
    await heading('Agents');
    await page.getByRole('link', { name: 'New agent' }).click();
    await page.getByLabel('Name').fill('Support desk');
    await page.getByLabel('Instructions').fill('Answer in one sentence.');
    await page.getByRole('button', { name: 'Create agent' }).click();
    await heading('Support desk');
    agentUrl = page.url();
    await page.getByLabel('Input').fill('Where is my order?');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(() => page.getByTestId('run-output').textContent()).toContain('Simulated answer to "Where is my order?"');
    await page.getByText('completed').first().waitFor();
    await tab.screenshot('agent-playground');
    await page.getByRole('link', { name: /Open trace of run_/ }).click();
    await heading('Trace of Support desk');
    await page.getByRole('heading', { name: 'Routing decision' }).waitFor();
    await tab.screenshot('trace');
  });

  it('creates a context source, uploads a document with progress and queries it', async () => {
    await go('Context');
    await heading('Context');
    await page.getByLabel('Source name').fill('handbook');
    await page.getByRole('button', { name: 'Create source' }).click();
    await heading('Source handbook');
    await page.getByLabel('Files').setInputFiles(HANDBOOK);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByText(/^Uploaded 1 file — .*: indexed\.$/).waitFor();
    await page.getByRole('cell', { name: 'indexed' }).waitFor();
    await tab.screenshot('context-source');
    await go('Context');
    await page.getByLabel('Query', { exact: true }).fill('daily database backups');
    await page.getByRole('button', { name: 'Search' }).click();
    const firstHit = page.getByRole('region', { name: 'Scored chunks' }).getByRole('row').nth(1);
    await expect.poll(() => firstHit.textContent()).toContain('Back up the database daily');
    await tab.screenshot('context');
  });

  it('creates and starts a workflow with an approval step, and approves it with data', async () => {
    await go('Workflows');
    await heading('Workflows');
    await page.getByRole('link', { name: 'New workflow' }).click();
    await page.getByRole('button', { name: 'Create workflow' }).click();
    await heading('Refund approval');
    await page.getByRole('button', { name: 'Start run' }).click();
    await heading(/^Workflow run wfrun_/);
    const approval = page.getByRole('form', { name: 'Approve step approve' });
    await approval.waitFor();
    await tab.screenshot('workflow-run-waiting');
    await approval.getByLabel('Approval data (JSON)').fill('{"approved": true, "by": "console"}');
    await approval.getByRole('button', { name: 'Approve with this data' }).click();
    await expect.poll(() => page.getByTestId('workflow-output').textContent(), { timeout: 15_000 }).toContain('"by": "console"');
    await page.getByRole('status').getByText('completed').waitFor();
    await tab.screenshot('workflow-run');
    await page.getByRole('link', { name: 'Back to the workflow' }).click();
    await heading('Refund approval');
    await tab.screenshot('workflow');
  });

  it('loads nothing from another host and shows no error', () => {
    expect(tab.requested.filter((url) => !isLocal(url))).toEqual([]);
    expect(tab.problems).toEqual([]);
  });
});
