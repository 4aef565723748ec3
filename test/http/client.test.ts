/**
 * The typed client (`kairo/client`, src/client) against a real server: typed calls, list
 * iteration, typed errors, automatic idempotency keys and run event streams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError, InvalidRequestError, Kairo, KairoError, NotFoundError, type RunEvent,
} from '../../src/client/index.js';
import { startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { readSse } from '../support/sse.js';

/** Rejections the client's types must keep catching; compiled by the typecheck, never called. */
export function typeChecks(kairo: Kairo) {
  // @ts-expect-error a body is required to create an agent
  void kairo.post('/v1/agents');
  // @ts-expect-error unknown fields are not part of the body
  void kairo.post('/v1/agents', { body: { nmae: 'x' } });
  // @ts-expect-error the path needs its id
  void kairo.get('/v1/agents/{id}');
  // @ts-expect-error only list endpoints iterate
  void kairo.list('/v1/workspace');
  return async () => {
    const agent = await kairo.get('/v1/agents/{id}', { params: { path: { id: 'agent_x' } } });
    const version: number = agent.version;
    for await (const run of kairo.list('/v1/agents/{id}/runs', { params: { path: { id: agent.id } } })) {
      const status: string = run.status;
      return [version, status];
    }
  };
}

/** A fetch that notes every request it sends, headers included. */
function recordingFetch() {
  const sent: Array<{ method: string; url: URL; headers: Headers }> = [];
  const fetchAndRecord: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    sent.push({ method: request.method, url: new URL(request.url), headers: request.headers });
    return fetch(request);
  };
  return { sent, fetch: fetchAndRecord };
}

