import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { Kairo } from '../../client/index.js';
import { Output, UsageError } from './output.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The heading of the API client commands in `kairo --help`. */
export const CLIENT_COMMANDS = 'API client commands (talk to a running server):';

interface ConnectionOptions {
  url: string;
  apiKey?: string;
  json?: boolean;
}

/** What a client command works with: the typed client and where its output goes. */
export interface Session {
  kairo: Kairo;
  out: Output;
}

/** The options every API client command takes: where the server is, the key, and --json. */
export function withClientOptions(command: Command): Command {
  const group = 'Connection options:';
  return command
    .addOption(new Option('--url <url>', 'the KAIRO server').env('KAIRO_URL').default(DEFAULT_URL).helpGroup(group))
    .addOption(new Option('--api-key <key>', 'secret key, sk_live_… or sk_test_… (prefer the variable: flags show in ps)').env('KAIRO_API_KEY').helpGroup(group))
    .addOption(new Option('--json', "print the API's JSON only; live output and progress go to stderr").helpGroup(group));
}

/** The client and output of the command being run, from its connection options. */
export function openSession(command: Command): Session {
  const options = command.opts<ConnectionOptions>();
  if (!options.apiKey) throw new UsageError('no API key: pass --api-key or set KAIRO_API_KEY (sk_live_… or sk_test_…).');
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new UsageError(`--url is not a URL: ${options.url}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be http:// or https://: ${options.url}`);
  const baseUrl = url.href.replace(/\/+$/, '');
  // `kairo … | head` closes stdout early: that is the reader's choice, not a failure.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  return { kairo: new Kairo({ apiKey: options.apiKey, baseUrl }), out: new Output(Boolean(options.json)) };
}

/** A JSON value given on the command line (`--input '{"a": 1}'`). */
export function parseJson(value: string, flag: string): unknown {
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new UsageError(`${flag} is not valid JSON: ${(error as Error).message}`);
  }
}

/** A JSON object given on the command line. */
export function parseJsonObject(value: string, flag: string): Record<string, unknown> {
  const parsed = parseJson(value, flag);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`${flag} must be a JSON object.`);
  return parsed as Record<string, unknown>;
}

/** A JSON file, or standard input for `-`. */
export function readJsonFile(path: string, flag: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseJson(text, `${flag} ${path}`);
}

/** A whole number option within bounds. */
export function parseCount(value: string | undefined, flag: string, min = 1, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}.`);
  return n;
}

/** A number option of at least 0. */
export function parseAmount(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a number of at least 0.`);
  return n;
}

/** The first `limit` objects of a list, following its cursor. */
export async function collect<T>(items: AsyncIterable<T>, limit: number): Promise<T[]> {
  const collected: T[] = [];
  if (limit <= 0) return collected;
  for await (const item of items) {
    collected.push(item);
    if (collected.length >= limit) break;
  }
  return collected;
}

/** The `--limit` every list command takes: how many objects to show. */
export function withLimit(command: Command, what: string): Command {
  return command.option('--limit <n>', `how many ${what} to show, newest first`, '20');
}

/** The page size for fetching `limit` objects. */
export const pageSize = (limit: number) => Math.min(100, Math.max(1, limit));
