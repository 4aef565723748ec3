/**
 * http tools against a receiver on 127.0.0.1 that checks every request's Standard Webhooks
 * signature itself (with `standardwebhooks`, as a user's receiver would) and records what it got.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callHttpTool, generateSigningSecret, verifyToolRequest, type HttpToolDefinition } from '../../src/agents/tools/http-tool.js';
import { createSafeFetcher, type ClosableSafeFetcher } from '../../src/net/safe-fetch.js';

interface Received {
  method: string;
  path: string;
  query: Record<string, string[]>;
  headers: http.IncomingHttpHeaders;
  body: string;
  signatureValid: boolean;
  libraryVerified: boolean;
}

const secret = generateSigningSecret();
let server: http.Server;
let base: string;
const received: Received[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const body = Buffer.concat(chunks).toString();
      const query: Record<string, string[]> = {};
      for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key);
      let libraryVerified = false;
      try {
        new Webhook(secret).verify(body, req.headers as Record<string, string>, { jsonParse: false });
        libraryVerified = true;
      } catch {
        libraryVerified = false;
      }
      received.push({ method: req.method ?? '', path: url.pathname, query, headers: req.headers, body, signatureValid: verifyToolRequest(secret, req.headers, body), libraryVerified });
      route(url.pathname, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function route(path: string, body: string, res: http.ServerResponse): void {
  switch (path) {
    case '/json':
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ received: body === '' ? null : (JSON.parse(body) as unknown), ok: true }));
      return;
    case '/text':
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('plain answer');
      return;
    case '/empty':
      res.writeHead(204);
      res.end();
      return;
    case '/error':
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"error":"boom"}');
      return;
    case '/not-found':
      res.writeHead(404);
      res.end();
      return;
    case '/bad-json':
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{not json');
      return;
    case '/binary':
      res.writeHead(200, { 'Content-Type': 'image/png' });
      res.end(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
      return;
    case '/big':
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('x'.repeat(5000));
      return;
    case '/slow':
      setTimeout(() => {
        if (!res.destroyed) res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      }, 2000);
      return;
    default:
      res.writeHead(404);
      res.end();
  }
}

const fetchers: ClosableSafeFetcher[] = [];
function loopbackFetcher(allowCidrs: string[] = ['127.0.0.0/8']): ClosableSafeFetcher {
  const fetcher = createSafeFetcher({ allowCidrs });
  fetchers.push(fetcher);
  return fetcher;
}

afterEach(async () => {
  await Promise.all(fetchers.splice(0).map((fetcher) => fetcher.close()));
  received.length = 0;
});

const parameters = { type: 'object', properties: { q: { type: 'string' }, n: { type: 'integer' }, tags: { type: 'array' }, filter: { type: 'object' } } };
function tool(path: string, extra: Partial<HttpToolDefinition> = {}): HttpToolDefinition {
  return { type: 'http', name: 'lookup', url: `${base}${path}`, parameters, ...extra };
}
let keyCounter = 0;
function ctx(extra: Partial<Parameters<typeof callHttpTool>[2]> = {}): Parameters<typeof callHttpTool>[2] {
  return { fetcher: loopbackFetcher(), signingSecret: secret, idempotencyKey: `call_${++keyCounter}`, runId: 'run_test', ...extra };
}

describe('callHttpTool', () => {
  it('POSTs the arguments as signed JSON and parses a JSON answer', async () => {
    const context = ctx();
    const result = await callHttpTool(tool('/json', { headers: { 'X-Api-Key': 'abc' } }), { q: 'acme', n: 3 }, context);
    expect(result).toMatchObject({ ok: true, output: { received: { q: 'acme', n: 3 }, ok: true } });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    const request = received[0]!;
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['x-api-key']).toBe('abc');
    expect(request.headers['webhook-id']).toBe(context.idempotencyKey);
    expect(request.headers['idempotency-key']).toBe(context.idempotencyKey);
    expect(request.headers['kairo-run-id']).toBe('run_test');
    expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(Math.abs(Number(request.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(10);
    expect(request.signatureValid).toBe(true);
    expect(request.libraryVerified).toBe(true);
  });

  it('keeps the idempotency key stable across a retry of the same call', async () => {
    const context = ctx({ idempotencyKey: 'call_retry' });
    await callHttpTool(tool('/json'), { q: 'a' }, context);
    await callHttpTool(tool('/json'), { q: 'a' }, context);
    expect(received.map((r) => r.headers['idempotency-key'])).toEqual(['call_retry', 'call_retry']);
    expect(received.map((r) => r.headers['webhook-id'])).toEqual(['call_retry', 'call_retry']);
  });

  it('sends GET arguments in the query string, signing an empty body', async () => {
    const result = await callHttpTool(tool('/json?fixed=1', { method: 'GET' }), { q: 'a b', n: 2, tags: ['x', 'y'], filter: { k: 1 } }, ctx());
    expect(result.ok).toBe(true);
    const request = received[0]!;
    expect(request.method).toBe('GET');
    expect(request.body).toBe('');
    expect(request.query).toEqual({ fixed: ['1'], q: ['a b'], n: ['2'], tags: ['x', 'y'], filter: ['{"k":1}'] });
    expect(request.signatureValid).toBe(true);
    expect(request.headers['content-type']).toBeUndefined();
  });

  it('uses PUT, PATCH and DELETE as configured', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE'] as const) await callHttpTool(tool('/json', { method }), { q: 'x' }, ctx());
    expect(received.map((r) => [r.method, r.body === '' ? 'query' : 'body'])).toEqual([
      ['PUT', 'body'],
      ['PATCH', 'body'],
      ['DELETE', 'query'],
    ]);
    expect(received.every((r) => r.signatureValid)).toBe(true);
  });

  it('returns text as a string and an empty body as null', async () => {
    expect(await callHttpTool(tool('/text'), {}, ctx())).toMatchObject({ ok: true, output: 'plain answer' });
    expect(await callHttpTool(tool('/empty'), {}, ctx())).toMatchObject({ ok: true, output: null });
  });

  it('refuses a loopback URL unless the operator allows it, without connecting', async () => {
    const result = await callHttpTool(tool('/json'), { q: 'a' }, ctx({ fetcher: loopbackFetcher([]) }));
    expect(result).toMatchObject({ ok: false, output: { code: 'address_blocked' } });
    expect(result.error).toMatch(/private, loopback/);
    const viaName = await callHttpTool({ ...tool('/json'), url: base.replace('127.0.0.1', 'localhost') + '/json' }, {}, ctx({ fetcher: loopbackFetcher([]) }));
    expect(viaName).toMatchObject({ ok: false, output: { code: 'address_blocked' } });
    expect(received).toHaveLength(0);
  });

  it('turns a non-2xx status into a failed result with the status', async () => {
    const result = await callHttpTool(tool('/error'), {}, ctx());
    expect(result).toEqual({ ok: false, error: 'The tool endpoint answered HTTP 500.', output: { error: 'The tool endpoint answered HTTP 500.', code: 'bad_status', status: 500 }, latencyMs: expect.any(Number) });
    expect(await callHttpTool(tool('/not-found'), {}, ctx())).toMatchObject({ ok: false, output: { status: 404 } });
  });

  it('times out after timeout_ms', async () => {
    const started = Date.now();
    const result = await callHttpTool(tool('/slow', { timeout_ms: 200 }), {}, ctx());
    expect(result).toMatchObject({ ok: false, output: { code: 'timeout' } });
    expect(result.error).toContain('200 ms');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('fails a response larger than the cap', async () => {
    const result = await callHttpTool(tool('/big'), {}, ctx({ maxResponseBytes: 1000 }));
    expect(result).toMatchObject({ ok: false, output: { code: 'too_large' } });
    expect(await callHttpTool(tool('/big'), {}, ctx({ maxResponseBytes: 5000 }))).toMatchObject({ ok: true });
  });

  it('fails bodies that are neither JSON nor text, and JSON that does not parse', async () => {
    expect(await callHttpTool(tool('/binary'), {}, ctx())).toMatchObject({ ok: false, output: { code: 'invalid_response', status: 200 } });
    expect(await callHttpTool(tool('/bad-json'), {}, ctx())).toMatchObject({ ok: false, output: { code: 'invalid_response' } });
  });

  it('checks arguments against the schema before sending anything', async () => {
    const result = await callHttpTool(tool('/json'), { n: 'three' }, ctx());
    expect(result).toMatchObject({ ok: false, error: 'Invalid arguments: arguments.n must be integer', output: { code: 'invalid_arguments' } });
    expect(received).toHaveLength(0);
  });

  it('reports a closed port as a failed result', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await callHttpTool({ ...tool('/json'), url: `http://127.0.0.1:${port}/json` }, {}, ctx());
    expect(result).toMatchObject({ ok: false, output: { code: 'network_error' } });
  });

  it('rejects with the reason when the run is aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('run cancelled');
    setTimeout(() => controller.abort(reason), 100);
    await expect(callHttpTool(tool('/slow'), {}, ctx({ signal: controller.signal }))).rejects.toBe(reason);
  });
});

describe('signing secrets', () => {
  it('generates whsec_ secrets of 32 random bytes', () => {
    const generated = generateSigningSecret();
    expect(generated).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(generated.slice(6), 'base64')).toHaveLength(32);
    expect(generateSigningSecret()).not.toBe(generated);
  });

  it('verifyToolRequest refuses a wrong secret, a changed body and a stale timestamp', () => {
    const webhook = new Webhook(secret);
    const now = new Date();
    const body = '{"q":"a"}';
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': webhook.sign('msg_1', now, body) };
    expect(verifyToolRequest(secret, headers, body)).toBe(true);
    expect(verifyToolRequest(secret, new Headers(headers), Buffer.from(body))).toBe(true);
    expect(verifyToolRequest(generateSigningSecret(), headers, body)).toBe(false);
    expect(verifyToolRequest(secret, headers, '{"q":"b"}')).toBe(false);
    expect(verifyToolRequest(secret, { ...headers, 'webhook-id': 'msg_2' }, body)).toBe(false);
    const old = new Date(now.getTime() - 10 * 60_000);
    const stale = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(old.getTime() / 1000)), 'webhook-signature': webhook.sign('msg_1', old, body) };
    expect(verifyToolRequest(secret, stale, body)).toBe(false);
    expect(verifyToolRequest(secret, {}, body)).toBe(false);
  });

  it('throws on a malformed signing secret (a configuration error, not a tool error)', async () => {
    await expect(callHttpTool(tool('/json'), {}, ctx({ signingSecret: 'not-a-secret' }))).rejects.toThrow(TypeError);
  });
});
