import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { spawnTracked, waitForOutput } from './children.js';

// KAIRO as the runs and workflows benchmarks drive it: the built server in its own process on
// SQLite, the operator CLI against the same data directory, and keep-alive HTTP clients.

const execFileAsync = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** This checkout's build; `--cli FILE` points a benchmark at another one, to compare before and after a change. */
export const builtCli = path.join(root, 'dist/cli/index.js');

async function kairoCli(cli: string, args: string[], dataDir: string): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, [cli, ...args, '--data', dataDir], { cwd: root, timeout: 30_000 });
  return stdout.trim();
}

export interface Kairo {
  base: string;
  key: string;
  /** The server process, for its CPU time. */
  pid: number;
}

export interface KairoStart {
  /** The CLI to serve from: {@link builtCli} or another build's. */
  cli: string;
  dataDir: string;
  /** Of the workspace and the key, so the data tells which benchmark made them. */
  name: string;
  /** Where the server writes its CPU profile on exit; no profiling without one. */
  cpuProfDir: string | undefined;
  /** More `kairo serve` flags (e.g. `--analytics off`). */
  serveArgs?: string[];
}

/**
 * `kairo serve` from `cli` on a free port of 127.0.0.1 with more flags (the database's, say), in
 * its own tracked process; resolves once it listens and `ready` (if given) matches its output.
 */
export async function serveKairo(cli: string, args: string[], options: { cpuProfDir?: string | undefined; ready?: (stdout: string) => boolean } = {}): Promise<{ base: string; pid: number; output: string }> {
  const profile = options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : [];
  const child = spawnTracked([...profile, cli, 'serve', '--port', '0', '--log-level', 'warn', ...args]);
  const ready = options.ready ?? (() => true);
  const output = await waitForOutput(child, 'kairo serve', (s) => /listening on http:\/\/\S+/.test(s) && ready(s));
  const base = /listening on (http:\/\/[^\s]+)/.exec(output)![1]!;
  if (!base.startsWith('http://127.0.0.1:')) throw new Error(`kairo serve is not on 127.0.0.1: ${base}`);
  return { base, pid: child.pid!, output };
}

/** The built server on SQLite, and a test key of an enterprise workspace (no rate limit, no run cap). */
export async function startKairo({ cli, dataDir, name, cpuProfDir, serveArgs = [] }: KairoStart): Promise<Kairo> {
  const { base, pid } = await serveKairo(cli, ['--data', dataDir, ...serveArgs], { cpuProfDir, ready: (s) => /test key: sk_test_\S+\n/.test(s) });
  const workspaceId = await kairoCli(cli, ['workspaces', 'create', '--name', name, '--plan', 'enterprise'], dataDir);
  if (!/^ws_\w+$/.test(workspaceId)) throw new Error(`workspaces create printed ${JSON.stringify(workspaceId)}`);
  const key = await kairoCli(cli, ['keys', 'create', '--workspace', workspaceId, '--mode', 'test', '--name', name], dataDir);
  if (!/^sk_test_\S+$/.test(key)) throw new Error('keys create did not print a test secret');
  return { base, key, pid };
}

export interface HttpResult {
  status: number;
  body: any;
}

/** Keep-alive HTTP/1.1 client with the test key: `connections` sockets, no pipelining. */
export function httpClient(kairo: Kairo, connections: number) {
  const pool = new Pool(kairo.base, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { authorization: `Bearer ${kairo.key}`, 'content-type': 'application/json' };
  return {
    async request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', urlPath: string, body?: unknown): Promise<HttpResult> {
      const response = await pool.request({ method, path: urlPath, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await response.body.text();
      return { status: response.statusCode, body: text ? JSON.parse(text) : undefined };
    },
    close: () => pool.close(),
  };
}

export type HttpClient = ReturnType<typeof httpClient>;
