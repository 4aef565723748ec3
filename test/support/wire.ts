/**
 * Raw HTTP for adversarial suites: exact paths (no URL normalisation), any header bytes, bodies
 * with or without Content-Length, and the invariants every KAIRO response must satisfy
 * (docs/api.md).
 */
import http from 'node:http';
import { errorCatalogue, type ErrorCode } from '../../src/errors.js';
import { errorStatuses } from '../../src/http/error-status.js';
import type { ApiResponse } from './server.js';

export interface WireRequest {
  method: string;
  /** Sent byte for byte: encode it yourself. */
  path: string;
  /** Sent as `Authorization: Bearer <key>`. */
  key?: string;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings and buffers as they are (with content-type application/json unless given). */
  body?: unknown;
  /** Stream the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
}

export interface WireResponse extends ApiResponse {
  /** One line describing the request, for failure messages. */
  request: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function shorten(value: string, max = 160): string {
  return value.length <= max ? value : `${value.slice(0, max)}…(${value.length} chars)`;
}

export function describeRequest(req: WireRequest): string {
  const body =
    req.body === undefined ? '' : ` body=${shorten(typeof req.body === 'string' ? JSON.stringify(req.body) : Buffer.isBuffer(req.body) ? `<${req.body.length} bytes>` : JSON.stringify(req.body) ?? String(req.body))}`;
  const headers = req.headers ? ` headers=${shorten(JSON.stringify(req.headers))}` : '';
  return `${req.method} ${shorten(req.path)}${req.key === undefined ? '' : ` key=${shorten(req.key, 20)}`}${headers}${body}`;
}

/** Sends one request over a real socket and parses the answer. */
export function send(baseUrl: string, req: WireRequest): Promise<WireResponse> {
  const url = new URL(baseUrl);
  const headers: Record<string, string> = { ...req.headers };
  if (req.key !== undefined) headers.authorization = `Bearer ${req.key}`;
  let payload: Buffer | undefined;
  if (req.body !== undefined) {
    payload = Buffer.isBuffer(req.body)
      ? req.body
      : Buffer.from(typeof req.body === 'string' ? req.body : JSON.stringify(req.body), 'utf8');
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    // Node sends chunked bodies by default only for some methods (not DELETE): say so explicitly.
    if (req.chunked) headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = String(payload.length);
  }
  const description = describeRequest(req);
  return new Promise<WireResponse>((resolve, reject) => {
    let answered = false;
    const request = http.request(
      // A body the server may refuse unread (413) goes on a connection of its own: the server
      // closes it, and a pooled socket would fail the next request with ECONNRESET.
      { host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent: (payload?.length ?? 0) > 64 * 1024 || req.chunked ? false : agent },
      (response) => {
        answered = true;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const out = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined) out.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          let body: unknown;
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: response.statusCode ?? 0, headers: out, body, text, request: description });
        });
      },
    );
    request.on('error', (error) => {
      // The server may answer (413) and close before it has read the whole body.
      if (!answered) reject(new Error(`${description}: ${String(error)}`));
    });
    if (payload && req.chunked) {
      const size = 64 * 1024;
      for (let i = 0; i < payload.length; i += size) request.write(payload.subarray(i, i + size));
      request.end();
    } else {
      request.end(payload);
    }
  });
}

export function closeWireAgent(): void {
  agent.destroy();
}

const ERROR_FIELDS = new Set(['type', 'code', 'message', 'param', 'request_id']);
const AUTH_CODES = new Set<string>(['missing_api_key', 'invalid_api_key', 'api_key_revoked']);

export interface InvariantOptions {
  /**
   * The request carried a valid key for a secured route and reached the router: unless refused
   * at authentication or not routed, the answer must carry the rate-limit headers.
   */
  rateLimited?: boolean;
}

function fail(res: WireResponse, message: string): never {
  throw new Error(`${message}\n  request:  ${res.request}\n  response: ${res.status} ${shorten(res.text, 600)}`);
}

/** The checks every response to every request must pass, whatever was sent. */
export function checkInvariants(res: WireResponse, options: InvariantOptions = {}): void {
  if (res.status >= 500) fail(res, `server error ${res.status}`);
  if (!((res.status >= 200 && res.status < 300) || (res.status >= 400 && res.status < 500))) fail(res, `status ${res.status} is neither 2xx nor 4xx`);

  const requestId = res.headers.get('x-request-id');
  if (!requestId || !/^req_[0-9a-z]{26}$/.test(requestId)) fail(res, `missing or malformed X-Request-Id: ${requestId}`);

  const isHead = res.request.startsWith('HEAD ');
  if (!isHead && res.status !== 204) {
    if (!/^application\/json/.test(res.headers.get('content-type') ?? '')) fail(res, `content-type ${res.headers.get('content-type')} is not JSON`);
    if (res.body === undefined) fail(res, 'body is not JSON');
  }

  if (res.status >= 400 && !isHead) checkErrorShape(res);

  const code: string | undefined = res.body?.error?.code;
  if (options.rateLimited && !(code && (AUTH_CODES.has(code) || code === 'route_not_found'))) {
    for (const header of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) {
      const value = res.headers.get(header);
      if (value === null) fail(res, `authenticated response lacks ${header}`);
      if (header === 'x-ratelimit-reset' ? !/^\d+$/.test(value) : !/^(\d+|unlimited)$/.test(value)) fail(res, `${header}: ${value} is malformed`);
    }
  }
  if (res.status === 429) {
    const retryAfter = res.headers.get('retry-after');
    if (retryAfter === null || !/^\d+$/.test(retryAfter) || Number(retryAfter) < 1) fail(res, `429 without a valid Retry-After (${retryAfter})`);
  }
}

