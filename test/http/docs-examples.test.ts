import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { repoRoot } from '../support/cli.js';

const run = promisify(execFile);

/** The `sh` blocks of a document, in order. */
function shellBlocks(file: string): string[] {
  const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/**
 * The shell examples of the docs run as they are, in order, against a fresh server with a test
 * key in `$KEY` and its URL in `$KAIRO`: every curl answers 2xx (a failing one stops the script).
 */
describe('documentation examples', () => {
  let server: TestServer;
  let ws: TestWorkspace;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    ws = await server.workspace('free');
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each(['docs/analytics.md'])('%s runs verbatim in test mode', async (file) => {
    const blocks = shellBlocks(file);
    expect(blocks.length).toBeGreaterThan(0);
    const script = ['set -euo pipefail', 'curl() { command curl --fail-with-body "$@"; }', ...blocks].join('\n');
    const { stdout } = await run('bash', ['-c', script], { env: { ...process.env, KAIRO: server.url, KEY: ws.testKey }, timeout: 60_000 });
    expect(stdout).not.toContain('"error":{"type"');
    expect(stdout).toContain('"object":"list"');
  }, 90_000);
});
