import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { FetchError, type FetchResult, type SafeFetcher } from '../../context/ports.js';
import { validateArguments } from './json-schema.js';
import type { ToolDefinition, ToolResult } from './ports.js';
import { HTTP_TOOL_DEFAULT_TIMEOUT_MS, HTTP_TOOL_MAX_TIMEOUT_MS } from './validate.js';

/** An `http` tool definition. */
export type HttpToolDefinition = Extract<ToolDefinition, { type: 'http' }>;

/** Response size kept when the caller gives no cap. */
export const HTTP_TOOL_DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

export interface HttpToolContext {
  /** Outbound HTTP under the operator's address policy (private addresses refused). */
  fetcher: SafeFetcher;
  /** The workspace's `whsec_…` signing secret (see generateSigningSecret). */
  signingSecret: string;
  /** The secret it replaced, while both sign (each call then carries both signatures). */
  previousSigningSecret?: string | undefined;
  /** Stable across retries of the same tool call: sent as `webhook-id` and `Idempotency-Key`. */
  idempotencyKey: string;
  /** Sent as `KAIRO-Run-Id` so receivers can correlate calls. */
  runId: string;
  /** The run's abort signal; an abort rejects with its reason instead of returning a result. */
  signal?: AbortSignal;
  /** Response body cap in bytes; default 1 MiB. A larger response fails the call. */
  maxResponseBytes?: number;
}

/** What an `http` tool call puts in a failed result's `output`. */
export interface HttpToolErrorOutput {
  error: string;
  /** FetchError code (`address_blocked`, `timeout`, `bad_status`, `too_large`, …) or `invalid_response` / `invalid_arguments`. */
  code: string;
  /** The HTTP status, when the endpoint answered with a non-2xx one. */
  status?: number;
}

/**
 * Call an `http` tool: the arguments go as a JSON body (POST, PUT, PATCH; the default is POST) or
 * as the query string (GET, DELETE: strings, numbers and booleans as they are, arrays of those
 * as repeated keys, objects as JSON, nulls left out), signed the Standard Webhooks way:
 * `webhook-id` (the idempotency key), `webhook-timestamp` (Unix seconds) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`); for GET and DELETE the signed body is
 * empty, so the query string is not covered by the signature. `Idempotency-Key` repeats the id.
 *
 * Arguments are checked against `parameters` first. Every failure is a result with `ok: false`
 * and `output: { error, code, status? }`: invalid arguments, refused address, timeout
 * (`timeout_ms`, default 15 s, at most 60 s), non-2xx status, a response over the size cap, or a
 * body that is neither JSON nor text. JSON responses are parsed; text responses come back as a
 * string (never longer than the cap, which the fetcher enforces); an empty body is `null`.
 * Throws only when `ctx.signal` aborts (its reason) or the signing secret is malformed.
 */
