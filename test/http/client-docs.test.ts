/**
 * The TypeScript examples of docs/client.md, type-checked and run as they are against a fresh
 * server in test mode, each in its own process, with `kairo/client` mapped to src/client.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { repoRoot } from '../support/cli.js';

const run = promisify(execFile);
const guide = fs.readFileSync(path.join(repoRoot, 'docs/client.md'), 'utf8');
const examples = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

/**
 * What an example says it prints: the comment after each `console.log(…);`, a line of the
 * output, in order, where `…` stands for anything.
 */
function expectedLines(example: string): RegExp[] {
  return [...example.matchAll(/^.*console\.log\(.*\); \/\/ (.+)$/gm)].map(
    (m) => new RegExp(`^${m[1]!.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`),
  );
}

describe('docs/client.md', () => {
  let server: TestServer;
  // Beside the tests, as dotfiles: inside the project (its packages resolve) and outside every include glob.
  const dir = path.join(repoRoot, 'test');
  const tag = `${process.pid}-${Date.now()}`;
  const files = examples.map((_, i) => path.join(dir, `.client-doc-example-${tag}-${i + 1}.mts`));
  const tsconfig = path.join(dir, `.client-doc-tsconfig-${tag}.json`);

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    examples.forEach((example, i) => fs.writeFileSync(files[i]!, example));
    fs.writeFileSync(tsconfig, JSON.stringify({
      extends: '../tsconfig.json',
      compilerOptions: { noEmit: true, rootDir: '..', paths: { 'kairo/client': ['../src/client/index.ts'] } },
      files: files.map((file) => path.basename(file)),
      include: [],
    }));
  });
  afterAll(async () => {
    for (const file of [...files, tsconfig]) fs.rmSync(file, { force: true });
    await server?.close();
  });

  it('has examples of usage, idempotency, errors, pagination and streaming, each saying what it prints', () => {
    expect(examples).toHaveLength(5);
    for (const example of examples) {
      expect(example).toContain("from 'kairo/client'");
      expect(expectedLines(example).length).toBeGreaterThan(0);
    }
  });

  it('type-checks every example against the client', async () => {
    const result = await run(path.join(repoRoot, 'node_modules/.bin/tsc'), ['-p', tsconfig], { cwd: repoRoot, timeout: 120_000 })
      .then(() => '')
      .catch((error: { stdout?: string }) => error.stdout ?? String(error));
    expect(result).toBe('');
  }, 150_000);

  it.each(examples.map((_, i) => i))('runs example %i verbatim in test mode and prints what it says', async (i) => {
    const ws = await server.workspace('free');
    const { stdout } = await run(path.join(repoRoot, 'node_modules/.bin/tsx'), ['--tsconfig', tsconfig, files[i]!], {
      cwd: repoRoot, env: { ...process.env, KAIRO: server.url, KEY: ws.testKey }, timeout: 60_000,
    });
    const lines = stdout.split('\n');
    let from = 0;
    for (const expected of expectedLines(examples[i]!)) {
      const at = lines.findIndex((line, n) => n >= from && expected.test(line));
      expect(at, `${expected} in:\n${stdout}`).toBeGreaterThanOrEqual(0);
      from = at + 1;
    }
  }, 90_000);
});
