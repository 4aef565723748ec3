import fs from 'node:fs';
import path from 'node:path';

/**
 * Makes the data directory (and any missing parents) and checks that KAIRO may write in it.
 * Throws an Error saying what is wrong, e.g. "The data directory /proc/kairo cannot be created
 * (no such file or directory)".
 */
export function prepareDataDir(dir: string): void {
  const absolute = path.resolve(dir);
  try {
    makeDirectory(absolute);
  } catch (error) {
    throw new Error(`The data directory ${absolute} cannot be created (${reason(error)})`);
  }
  try {
    fs.accessSync(absolute, fs.constants.W_OK | fs.constants.X_OK);
  } catch (error) {
    throw new Error(`The data directory ${absolute} is not writable (${reason(error)})`);
  }
}

/**
 * Node's `mkdirSync(…, { recursive: true })` never returns for a path the kernel refuses with
 * ENOENT although its parent exists (anything under /proc), so parents are made one at a time.
 */
function makeDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir);
    return;
  } catch (error) {
    if (isErrno(error) && error.code === 'EEXIST') return assertDirectory(dir);
    if (!isErrno(error) || error.code !== 'ENOENT' || path.dirname(dir) === dir) throw error;
  }
  makeDirectory(path.dirname(dir));
  try {
    fs.mkdirSync(dir);
  } catch (error) {
    // Made by someone else in between: as good as made here.
    if (isErrno(error) && error.code === 'EEXIST') return assertDirectory(dir);
    throw error;
  }
}

function assertDirectory(dir: string): void {
  if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} is a file`);
}

function isErrno(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

/** `ENOENT: no such file or directory, mkdir '/proc/kairo'` → `no such file or directory`. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /^E[A-Z]+: ([^,]+)/.exec(message)?.[1] ?? message;
}
