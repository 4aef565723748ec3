import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CONSOLE_DIR } from '../../src/http/console-page.js';
import { repoRoot } from './cli.js';

const run = promisify(execFile);

/** The newest modification time under `dir` (files only). */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/**
 * Builds the console into dist/console (as `npm run build` does) unless a build newer than every
 * source of the console and of the client it uses is there already: tests run from source, and
 * the server serves what was built.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const index = path.join(CONSOLE_DIR, 'index.html');
  const sources = Math.max(newest(path.join(repoRoot, 'console')), newest(path.join(repoRoot, 'src/client')));
  if (fs.existsSync(index) && fs.statSync(index).mtimeMs > sources) return;
  await run(process.execPath, [path.join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'console/vite.config.ts'], {
    cwd: repoRoot,
    timeout: 120_000,
  });
}
