import Table from 'cli-table3';
import { ConnectionError, KairoError } from '../../client/index.js';

/** A command line that cannot be run as written (exit code 2, like commander's own errors). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A request that succeeded but whose work did not (a failed run or document): exit code 1. */
export class WorkFailedError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'WorkFailedError';
  }
}

type Stream = NodeJS.WriteStream;

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const pad = (n: number) => String(n).padStart(2, '0');

/** An RFC 3339 UTC time as local ISO 8601 with its offset, to the second: `2026-12-03T10:15:42+01:00`. */
export function localIso(value: string | Date): string {
  const date = typeof value === 'string' ? new Date(value) : value;
  const offset = -date.getTimezoneOffset();
  const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 19);
  const abs = Math.abs(offset);
  return `${local}${offset >= 0 ? '+' : '-'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** A value as one cell or field: times in local ISO, `-` for nothing, lists joined, objects as short JSON. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return RFC3339_UTC.test(value) ? localIso(value) : value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value) && value.every((item) => item === null || typeof item !== 'object')) {
    return value.length === 0 ? '-' : value.map(cell).join(', ');
  }
  const json = JSON.stringify(value);
  return json.length > 160 ? `${json.slice(0, 159)}…` : json;
}

/** USD with enough digits to show the small costs of single runs. */
export function usd(value: unknown): string {
  if (typeof value !== 'number') return '-';
  return value === 0 || value >= 0.01 ? `$${value.toFixed(2)}` : `$${value.toPrecision(2)}`;
}

export function bytes(value: number): string {
  if (value < 1024) return `${value} B`;
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / (1024 * 1024)).toFixed(1)} MiB`;
}

/** A column of a table: its heading and what each row shows in it. */
export type Column<T> = [heading: string, value: (row: T) => unknown];

const colorAllowed = (stream: Stream) => stream.isTTY === true && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';

/**
 * What a client command prints. With `--json`, stdout carries the API's JSON and nothing else;
 * live text and progress go to stderr. For people, lists are tables and objects `key: value`
 * lines, with colour only on a terminal.
 */
export class Output {
  readonly json: boolean;
  /** Where live text (streamed deltas, event lines) goes: stdout for people, stderr under --json. */
  readonly live: Stream;
  readonly #color: boolean;
  readonly #liveColor: boolean;

  constructor(json: boolean, readonly stdout: Stream = process.stdout, readonly stderr: Stream = process.stderr) {
    this.json = json;
    this.live = json ? stderr : stdout;
    this.#color = colorAllowed(stdout);
    this.#liveColor = colorAllowed(this.live);
  }

  /** The API's answer as JSON under --json; otherwise what `human` prints. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else human();
  }

  line(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  /** A line of live output (a note between streamed text, a summary after it). */
  liveLine(text: string): void {
    this.live.write(`${text}\n`);
  }

  dim(text: string, stream: 'stdout' | 'live' = 'stdout'): string {
    return this.#paint(stream, '2', text);
  }

  bold(text: string, stream: 'stdout' | 'live' = 'stdout'): string {
    return this.#paint(stream, '1', text);
  }

  /** A status word, green when it went well, red when it failed, yellow while it waits. */
  status(value: string, stream: 'stdout' | 'live' = 'stdout'): string {
    const code = ['completed', 'indexed', 'succeeded', 'active'].includes(value) ? '32' : ['failed', 'cancelled'].includes(value) ? '31' : '33';
    return this.#paint(stream, code, value);
  }

  table<T>(rows: T[], columns: Column<T>[], empty = '(none)'): void {
    if (rows.length === 0) {
      this.line(empty);
      return;
    }
    const table = new Table({
      head: columns.map(([heading]) => heading),
      // No rule between rows: one line per row reads as a list.
      chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
      style: { head: this.#color ? ['cyan'] : [], border: this.#color ? ['grey'] : [] },
    });
    for (const row of rows) table.push(columns.map(([, value]) => cell(value(row))));
    this.line(table.toString());
  }

  /** An object as aligned `key: value` lines, in the API's order; `omit` leaves fields out. */
  object(value: object, omit: string[] = ['object']): void {
    const entries = Object.entries(value).filter(([key]) => !omit.includes(key));
    const width = Math.max(...entries.map(([key]) => key.length)) + 1;
    for (const [key, field] of entries) {
      const text = cell(field).replace(/\n/g, `\n${' '.repeat(width + 1)}`);
      this.line(`${this.bold(`${key}:`.padEnd(width))} ${text}`);
    }
  }

  #paint(stream: 'stdout' | 'live', code: string, text: string): string {
    const color = stream === 'stdout' ? this.#color : this.#liveColor;
    return color ? `\u001b[${code}m${text}\u001b[0m` : text;
  }
}

/**
 * The line a failure prints on stderr and its exit code: 2 for a command line that cannot run,
 * 1 for an API error (its code, status, message, field and request id) or failed work.
 */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof UsageError) return { message: `kairo: ${error.message}`, exitCode: 2 };
  if (error instanceof WorkFailedError) return { message: `kairo: ${error.code}: ${error.message}`, exitCode: 1 };
  if (error instanceof KairoError) {
    const code = error.code ?? (error instanceof ConnectionError ? 'connection_error' : 'api_error');
    const status = error.status === undefined ? '' : ` (${error.status})`;
    const param = error.param ? ` [param: ${error.param}]` : '';
    const request = error.requestId ? ` [request: ${error.requestId}]` : '';
    return { message: `kairo: ${code}${status}: ${error.message}${param}${request}`, exitCode: 1 };
  }
  return { message: `kairo: ${error instanceof Error ? error.message : String(error)}`, exitCode: 1 };
}
