import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/cli.js';

const run = promisify(execFile);

/** Every flag and environment variable `kairo serve --help` and `kairo worker --help` name is in the README's settings table. */
describe('README settings', () => {
  it.each(['serve', 'worker'])('documents every setting of kairo %s', async (command) => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', command, '--help'], { cwd: repoRoot });
    const flags = [...stdout.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]!).filter((flag) => flag !== '--help');
    const variables = [...new Set([...stdout.matchAll(/\b((?:KAIRO|OTEL)_[A-Z_]+)\b/g)].map((m) => m[1]!))];
    expect(flags.length).toBeGreaterThan(20);
    const table = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8').split('\n').filter((line) => line.startsWith('| '));
    const missing = [...flags, ...variables].filter((name) => !table.some((row) => row.includes(`\`${name}\``)));
    expect(missing).toEqual([]);
  }, 30_000);
});
