import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { repoRoot, writeKairoCommand } from '../support/cli.js';

const run = promisify(execFile);

/** README.md and every guide under docs/. */
const documents = ['README.md', ...fs.readdirSync(path.join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

/** The shell (`sh` or `bash`) blocks of a document, in order. */
function shellBlocks(file: string): string[] {
  const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
  return [...text.matchAll(/```(?:sh|bash)\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/**
 * A shell block is an example of the API when it uses `$KAIRO` (docs/api.md, "Running the
 * examples") or runs a client command of the `kairo` CLI (docs/cli.md); those run. The other
 * shell blocks are commands for the operator's machine (installing, starting, benchmarks,
 * settings) and are not run.
 */
const isExample = (block: string) => block.includes('$KAIRO') || /\bkairo (agents|runs|workflows|context|analytics) /.test(block);

const withExamples = documents.filter((file) => shellBlocks(file).some(isExample));

/**
 * The shell examples of the docs run as they are, each document's in order, against a fresh
 * server in test mode, as docs/api.md says: a new workspace's test key in `$KEY`, the server's
 * URL in `$KAIRO`, outbound calls to the server itself allowed, `kairo` on the PATH (the CLI of
 * this checkout), and a TMPDIR of their own for the files an example writes. Every curl
 * answers 2xx and every kairo command exits 0 (a failing one stops the script), and no run fails.
 */
describe('documentation examples', () => {
  let server: TestServer;
  let bin: string;
  const tmpDirs: string[] = [];

  beforeAll(async () => {
    server = await startTestServer('sqlite', { outboundAllowCidrs: '127.0.0.1/32' });
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'kairo-bin-'));
    writeKairoCommand(bin);
  });
  afterAll(async () => {
    await server?.close();
    for (const dir of [bin, ...tmpDirs]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds the examples of every guide, and no API call outside them', () => {
    expect(withExamples).toEqual(expect.arrayContaining(['docs/agents.md', 'docs/analytics.md', 'docs/api.md', 'docs/cli.md', 'docs/context.md', 'docs/models.md', 'docs/workflows.md']));
    for (const file of documents) {
      for (const block of shellBlocks(file)) {
        if (!isExample(block)) expect(block, `${file}: a shell block that calls the API must use $KAIRO`).not.toMatch(/\bcurl\b|\/v1\//);
      }
    }
  });

  it.each(withExamples)('%s runs verbatim in test mode', async (file) => {
    const ws = await server.workspace('free');
    const script = ['set -euo pipefail', 'curl() { command curl --fail-with-body "$@"; }', ...shellBlocks(file).filter(isExample)].join('\n');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kairo-docs-'));
    tmpDirs.push(tmp);
    const env = { ...process.env, KAIRO: server.url, KEY: ws.testKey, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, TMPDIR: tmp };
    // docs/cli.md starts a few dozen CLI processes, each loading the sources through tsx.
    const { stdout } = await run('bash', ['-c', script], { env, timeout: 300_000 });
    expect(stdout).not.toContain('"error":{"type"');
    expect(stdout).not.toMatch(/"status":\s*"failed"/);
  }, 330_000);
});