describe('typed client', () => {
  let server: TestServer;
  let ws: TestWorkspace;
  let kairo: Kairo;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    ws = await server.workspace('pro');
    kairo = new Kairo({ apiKey: ws.testKey, baseUrl: server.url });
  });
  afterAll(async () => server?.close());

  it('creates, reads, updates and deletes an agent through typed paths', async () => {
    const created = await kairo.post('/v1/agents', { body: { name: 'Support desk', instructions: 'Be brief.' } });
    expect(created).toMatchObject({ object: 'agent', name: 'Support desk', version: 1, livemode: false, status: 'active' });

    const read = await kairo.get('/v1/agents/{id}', { params: { path: { id: created.id } } });
    expect(read.instructions).toBe('Be brief.');

    const updated = await kairo.patch('/v1/agents/{id}', { params: { path: { id: created.id } }, body: { instructions: 'Be kind.' } });
    expect(updated).toMatchObject({ id: created.id, version: 2, instructions: 'Be kind.' });

    const versions = [];
    for await (const version of kairo.list('/v1/agents/{id}/versions', { params: { path: { id: created.id } } })) versions.push(version.version);
    expect(versions).toEqual([2, 1]);

    expect(await kairo.delete('/v1/agents/{id}', { params: { path: { id: created.id } } })).toEqual({ object: 'agent', id: created.id, deleted: true });
  });

  it('iterates over every agent, page after page, newest first', async () => {
    const other = await server.workspace('pro');
    const recorder = recordingFetch();
    const client = new Kairo({ apiKey: other.testKey, baseUrl: server.url, fetch: recorder.fetch });
    const ids: string[] = [];
    for (let i = 0; i < 45; i++) ids.push((await client.post('/v1/agents', { body: { name: `agent ${i}` } })).id);

    const seen: string[] = [];
    for await (const agent of client.list('/v1/agents', { params: { query: { limit: 10 } } })) seen.push(agent.id);
    expect(seen).toEqual([...ids].reverse());

    const pages = recorder.sent.filter((r) => r.method === 'GET');
    expect(pages).toHaveLength(5);
    expect(pages[0]!.url.searchParams.get('after')).toBeNull();
    for (const [i, page] of pages.entries()) {
      expect(page.url.searchParams.get('limit')).toBe('10');
      if (i > 0) expect(page.url.searchParams.get('after')).toBe(seen[i * 10 - 1]);
    }

    // With `before`, the walk goes toward newer objects, from the given one.
    const newer: string[] = [];
    for await (const agent of client.list('/v1/agents', { params: { query: { limit: 7, before: ids[20]! } } })) newer.push(agent.id);
    expect(newer.sort()).toEqual(ids.slice(21).sort());

    // Leaving the loop early fetches no further page.
    const before = recorder.sent.length;
    for await (const agent of client.list('/v1/agents', { params: { query: { limit: 3 } } })) {
      expect(agent.id).toBe(ids.at(-1));
      break;
    }
    expect(recorder.sent.length).toBe(before + 1);
  });

  it('throws typed errors with the fields of the error body', async () => {
    const missing = await kairo.get('/v1/agents/{id}', { params: { path: { id: 'agent_01jzzzzzzzzzzzzzzzzzzzzzzz' } } }).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toBeInstanceOf(KairoError);
    expect(missing).toMatchObject({ status: 404, type: 'not_found_error', code: 'resource_missing', name: 'NotFoundError' });
    expect((missing as KairoError).requestId).toMatch(/^req_[0-9a-z]{26}$/);

    const invalid = await kairo.post('/v1/agents', { body: { name: 'x', settings: { temperature: 7 } } }).catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect(invalid).toMatchObject({ status: 400, type: 'invalid_request_error', code: 'parameter_invalid', param: 'settings.temperature' });

    const unknownField = await kairo.post('/v1/agents', { body: { name: 'x', nmae: 'y' } as { name: string } }).catch((error: unknown) => error);
    expect(unknownField).toMatchObject({ status: 400, code: 'parameter_unknown', param: 'nmae', message: 'Unknown parameter: nmae.' });

    const badKey = new Kairo({ apiKey: 'sk_test_not_a_real_key', baseUrl: server.url });
    const refused = await badKey.get('/v1/workspace').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AuthenticationError);
    expect(refused).toMatchObject({ status: 401, type: 'authentication_error', code: 'invalid_api_key' });
    expect((refused as KairoError).headers?.get('x-request-id')).toBe((refused as KairoError).requestId);
  });

  it('sends a fresh Idempotency-Key with every POST unless given one, and none with other methods', async () => {
    const recorder = recordingFetch();
    const client = new Kairo({ apiKey: ws.testKey, baseUrl: server.url, fetch: recorder.fetch });
    const agent = await client.post('/v1/agents', { body: { name: 'keyed' } });
    await client.post('/v1/agents', { body: { name: 'keyed' } });
    await client.get('/v1/agents/{id}', { params: { path: { id: agent.id } } });
    await client.patch('/v1/agents/{id}', { params: { path: { id: agent.id } }, body: { description: 'x' } });
    const keys = recorder.sent.map((r) => r.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(keys[1]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).not.toBe(keys[0]);
    expect(keys.slice(2)).toEqual([null, null]);

    // A key the caller gives is sent as it is: the same key twice gets the first answer again.
    const params = { header: { 'Idempotency-Key': `order-${ws.id}` } };
    const first = await client.api.POST('/v1/agents', { params, body: { name: 'once' } });
    const again = await client.api.POST('/v1/agents', { params, body: { name: 'once' } });
    expect(again.data?.id).toBe(first.data?.id);
    expect(again.response.headers.get('idempotent-replayed')).toBe('true');
    expect(recorder.sent.at(-1)!.headers.get('idempotency-key')).toBe(`order-${ws.id}`);
  });

  it('streams an agent run to its final event, and replays it from any event', async () => {
    const agent = await kairo.post('/v1/agents', { body: { name: 'Streamer' } });
    const events: RunEvent[] = [];
    for await (const event of kairo.streamAgentRun(agent.id, { input: 'tell me about streams of events in a few words' })) events.push(event);

    expect(events[0]).toMatchObject({ id: 1, event: 'run.created' });
    expect(events.at(-1)!.event).toBe('run.completed');
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events.every((e) => e.data.sequence === e.id)).toBe(true);
    const runId = events[0]!.data.run_id as string;
    const text = events.filter((e) => e.event === 'run.output_text.delta').map((e) => e.data.delta).join('');
    const run = await kairo.get('/v1/agents/{id}/runs/{run_id}', { params: { path: { id: agent.id, run_id: runId } } });
    expect(run.status).toBe('completed');
    expect(text).toBe(run.output);

    // The same log, read back whole and from the middle.
    const replayed: RunEvent[] = [];
    for await (const event of kairo.streamRunEvents(agent.id, runId)) replayed.push(event);
    expect(replayed).toEqual(events);
    const rest: RunEvent[] = [];
    for await (const event of kairo.streamRunEvents(agent.id, runId, { lastEventId: 3 })) rest.push(event);
    expect(rest).toEqual(events.slice(3));
    const direct = await readSse(`${server.url}/v1/agents/${agent.id}/runs/${runId}`, { headers: { authorization: `Bearer ${ws.testKey}`, accept: 'text/event-stream' } });
    expect(direct.events.map((e) => [e.id, e.event])).toEqual(events.map((e) => [e.id, e.event]));

    const notThere = kairo.streamRunEvents(agent.id, 'run_01jzzzzzzzzzzzzzzzzzzzzzzz');
    await expect(notThere.next()).rejects.toBeInstanceOf(NotFoundError);
  });

  it('ends a run stream where the run waits for tool outputs', async () => {
    const agent = await kairo.post('/v1/agents', {
      body: { name: 'Asker', tools: [{ type: 'function', name: 'lookup', description: 'Look an order up', parameters: { type: 'object', properties: {} } }] },
    });
    const events: RunEvent[] = [];
    for await (const event of kairo.streamAgentRun(agent.id, { input: 'call lookup {}' })) events.push(event);
    expect(events.at(-1)!.event).toBe('run.requires_action');
  });

  it('streams a workflow run to its end', async () => {
    const workflow = await kairo.post('/v1/workflows', {
      body: { name: 'Double', steps: [{ id: 'double', type: 'transform', expression: 'input.n * 2' }], output: 'steps.double' },
    });
    const events: RunEvent[] = [];
    for await (const event of kairo.streamWorkflowRun(workflow.id, { input: { n: 21 } })) events.push(event);
    expect(events[0]!.event).toBe('run.created');
    expect(events.map((e) => e.event)).toContain('step.completed');
    expect(events.at(-1)).toMatchObject({ event: 'run.completed' });

    const replayed: RunEvent[] = [];
    for await (const event of kairo.streamWorkflowRunEvents(workflow.id, events[0]!.data.run_id as string)) replayed.push(event);
    expect(replayed).toEqual(events);
    const run = await kairo.get('/v1/workflows/{id}/runs/{run_id}', { params: { path: { id: workflow.id, run_id: events[0]!.data.run_id as string } } });
    expect(run.output).toBe(42);
  });
});
