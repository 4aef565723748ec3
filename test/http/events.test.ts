import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { htmlPage, startSite, waitFor, type TestSite } from '../support/site.js';

/**
 * Events through the real server: API key changes are reported as events carrying the request
 * that made them and the key as it was then; events are listed newest first with type wildcards,
 * object and time filters, fetched by id, and never seen from another workspace or mode.
 */
describe.each(backends)('events (%s)', (backend) => {
  let server: TestServer;
  let site: TestSite;
  let ws: TestWorkspace;
  const get = (path: string, key = ws.testKey) => call(server.url, 'GET', path, { key });
  const post = (path: string, body: unknown) => call(server.url, 'POST', path, { key: ws.testKey, body });

  beforeAll(async () => {
    site = await startSite();
    server = await startTestServer(backend, { outboundAllowCidrs: '127.0.0.0/8' });
    ws = await server.workspace('pro');
  });
  afterAll(async () => {
    await server?.close();
    await site?.close();
  });

  it('reports creating and revoking an API key once each, with the request that did it and the key as it was', async () => {
    const created = await call(server.url, 'POST', '/v1/api_keys', { key: ws.testKey, body: { name: 'ci' } });
    expect(created.status).toBe(201);
    const revoked = await call(server.url, 'DELETE', `/v1/api_keys/${created.body.id}`, { key: ws.testKey });
    expect(revoked.status).toBe(200);
    expect((await call(server.url, 'DELETE', `/v1/api_keys/${created.body.id}`, { key: ws.testKey })).status).toBe(200);

    const list = await get(`/v1/events?object_id=${created.body.id}`);
    expect(list.status).toBe(200);
    expect(list.body.data.map((e: any) => e.type)).toEqual(['api_key.revoked', 'api_key.created']);
    const [revokedEvent, createdEvent] = list.body.data;
    expect(createdEvent).toMatchObject({
      object: 'event', livemode: false, request_id: created.headers.get('x-request-id'),
      data: { object: { object: 'api_key', id: created.body.id, name: 'ci', status: 'active', revoked_at: null } },
    });
    expect(createdEvent.id).toMatch(/^evt_[0-9a-z]{26}$/);
    expect(JSON.stringify(createdEvent)).not.toContain(created.body.secret);
    expect(createdEvent.data.object).not.toHaveProperty('secret');
    expect(revokedEvent).toMatchObject({
      request_id: revoked.headers.get('x-request-id'),
      data: { object: { id: created.body.id, status: 'revoked', revoked_at: revoked.body.revoked_at }, previous_attributes: { status: 'active', revoked_at: null } },
    });

    const one = await get(`/v1/events/${createdEvent.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(createdEvent);
  });

  it('filters by type with wildcards and by time, pages newest first, and refuses unknown types', async () => {
    const made: string[] = [];
    for (const name of ['a', 'b', 'c']) made.push((await call(server.url, 'POST', '/v1/api_keys', { key: ws.testKey, body: { name } })).body.id);
    const byType = async (type: string) => (await get(`/v1/events?type=${encodeURIComponent(type)}&limit=100`)).body.data.map((e: any) => e.type);
    expect(new Set(await byType('api_key.*'))).toEqual(new Set(['api_key.created', 'api_key.revoked']));
    expect(new Set(await byType('api_key.created'))).toEqual(new Set(['api_key.created']));
    expect(await byType('agent.run.*')).toEqual([]);
    expect((await byType('*')).length).toBeGreaterThanOrEqual(5);

    const first = await get('/v1/events?type=api_key.created&limit=2');
    expect(first.body.data.map((e: any) => e.data.object.id)).toEqual([made[2], made[1]]);
    expect(first.body.has_more).toBe(true);
    const next = await get(`/v1/events?type=api_key.created&limit=1&after=${first.body.last_id}`);
    expect(next.body.data[0].data.object.id).toBe(made[0]);

    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await get(`/v1/events?start=${future}`)).body.data).toEqual([]);
    expect((await get(`/v1/events?end=${future}&type=api_key.created&limit=100`)).body.data.length).toBeGreaterThanOrEqual(4);

    for (const type of ['api_key.deleted', 'nothing.*', 'agent.run', ',']) {
      const refused = await get(`/v1/events?type=${encodeURIComponent(type)}`);
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ type: 'invalid_request_error', code: 'parameter_invalid', param: 'type' });
    }
  });

  it('reports documents indexed by the request that ingested them, and source refreshes that worked or failed', async () => {
    const source = await post('/v1/context/sources', { name: 'manuals' });
    const ingest = await post('/v1/context/sources/manuals/documents', { documents: [{ external_id: 'pump', text: 'Prime the pump before first use.' }] });
    expect(ingest.status).toBe(201);
    const indexed = (await get(`/v1/events?object_id=${source.body.id}&type=context.document.*`)).body.data;
    expect(indexed).toHaveLength(1);
    expect(indexed[0]).toMatchObject({
      type: 'context.document.indexed', request_id: ingest.headers.get('x-request-id'),
      data: { object: { object: 'context_document', id: ingest.body.data[0].id, source_id: source.body.id, status: 'indexed', chunk_count: 1 } },
    });

    site.set('/pump.html', { body: htmlPage('Pump', 'The pump hums at 50 Hz.') });
    const pages = await post('/v1/context/sources', { name: 'pages', type: 'url', urls: [`${site.url}/pump.html`] });
    const refreshed = await waitFor(() => get(`/v1/events?object_id=${pages.body.id}&type=context.source.*`), (r) => r.body.data.length > 0);
    expect(refreshed.body.data[0]).toMatchObject({
      type: 'context.source.refreshed', request_id: null,
      data: { object: { object: 'context_source', id: pages.body.id, counts: { documents: 1, indexed: 1 }, refresh: { last_error: null } } },
    });
    const documentEvents = (await get(`/v1/events?object_id=${pages.body.id}&type=context.document.indexed`)).body.data;
    expect(documentEvents.map((e: any) => e.request_id)).toEqual([null]);

    const broken = await post('/v1/context/sources', { name: 'broken', type: 'url', urls: [`${site.url}/missing.html`] });
    const failed = await waitFor(() => get(`/v1/events?object_id=${broken.body.id}&type=context.source.*`), (r) => r.body.data.length > 0);
    expect(failed.body.data[0]).toMatchObject({ type: 'context.source.refresh_failed', data: { object: { id: broken.body.id, refresh: { last_error: expect.stringContaining('404') } } } });
  });

  it('reports agent runs: created with the request that started them, then requires_action and the way they ended', async () => {
    const agent = (await post('/v1/agents', {
      name: 'Weather', tools: [{ type: 'function', name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
    })).body;
    const wait = await post(`/v1/agents/${agent.id}/runs`, { input: 'Say hi.' });
    expect(wait.body.status).toBe('completed');
    const waitEvents = (await get(`/v1/events?object_id=${wait.body.id}`)).body.data;
    expect(waitEvents.map((e: any) => e.type)).toEqual(['agent.run.completed', 'agent.run.created']);
    expect(waitEvents.map((e: any) => e.request_id)).toEqual([wait.headers.get('x-request-id'), wait.headers.get('x-request-id')]);
    expect(waitEvents[0].data.object).toMatchObject({ object: 'run', id: wait.body.id, agent_id: agent.id, status: 'completed', output: wait.body.output });

    const background = await post(`/v1/agents/${agent.id}/runs`, { input: 'Say hi.', background: true });
    expect(background.status, background.text).toBe(202);
    const ended = await waitFor(() => get(`/v1/events?object_id=${background.body.id}`), (r) => r.status === 200 && r.body.data.length === 2, 15_000, 200);
    expect(ended.body.data.map((e: any) => [e.type, e.request_id])).toEqual([['agent.run.completed', null], ['agent.run.created', background.headers.get('x-request-id')]]);
    expect(ended.body.data[1].data.object.status).toBe('queued');

    const asked = await post(`/v1/agents/${agent.id}/runs`, { input: 'call get_weather {"city":"Paris"}' });
    expect(asked.body.status).toBe('requires_action');
    const callId = asked.body.required_action.tool_calls[0].id;
    const answered = await post(`/v1/agents/${agent.id}/runs/${asked.body.id}/tool_outputs`, { tool_outputs: [{ tool_call_id: callId, output: { temperature: 18 } }] });
    expect(answered.body.status).toBe('completed');
    const asking = (await get(`/v1/events?object_id=${asked.body.id}`)).body.data;
    expect(asking.map((e: any) => e.type)).toEqual(['agent.run.completed', 'agent.run.requires_action', 'agent.run.created']);
    expect(asking[1].data.object.required_action.tool_calls[0].id).toBe(callId);

    const byAgent = (await get(`/v1/events?object_id=${agent.id}&type=agent.run.created&limit=100`)).body.data;
    expect(byAgent.map((e: any) => e.data.object.id)).toEqual([asked.body.id, background.body.id, wait.body.id]);
  });

  it('reports workflow runs: started, waiting for an approval (once), and how they ended', async () => {
    const transform = (id: string, expression: string) => ({ id, type: 'transform', expression });
    const wf = (await post('/v1/workflows', {
      name: 'review', steps: [transform('draft', "'draft for ' & input.who"), { id: 'review', type: 'approval', prompt: 'Send it?' }, transform('send', "'sent'")],
    })).body;
    const run = await post(`/v1/workflows/${wf.id}/runs`, { input: { who: 'ada' } });
    expect(run.body.status).toBe('waiting');
    const types = async () => (await get(`/v1/events?object_id=${run.body.id}`)).body.data.map((e: any) => e.type);
    expect(await types()).toEqual(['workflow.run.approval_requested', 'workflow.run.waiting', 'workflow.run.started']);

    expect((await post(`/v1/workflows/${wf.id}/runs/${run.body.id}/resume`, { data: { approved: true } })).status).toBe(202);
    await waitFor(types, (list) => list[0] === 'workflow.run.completed', 15_000, 200);
    const events = (await get(`/v1/events?object_id=${run.body.id}`)).body.data;
    expect(events.map((e: any) => e.type)).toEqual(['workflow.run.completed', 'workflow.run.approval_requested', 'workflow.run.waiting', 'workflow.run.started']);
    expect(events[0].data).toMatchObject({ object: { object: 'workflow_run', id: run.body.id, workflow_id: wf.id, status: 'completed', output: 'sent' }, previous_attributes: { status: 'running' } });
    expect(events[1].data.object.status).toBe('waiting');

    const failing = (await post('/v1/workflows', { name: 'broken', steps: [transform('boom', '$error("no")')] })).body;
    const failed = await post(`/v1/workflows/${failing.id}/runs`, {});
    expect(failed.body.status).toBe('failed');
    const failedEvents = (await get(`/v1/events?object_id=${failing.id}&type=workflow.run.*`)).body.data;
    expect(failedEvents.map((e: any) => e.type)).toEqual(['workflow.run.failed', 'workflow.run.started']);
    expect(failedEvents[0].data.object.error).toMatchObject({ step: 'boom' });
  });

  it('never shows an event to another workspace or the other mode', async () => {
    const event = (await get('/v1/events?limit=1')).body.data[0];
    const stranger = await server.workspace('pro');
    for (const key of [stranger.testKey, ws.liveKey]) {
      const seen = await get(`/v1/events/${event.id}`, key);
      expect(seen.status).toBe(404);
      expect(seen.body.error).toMatchObject({ code: 'resource_missing', param: 'id' });
      expect((await get(`/v1/events?object_id=${event.data.object.id}`, key)).body.data).toEqual([]);
    }
    expect((await get('/v1/events/evt_nope')).status).toBe(404);
  });
});