export async function callHttpTool(definition: HttpToolDefinition, args: unknown, ctx: HttpToolContext): Promise<ToolResult> {
  const started = performance.now();
  const webhooks = [ctx.signingSecret, ...(ctx.previousSigningSecret ? [ctx.previousSigningSecret] : [])].map(createWebhook);
  ctx.signal?.throwIfAborted();
  const failure = (output: HttpToolErrorOutput): ToolResult => ({ ok: false, error: output.error, output, latencyMs: elapsed(started) });

  const check = validateArguments(definition.parameters, args);
  if (!check.ok) return failure({ error: `Invalid arguments: ${check.error}`, code: 'invalid_arguments' });
  const values = args as Record<string, unknown>;

  const method = definition.method ?? 'POST';
  const hasBody = method !== 'GET' && method !== 'DELETE';
  const body = hasBody ? JSON.stringify(values) : '';
  let url: string;
  try {
    url = hasBody ? definition.url : withQuery(definition.url, values);
  } catch {
    return failure({ error: 'The tool URL is not a valid URL.', code: 'invalid_url' });
  }

  const timestamp = new Date();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(definition.headers ?? {})) headers[name.toLowerCase()] = value;
  Object.assign(headers, {
    accept: headers.accept ?? 'application/json, text/plain;q=0.9, */*;q=0.1',
    ...(hasBody ? { 'content-type': 'application/json' } : {}),
    'webhook-id': ctx.idempotencyKey,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    // Standard Webhooks: several signatures, space-separated; a receiver accepts any it can verify.
    'webhook-signature': webhooks.map((webhook) => webhook.sign(ctx.idempotencyKey, timestamp, body)).join(' '),
    'idempotency-key': ctx.idempotencyKey,
    'kairo-run-id': ctx.runId,
  });

  const maxBytes = ctx.maxResponseBytes ?? HTTP_TOOL_DEFAULT_MAX_RESPONSE_BYTES;
  const timeoutMs = Math.min(Math.max(definition.timeout_ms ?? HTTP_TOOL_DEFAULT_TIMEOUT_MS, 1), HTTP_TOOL_MAX_TIMEOUT_MS);
  let response: FetchResult;
  try {
    response = await ctx.fetcher.fetch(url, {
      method,
      headers,
      ...(hasBody ? { body } : {}),
      maxBytes,
      timeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  } catch (error) {
    if (ctx.signal?.aborted) throw ctx.signal.reason;
    return failure(describeFetchError(error, { timeoutMs, maxBytes }));
  }

  const output = readBody(response);
  if ('invalid' in output) return failure({ error: output.invalid, code: 'invalid_response', status: response.status });
  return { ok: true, output: output.value, latencyMs: elapsed(started) };
}

/** A new signing secret for an agent's http tools: `whsec_` + base64 of 32 random bytes. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * True when a tool request's `webhook-*` headers carry a valid signature of `body` under
 * `secret` and its timestamp is within five minutes (Standard Webhooks' tolerance). For
 * receivers: pass the raw body exactly as received (empty for GET and DELETE). Never throws.
 */
export function verifyToolRequest(
  secret: string,
  headers: Record<string, string | string[] | undefined> | Headers,
  body: string | Buffer,
): boolean {
  const flat: Record<string, string> = {};
  const entries: Iterable<[string, string | string[] | undefined]> = isHeaders(headers) ? headers.entries() : Object.entries(headers);
  for (const [name, value] of entries) {
    const single = Array.isArray(value) ? value[0] : value;
    if (single !== undefined) flat[name.toLowerCase()] = single;
  }
  try {
    new Webhook(secret).verify(body, flat, { jsonParse: false });
    return true;
  } catch {
    return false;
  }
}

function isHeaders(headers: object): headers is Headers {
  return typeof (headers as Headers).entries === 'function' && typeof (headers as Headers).get === 'function';
}

function createWebhook(secret: string): Webhook {
  if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret)) throw new TypeError('The tool signing secret must be "whsec_" followed by base64.');
  return new Webhook(secret);
}

/** The URL with the arguments appended to its query string. */
function withQuery(base: string, args: Record<string, unknown>): string {
  const url = new URL(base);
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value) && value.every(isScalar)) {
      for (const item of value) url.searchParams.append(key, String(item));
    } else {
      url.searchParams.append(key, isScalar(value) ? String(value) : JSON.stringify(value));
    }
  }
  return url.href;
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** The response body as the model should see it, or why it cannot be used. */
function readBody(response: FetchResult): { value: unknown } | { invalid: string } {
  if (response.body.length === 0) return { value: null };
  const contentType = (response.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const isJson = contentType === 'application/json' || contentType.endsWith('+json');
  const isText = contentType.startsWith('text/') || contentType === '' || contentType === 'application/xml' || contentType.endsWith('+xml');
  if (!isJson && !isText) return { invalid: `The tool endpoint answered with ${contentType}, which is neither JSON nor text.` };

  const text = new TextDecoder('utf-8', { fatal: false }).decode(response.body);
  if (isJson || contentType === '') {
    try {
      // The parsed value goes back to the model as data; nothing here reads its fields.
      return { value: JSON.parse(text) as unknown };
    } catch {
      if (isJson) return { invalid: 'The tool endpoint declared JSON but sent a body that is not valid JSON.' };
    }
  }
  return { value: text };
}

function describeFetchError(error: unknown, limits: { timeoutMs: number; maxBytes: number }): HttpToolErrorOutput {
  if (!(error instanceof FetchError)) {
    return { error: `The tool request failed: ${error instanceof Error ? error.message : String(error)}`, code: 'network_error' };
  }
  switch (error.code) {
    case 'address_blocked':
      return { error: 'The tool URL resolves to a private, loopback or otherwise non-public address, which tools may not reach.', code: error.code };
    case 'timeout':
      return { error: `The tool endpoint did not answer within ${limits.timeoutMs} ms.`, code: error.code };
    case 'too_large':
      return { error: `The tool response is larger than the limit of ${limits.maxBytes} bytes.`, code: error.code };
    case 'bad_status':
      return { error: `The tool endpoint answered HTTP ${error.status ?? 'error'}.`, code: error.code, ...(error.status === undefined ? {} : { status: error.status }) };
    default:
      return { error: error.message, code: error.code };
  }
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
