import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (the CLI runs from there, through tsx). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Writes a `kairo` command into `dir` that runs the CLI from the sources (through tsx, from any
 * working directory), so that a shell with `dir` on its PATH runs `kairo …` as docs/cli.md does.
 */
export function writeKairoCommand(dir: string): void {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const entry = path.join(repoRoot, 'src/cli/index.ts');
  const file = path.join(dir, 'kairo');
  fs.writeFileSync(file, `#!/bin/sh\nexec "${process.execPath}" --import "${tsx}" "${entry}" "$@"\n`);
  fs.chmodSync(file, 0o755);
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A `kairo` process started from the sources, with everything it printed so far. */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout match of `pattern`; rejects if the process exits first or on timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when the process has exited (at once if it already has). */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, then wait for the exit. */
  kill9(): Promise<void>;
}

const running = new Set<CliProcess>();

/**
 * Runs `node --import tsx src/cli/index.ts ...args` from the repository root. KAIRO_* and OTEL_*
 * variables of the test environment are not passed on, so only the given flags (and `env`, when
 * given) configure it.
 */
export function spawnCli(args: string[], options: { env?: Record<string, string> } = {}): CliProcess {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('KAIRO_') && !name.startsWith('OTEL_')) env[name] = value;
  Object.assign(env, options.env);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], {
    cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      running.delete(handle);
      notify();
      resolve(exit);
    });
  });

  const handle: CliProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = out.match(pattern);
          if (match) {
            done();
            resolve(match);
          } else if (exit) {
            done();
            reject(new Error(`kairo exited (${exit.code ?? exit.signal}) before printing ${pattern}.\nstdout:\n${out}\nstderr:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`kairo did not print ${pattern} within ${timeoutMs} ms.\nstdout:\n${out}\nstderr:\n${err}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    exited: () => exitPromise,
    async kill9() {
      if (!exit) child.kill('SIGKILL');
      await exitPromise;
    },
  };
  running.add(handle);
  return handle;
}

/** Kills (SIGKILL) every CLI process this module started that is still running. */
export async function killAllCli(): Promise<void> {
  await Promise.all([...running].map((proc) => proc.kill9()));
}
