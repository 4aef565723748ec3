/**
 * The typed client's retries, idempotency keys and stream resumption, through a loopback proxy
 * (test/support/fault-proxy.ts) that loses answers, delays requests, refuses them with 429 or
 * 503, and cuts event streams, in front of a real server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiServerError, ConnectionError, ConnectionTimeoutError, InvalidRequestError, Kairo, RateLimitError, type KairoOptions, type RunEvent,
} from '../../src/client/index.js';
import { startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { readSse } from '../support/sse.js';

const posts = (path: string) => (method: string, url: string) => method === 'POST' && url === path;
const gets = (prefix: string) => (method: string, url: string) => method === 'GET' && url.startsWith(prefix);

describe('typed client retries through a faulty network', () => {
  let server: TestServer;
  let proxy: FaultProxy;
  let ws: TestWorkspace;
  /** A client through the proxy; short backoffs keep the suite quick. */
  const client = (options: Partial<KairoOptions> = {}) =>
    new Kairo({ apiKey: ws.testKey, baseUrl: proxy.url, initialRetryDelayMs: 20, maxRetryDelayMs: 200, ...options });
  /** The requests the proxy saw for a method and path, in order. */
  const seen = (method: string, path: string) => proxy.requests.filter((r) => r.method === method && r.path.split('?')[0] === path);
  /** The agents of the workspace, read past the proxy. */
  const agentsNamed = async (name: string) => {
    const names: string[] = [];
    for await (const agent of new Kairo({ apiKey: ws.testKey, baseUrl: server.url }).list('/v1/agents', { params: { query: { limit: 100 } } })) names.push(agent.name);
    return names.filter((n) => n === name);
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    proxy = await startFaultProxy(server.url);
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
  });
  afterEach(() => {
    proxy.requests.length = 0;
    expect(proxy.pendingFaults()).toBe(0);
  });

  it('retries a POST whose answer was lost with the same Idempotency-Key, and creates one object', async () => {
    ws = await server.workspace('pro');
    proxy.inject(posts('/v1/agents'), { kind: 'lose-response' });
    const agent = await client().post('/v1/agents', { body: { name: 'lost answer' } });

    const attempts = seen('POST', '/v1/agents');
    expect(attempts.map((a) => a.fault)).toEqual(['lose-response', undefined]);
    const key = attempts[0]!.headers['idempotency-key'];
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(attempts[1]!.headers['idempotency-key']).toBe(key);
    expect(await agentsNamed('lost answer')).toHaveLength(1);
    const direct = new Kairo({ apiKey: ws.testKey, baseUrl: server.url });
    expect((await direct.get('/v1/agents/{id}', { params: { path: { id: agent.id } } })).name).toBe('lost answer');
  });

  it('keeps a key the caller gives on every try', async () => {
    ws = await server.workspace('pro');
    proxy.inject(posts('/v1/agents'), { kind: 'status', status: 503 }, { kind: 'lose-response' });
    await client().post('/v1/agents', { params: { header: { 'Idempotency-Key': 'create-desk-1' } }, body: { name: 'given key' } });
    expect(seen('POST', '/v1/agents').map((a) => a.headers['idempotency-key'])).toEqual(['create-desk-1', 'create-desk-1', 'create-desk-1']);
    expect(await agentsNamed('given key')).toHaveLength(1);
  });

  it('gives up after maxRetries with a ConnectionError, the object still created once', async () => {
    ws = await server.workspace('pro');
    proxy.inject(posts('/v1/agents'), { kind: 'lose-response' }, { kind: 'lose-response' }, { kind: 'lose-response' });
    const error = await client({ maxRetries: 2 }).post('/v1/agents', { body: { name: 'never answered' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ status: undefined, message: expect.stringContaining('(3 tries)') });
    expect(seen('POST', '/v1/agents')).toHaveLength(3);
    expect(new Set(seen('POST', '/v1/agents').map((a) => a.headers['idempotency-key'])).size).toBe(1);
    expect(await agentsNamed('never answered')).toHaveLength(1);
  });

  it('waits at least what Retry-After asks before trying again after a 429', async () => {
    ws = await server.workspace('pro');
    proxy.inject(gets('/v1/workspace'), { kind: 'status', status: 429, retryAfter: '1' });
    const workspace = await client().get('/v1/workspace');
    expect(workspace.id).toBe(ws.id);
    const [refused, retried] = seen('GET', '/v1/workspace');
    expect(refused!.status).toBe(429);
    expect(retried!.status).toBe(200);
    expect(retried!.at - refused!.at).toBeGreaterThanOrEqual(1000);
  });

  it('stops after maxRetries with the typed error of the last answer', async () => {
    ws = await server.workspace('pro');
    proxy.inject(gets('/v1/workspace'), ...Array.from({ length: 3 }, () => ({ kind: 'status', status: 503 }) as const));
    const busy = await client({ maxRetries: 2 }).get('/v1/workspace').catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(ApiServerError);
    expect(busy).toMatchObject({ status: 503, type: 'api_error', code: 'server_busy', requestId: 'req_proxy' });
    expect(seen('GET', '/v1/workspace')).toHaveLength(3);

    proxy.inject(gets('/v1/workspace'), { kind: 'status', status: 429, retryAfter: '0' }, { kind: 'status', status: 429, retryAfter: '0' });
    const limited = await client({ maxRetries: 1 }).get('/v1/workspace').catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited).toMatchObject({ status: 429, code: 'rate_limited', retryAfterMs: 0 });
    expect(seen('GET', '/v1/workspace')).toHaveLength(5);

    // A Retry-After beyond what the client is told to wait is not waited for.
    proxy.inject(gets('/v1/workspace'), { kind: 'status', status: 429, retryAfter: '120' });
    const tooLong = await client().get('/v1/workspace').catch((e: unknown) => e);
    expect(tooLong).toMatchObject({ status: 429, retryAfterMs: 120_000 });
    expect(seen('GET', '/v1/workspace')).toHaveLength(6);
  });

  it('does not retry what the server refused for good, nor a PATCH whose answer was lost', async () => {
    ws = await server.workspace('pro');
    const invalid = await client().post('/v1/agents', { body: { name: '' } }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect(invalid).toMatchObject({ code: 'parameter_invalid', param: 'name' });
    expect(seen('POST', '/v1/agents')).toHaveLength(1);

    const agent = await client().post('/v1/agents', { body: { name: 'patched once' } });
    proxy.inject((method) => method === 'PATCH', { kind: 'lose-response' });
    const lost = await client().patch('/v1/agents/{id}', { params: { path: { id: agent.id } }, body: { instructions: 'new' } }).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(ConnectionError);
    expect(seen('PATCH', `/v1/agents/${agent.id}`)).toHaveLength(1);
    // A 429 refuses a request before it runs, so even a PATCH is sent again.
    proxy.inject((method) => method === 'PATCH', { kind: 'status', status: 429, retryAfter: '0' });
    expect((await client().patch('/v1/agents/{id}', { params: { path: { id: agent.id } }, body: { instructions: 'newer' } })).version).toBe(3);
  });

  it('times a slow try out and tries again; a POST run meanwhile is run once', async () => {
    ws = await server.workspace('pro');
    proxy.inject(gets('/v1/workspace'), { kind: 'delay', ms: 3_000 });
    expect((await client({ timeoutMs: 300 }).get('/v1/workspace')).id).toBe(ws.id);
    expect(seen('GET', '/v1/workspace')).toHaveLength(2);
    proxy.inject(gets('/v1/workspace'), { kind: 'delay', ms: 3_000 }, { kind: 'delay', ms: 3_000 });
    const timedOut = await client({ timeoutMs: 300, maxRetries: 1 }).get('/v1/workspace').catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(ConnectionTimeoutError);

    // The first try outlives its timeout on the server; the next waits on the server for the key
    // still in use — answered 409 if the first is not done by then, and tried again — until the
    // first has finished, then gets the first one's answer (how many 409s depends on timing).
    const agent = await client().post('/v1/agents', { body: { name: 'slow' } });
    const path = `/v1/agents/${agent.id}/runs`;
    const run = await client({ timeoutMs: 4_500, maxRetries: 4 }).post('/v1/agents/{id}/runs', {
      params: { path: { id: agent.id } }, body: { input: 'slow 10000\nanswer slowly' },
    });
    expect(run.status).toBe('completed');
    const attempts = seen('POST', path);
    expect(new Set(attempts.map((a) => a.headers['idempotency-key'])).size).toBe(1);
    expect(attempts.map((a) => a.status).filter((status) => status !== undefined && status !== 409)).toEqual([200]);
    expect(attempts.at(-1)!.status).toBe(200);
    const runs = [];
    for await (const r of client().list('/v1/agents/{id}/runs', { params: { path: { id: agent.id } } })) runs.push(r.id);
    expect(runs).toEqual([run.id]);
  }, 30_000);

  it('resumes a run stream cut mid-way with Last-Event-ID, losing and repeating nothing', async () => {
    ws = await server.workspace('pro');
    const agent = await client().post('/v1/agents', { body: { name: 'cut' } });
    // The POST stream is cut after 2 events, the first resumption after 3 more.
    proxy.inject(posts(`/v1/agents/${agent.id}/runs`), { kind: 'cut-stream', afterEvents: 2 });
    proxy.inject(gets(`/v1/agents/${agent.id}/runs/`), { kind: 'cut-stream', afterEvents: 3 });
    const events: RunEvent[] = [];
    for await (const event of client().streamAgentRun(agent.id, { input: 'slow 300\nsay something of a dozen words or more, one event per word' })) events.push(event);

    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)!.event).toBe('run.completed');
    const runId = events[0]!.data.run_id as string;
    const resumptions = seen('GET', `/v1/agents/${agent.id}/runs/${runId}`);
    expect(resumptions.map((r) => [r.headers['last-event-id'], r.headers.accept])).toEqual([['2', 'text/event-stream'], ['5', 'text/event-stream']]);
    const log = await readSse(`${server.url}/v1/agents/${agent.id}/runs/${runId}`, { headers: { authorization: `Bearer ${ws.testKey}`, accept: 'text/event-stream' } });
    expect(events.map((e) => [e.id, e.event, e.data])).toEqual(log.events.map((e) => [e.id, e.event, e.data]));
    expect(seen('POST', `/v1/agents/${agent.id}/runs`)).toHaveLength(1);
  });

  it('gives up on a stream lost more than maxRetries times in a row without a new event', async () => {
    ws = await server.workspace('pro');
    const agent = await client().post('/v1/agents', { body: { name: 'lossy' } });
    const run = await client().post('/v1/agents/{id}/runs', { params: { path: { id: agent.id } }, body: { input: 'hello' } });
    const path = `/v1/agents/${agent.id}/runs/${run.id}`;
    proxy.inject(gets(path), { kind: 'cut-stream', afterEvents: 1 }, { kind: 'cut-stream', afterEvents: 0 }, { kind: 'cut-stream', afterEvents: 0 });
    const events: RunEvent[] = [];
    const error = await (async () => {
      for await (const event of client({ maxRetries: 2 }).streamRunEvents(agent.id, run.id)) events.push(event);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(events.map((e) => e.id)).toEqual([1]);
    // The first connection and maxRetries reconnections, each lost before a new event.
    expect(seen('GET', path).map((r) => r.headers['last-event-id'])).toEqual([undefined, '1', '1']);
  });
});