/** Operations that answer errors in OpenAI's shape instead of KAIRO's (docs/openai-compatibility.md). */
const OPENAI_SHAPED = /^[A-Z]+ \/v1\/(chat\/completions|responses)(?=[/? ]|$)/;

/** OpenAI's error family for a status, as the OpenAI-compatible routes answer it. */
function openAiTypeOf(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

/**
 * Exactly `{error: {message, type, param, code}}` (param and code null or a string): a catalogued
 * code with its catalogued status, or `model_not_found` (404); the type follows from the status.
 */
function checkOpenAiErrorShape(res: WireResponse): void {
  const error = res.body?.error;
  if (Object.keys(res.body ?? {}).join() !== 'error' || error === null || typeof error !== 'object') fail(res, 'not an OpenAI error body');
  if (Object.keys(error).sort().join() !== 'code,message,param,type') fail(res, `OpenAI error fields are ${Object.keys(error).join()}`);
  if (typeof error.message !== 'string' || error.message === '') fail(res, 'error.message missing');
  if (error.param !== null && typeof error.param !== 'string') fail(res, 'error.param is neither null nor a string');
  if (typeof error.code !== 'string' || error.code === '') fail(res, 'error.code missing');
  const reference = error.code === 'resource_missing' && res.status === 400 && typeof error.param === 'string';
  const status = error.code === 'model_not_found' ? 404 : reference ? 400 : errorStatuses[error.code as ErrorCode];
  if (status === undefined) fail(res, `error code ${error.code} is not in the error catalogue`);
  if (status !== res.status) fail(res, `code ${error.code} is catalogued with status ${status}, answered ${res.status}`);
  if (error.type !== openAiTypeOf(res.status)) fail(res, `status ${res.status} answered with type ${error.type}`);
  if (/\n\s+at |node_modules|\/src\/|\.ts:\d+/.test(error.message)) fail(res, 'error message leaks internals');
}

/**
 * Exactly `{error: {type, code, message, param?, request_id}}`, consistent with the error catalogue;
 * in OpenAI's shape on the OpenAI-compatible operations.
 */
export function checkErrorShape(res: WireResponse): void {
  // Refusals made before a route is found (no such method, a malformed URL, over-size headers) keep KAIRO's shape.
  const beforeRouting = ['route_not_found', 'invalid_request'].includes(res.body?.error?.code) && 'request_id' in (res.body?.error ?? {});
  if (OPENAI_SHAPED.test(res.request) && !beforeRouting) return checkOpenAiErrorShape(res);
  const body = res.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) fail(res, 'error body is not an object');
  const top = Object.keys(body);
  if (top.length !== 1 || top[0] !== 'error') fail(res, `error body has keys ${JSON.stringify(top)}, expected exactly ["error"]`);
  const error = body.error;
  if (error === null || typeof error !== 'object' || Array.isArray(error)) fail(res, 'error is not an object');
  for (const key of Object.keys(error)) if (!ERROR_FIELDS.has(key)) fail(res, `unexpected error field ${key}`);
  for (const key of ['type', 'code', 'message', 'request_id']) {
    if (typeof error[key] !== 'string' || error[key] === '') fail(res, `error.${key} missing or not a non-empty string`);
  }
  if ('param' in error && typeof error.param !== 'string') fail(res, 'error.param is not a string');
  if (error.request_id !== res.headers.get('x-request-id')) fail(res, `request_id ${error.request_id} differs from X-Request-Id ${res.headers.get('x-request-id')}`);
  const catalogued = (errorCatalogue as Record<string, { type: string }>)[error.code];
  if (!catalogued) fail(res, `error code ${error.code} is not in the error catalogue`);
  // An object that a field of the request refers to is missing: the request is invalid (400), naming the field.
  const reference = error.code === 'resource_missing' && res.status === 400 && typeof error.param === 'string';
  const spec = reference ? { status: 400, type: 'invalid_request_error' } : { status: errorStatuses[error.code as ErrorCode], type: catalogued.type };
  if (spec.status !== res.status) fail(res, `code ${error.code} is catalogued with status ${spec.status}, answered ${res.status}`);
  if (spec.type !== error.type) fail(res, `code ${error.code} is catalogued with type ${spec.type}, answered ${error.type}`);
  if (/\n\s+at |node_modules|\/src\/|\.ts:\d+/.test(error.message)) fail(res, 'error message leaks internals');
}

/** Asserts an error with one of the given codes (and the status the catalogue gives it). */
export function expectError(res: WireResponse, codes: ErrorCode | ErrorCode[]): void {
  const allowed = Array.isArray(codes) ? codes : [codes];
  const code = res.body?.error?.code;
  if (!allowed.includes(code)) fail(res, `expected error ${allowed.join(' or ')}, got ${res.status} ${code ?? '(no error code)'}`);
}

/** Asserts that `param` names `field` (or a part of it, for unions and nested objects). */
export function expectParam(res: WireResponse, field: string): void {
  const param: unknown = res.body?.error?.param;
  if (typeof param !== 'string') fail(res, `expected error.param naming ${JSON.stringify(field)}, got none`);
  const related = param === field || param.startsWith(`${field}.`) || param.startsWith(`${field}[`);
  if (!related) fail(res, `expected error.param ${JSON.stringify(field)}, got ${JSON.stringify(param)}`);
}

export function expectStatus(res: WireResponse, statuses: number | number[]): void {
  const allowed = Array.isArray(statuses) ? statuses : [statuses];
  if (!allowed.includes(res.status)) fail(res, `expected status ${allowed.join(' or ')}, got ${res.status}`);
}
