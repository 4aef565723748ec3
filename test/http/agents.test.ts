import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisDatabaseUrl, waitFor } from '../support/site.js';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { readSse } from '../support/sse.js';
import { startFakeOpenAI } from '../fixtures/fake-openai.js';
import { startMcpServer } from '../fixtures/mcp-server.js';
import { verifyToolRequest } from '../../src/agents/tools/http-tool.js';

type Fake = Awaited<ReturnType<typeof startFakeOpenAI>>;



describe.each(backends)('agents API on %s', (backend) => {
  let server: TestServer;
  let ws: TestWorkspace;
  let fake: Fake;
  let mcp: Awaited<ReturnType<typeof startMcpServer>>;
  let receiver: http.Server;
  let receiverUrl: string;
  const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  const post = (path: string, body: unknown, key = ws.testKey) => call(server.url, 'POST', path, { key, body });
  const get = (path: string, key = ws.testKey) => call(server.url, 'GET', path, { key });

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    mcp = await startMcpServer();
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ temperature_c: 21, summary: 'sunny' }));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    server = await startTestServer(backend, {
      outboundAllowCidrs: '127.0.0.0/8',
      openaiCompatibleBaseUrl: fake.url,
      openaiCompatibleName: 'fake',
      chatModels: 'fake/alpha:128000;tools=yes;quality=5,fake/beta:128000;tools=yes;quality=3',
    });
    ws = await server.workspace('pro');
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
    await mcp?.close();
    receiver?.close();
  });

  it('creates the seed example agent verbatim', async () => {
    expect((await post('/v1/context/sources', { name: 'crm' }, ws.liveKey)).status).toBe(201);
    const res = await call(server.url, 'POST', '/v1/agents', { key: ws.liveKey, body: { name: 'Lead Qualifier', model: 'auto', context: ['crm'] } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'Lead Qualifier', status: 'active', model: 'auto', version: 1, livemode: true });
    expect(res.body.id).toMatch(/^agent_[0-9a-z]{26}$/);
    expect(new Date(res.body.created_at).toISOString()).toBe(res.body.created_at);
    expect(res.body.context).toHaveLength(1);
    expect(res.body.context[0]).toMatch(/^src_/);
  });

  it('refuses unknown models, sources and invalid tools, naming the field', async () => {
    const model = await post('/v1/agents', { name: 'x', model: 'nope/nothing' });
    expect(model.body.error).toMatchObject({ code: 'parameter_invalid', param: 'model' });
    // Objects the body refers to that do not exist: 400 resource_missing naming the field (404 is for the URL's object).
    const source = await post('/v1/agents', { name: 'x', context: ['missing-source'] });
    expect(source.status).toBe(400);
    expect(source.body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing', param: 'context[0]' });
    const subAgent = await post('/v1/agents', { name: 'x', tools: [{ type: 'agent', agent_id: 'agent_01h2xcejqtf2nbrexx3vqjhp41' }] });
    expect(subAgent.status).toBe(400);
    expect(subAgent.body.error).toMatchObject({ code: 'resource_missing', param: 'tools[0].agent_id' });
    const searched = await post('/v1/agents', { name: 'x', tools: [{ type: 'context_search', sources: ['missing-source'] }] });
    expect(searched.status).toBe(400);
    expect(searched.body.error).toMatchObject({ code: 'resource_missing', param: 'tools[0].sources[0]' });
    const known = (await post('/v1/context/sources', { name: 'known-source' })).body;
    const existing = (await post('/v1/agents', { name: 'x', tools: [{ type: 'context_search', sources: ['known-source'] }] })).body;
    expect(existing.tools[0].sources).toEqual([known.id]);
    const updated = await call(server.url, 'PATCH', `/v1/agents/${existing.id}`, { key: ws.testKey, body: { context: ['known-source', 'missing-source'] } });
    expect(updated.status).toBe(400);
    expect(updated.body.error).toMatchObject({ code: 'resource_missing', param: 'context[1]' });
    const gone = await call(server.url, 'PATCH', '/v1/agents/agent_01h2xcejqtf2nbrexx3vqjhp41', { key: ws.testKey, body: { context: ['missing-source'] } });
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ type: 'not_found_error', code: 'resource_missing', param: 'id' });
    const tool = await post('/v1/agents', { name: 'x', tools: [{ type: 'function', name: 'bad name!', parameters: { type: 'object' } }] });
    expect(tool.status).toBe(400);
    expect(tool.body.error.param).toMatch(/^tools\[0\]/);
    const schema = await post('/v1/agents', { name: 'x', tools: [{ type: 'function', name: 'f', parameters: { type: 'string' } }] });
    expect(schema.body.error.param).toMatch(/^tools\[0\]\.parameters/);
  });

  it('versions every change and records the version on runs', async () => {
    const created = await post('/v1/agents', { name: 'Versioned', instructions: 'Be brief.' });
    const id = created.body.id;
    const patched = await call(server.url, 'PATCH', `/v1/agents/${id}`, { key: ws.testKey, body: { instructions: 'Be very brief.' } });
    expect(patched.body.version).toBe(2);
    const renamed = await call(server.url, 'PATCH', `/v1/agents/${id}`, { key: ws.testKey, body: { name: 'Renamed' } });
    expect(renamed.body.version).toBe(2);
    const versions = await get(`/v1/agents/${id}/versions`);
    expect(versions.body.data.map((v: any) => v.version)).toEqual([2, 1]);
    expect(versions.body.data[1].config.instructions).toBe('Be brief.');
    const run = await post(`/v1/agents/${id}/runs`, { input: 'hello' });
    expect(run.body.agent_version).toBe(2);
    const list = await get('/v1/agents?limit=100');
    expect(list.body.data.some((a: any) => a.id === id)).toBe(true);
  });

  it('runs in test mode on the simulator with usage, routing and a latency breakdown', async () => {
    const agent = (await post('/v1/agents', { name: 'Simple', model: 'auto' })).body;
    const res = await post(`/v1/agents/${agent.id}/runs`, { input: 'Write a haiku about the sea' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: 'run', status: 'completed', agent_id: agent.id, livemode: false, cost_notional: true });
    // Notional: the price of the model the simulator stood in for, per million tokens.
    const price = (await get('/v1/models')).body.data.find((m: any) => m.id === res.body.model).pricing;
    expect(res.body.cost_usd).toBeCloseTo((res.body.usage.input_tokens * price.input + res.body.usage.output_tokens * price.output) / 1e6, 12);
    expect(res.body.output).toContain('Simulated answer');
    expect(res.body.usage.input_tokens).toBeGreaterThan(0);
    expect(res.body.usage.output_tokens).toBeGreaterThan(0);
    expect(res.body.model).toMatch(/\//);
    expect(res.body.routing).toMatchObject({ model: res.body.model });
    expect(res.body.routing.reason).toEqual(expect.any(String));
    for (const key of ['queue_ms', 'retrieval_ms', 'model_ms', 'tools_ms', 'total_ms']) expect(res.body.latency_ms[key]).toBeGreaterThanOrEqual(0);
    expect(res.body.latency_ms.time_to_first_token_ms).toBeGreaterThanOrEqual(0);
    const fetched = await get(`/v1/agents/${agent.id}/runs/${res.body.id}`);
    expect(fetched.body.steps.some((s: any) => s.type === 'model_call' && s.input_tokens > 0)).toBe(true);
    const runs = await get(`/v1/agents/${agent.id}/runs`);
    expect(runs.body.data[0].id).toBe(res.body.id);
  });

  it('retrieves context automatically into the prompt', async () => {
    await post('/v1/context/sources', { name: 'kb' });
    await post('/v1/context/sources/kb/documents', { documents: [{ title: 'Pricing', text: 'The Pro plan costs 49 dollars per month and includes priority support.' }] });
    const agent = (await post('/v1/agents', { name: 'Support', context: ['kb'] })).body;
    const res = await post(`/v1/agents/${agent.id}/runs`, { input: 'How much does the Pro plan cost?' });
    expect(res.body.status).toBe('completed');
    expect(res.body.output).toContain('[1]');
    expect(res.body.output).toContain('49 dollars');
    const fetched = await get(`/v1/agents/${agent.id}/runs/${res.body.id}`);
    expect(fetched.body.steps.some((s: any) => s.type === 'retrieval')).toBe(true);
  });

  it('streams events with increasing ids and resumes after Last-Event-ID', async () => {
    const agent = (await post('/v1/agents', { name: 'Streamer' })).body;
    const stream = await readSse(`${server.url}/v1/agents/${agent.id}/runs`, {
      method: 'POST', headers: { authorization: `Bearer ${ws.testKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ input: 'tell me about streams', stream: true }),
    });
    expect(stream.status).toBe(200);
    const types = stream.events.map((e) => e.event);
    expect(types[0]).toBe('run.created');
    expect(types).toContain('run.output_text.delta');
    expect(types.at(-1)).toBe('run.completed');
    const ids = stream.events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    const text = stream.events.filter((e) => e.event === 'run.output_text.delta').map((e) => e.data.delta).join('');
    const runId = stream.events[0]!.data.run_id;
    expect((await get(`/v1/agents/${agent.id}/runs/${runId}`)).body.output).toBe(text);

    const resumed = await readSse(`${server.url}/v1/agents/${agent.id}/runs/${runId}`, {
      headers: { authorization: `Bearer ${ws.testKey}`, accept: 'text/event-stream', 'last-event-id': String(ids[2]) },
    });
    expect(resumed.events.map((e) => e.id)).toEqual(ids.slice(3));

    // A client that already has the last event of a finished run gets an empty stream at once.
    const caughtUp = await readSse(`${server.url}/v1/agents/${agent.id}/runs/${runId}`, {
      headers: { authorization: `Bearer ${ws.testKey}`, accept: 'text/event-stream', 'last-event-id': String(ids.at(-1)) },
      signal: AbortSignal.timeout(5_000),
    });
    expect(caughtUp.status).toBe(200);
    expect(caughtUp.events).toEqual([]);
  });

  it('runs in the background and answers 202', async () => {
    const agent = (await post('/v1/agents', { name: 'Background' })).body;
    const res = await post(`/v1/agents/${agent.id}/runs`, { input: 'work quietly', background: true });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('queued');
    const done = await waitFor(() => get(`/v1/agents/${agent.id}/runs/${res.body.id}`), (r) => r.body.status === 'completed');
    expect(done.body.status).toBe('completed');
  });

  it('stops in requires_action for client tools and resumes with their outputs', async () => {
    const agent = (await post('/v1/agents', {
      name: 'Weather', tools: [{ type: 'function', name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
    })).body;
    const run = await post(`/v1/agents/${agent.id}/runs`, { input: 'call get_weather {"city":"Paris"}' });
    expect(run.body.status).toBe('requires_action');
    const calls = run.body.required_action.tool_calls;
    expect(calls).toEqual([expect.objectContaining({ type: 'function', name: 'get_weather', arguments: { city: 'Paris' } })]);

    const unknown = await post(`/v1/agents/${agent.id}/runs/${run.body.id}/tool_outputs`, { tool_outputs: [{ tool_call_id: 'nope', output: 1 }] });
    expect(unknown.body.error).toMatchObject({ code: 'parameter_invalid', param: 'tool_outputs[0].tool_call_id' });
    const done = await post(`/v1/agents/${agent.id}/runs/${run.body.id}/tool_outputs`, { tool_outputs: [{ tool_call_id: calls[0].id, output: { temperature: 18 } }] });
    expect(done.body.status).toBe('completed');
    expect(done.body.output).toContain('get_weather');
    expect(done.body.output).toContain('18');
    const again = await post(`/v1/agents/${agent.id}/runs/${run.body.id}/tool_outputs`, { tool_outputs: [{ tool_call_id: calls[0].id, output: 1 }] });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('run_not_waiting');
  });

  it('calls signed http tools after approval, and reports a denial to the model', async () => {
    const agent = (await post('/v1/agents', {
      name: 'Approver',
      tools: [{ type: 'http', name: 'forecast', url: `${receiverUrl}/forecast`, parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, requires_approval: true }],
    })).body;
    const run = await post(`/v1/agents/${agent.id}/runs`, { input: 'call forecast {"city":"Oslo"}' });
    expect(run.body.status).toBe('requires_action');
    const call0 = run.body.required_action.tool_calls[0];
    expect(call0.type).toBe('approval');
    expect(received).toHaveLength(0);
    const approved = await post(`/v1/agents/${agent.id}/runs/${run.body.id}/tool_outputs`, { tool_outputs: [{ tool_call_id: call0.id, approve: true }] });
    expect(approved.body.status).toBe('completed');
    expect(approved.body.output).toContain('sunny');
    expect(received).toHaveLength(1);
    const secret = (await get('/v1/tool_signing_secret')).body.secret;
    expect(verifyToolRequest(secret, received[0]!.headers, received[0]!.body)).toBe(true);
    expect(JSON.parse(received[0]!.body)).toEqual({ city: 'Oslo' });

    const second = await post(`/v1/agents/${agent.id}/runs`, { input: 'call forecast {"city":"Rome"}' });
    const denied = await post(`/v1/agents/${agent.id}/runs/${second.body.id}/tool_outputs`, {
      tool_outputs: [{ tool_call_id: second.body.required_action.tool_calls[0].id, approve: false, reason: 'not today' }],
    });
    expect(denied.body.status).toBe('completed');
    expect(denied.body.output).toBe('Tool forecast was not run: not today.');
    expect(received).toHaveLength(1);
  });

  it('asks for the output of an approved function tool, and reports its denial to the model', async () => {
    const agent = (await post('/v1/agents', {
      name: 'Refunder',
      tools: [{ type: 'function', name: 'refund', description: 'Refund an order', parameters: { type: 'object', properties: { order: { type: 'string' } }, required: ['order'] }, requires_approval: true }],
    })).body;
    const run = await post(`/v1/agents/${agent.id}/runs`, { input: 'call refund {"order":"A-1"}' });
    expect(run.body.status).toBe('requires_action');
    const [approval] = run.body.required_action.tool_calls;
    expect(approval).toMatchObject({ type: 'approval', name: 'refund', arguments: { order: 'A-1' } });
    const outputTooSoon = await post(`/v1/agents/${agent.id}/runs/${run.body.id}/tool_outputs`, { tool_outputs: [{ tool_call_id: approval.id, approve: true, output: 1 }] });
    expect(outputTooSoon.status).toBe(400);
    expect(outputTooSoon.body.error).toMatchObject({ code: 'parameter_invalid', param: 'tool_outputs[0].output' });

    const approved = await post(`/v1/agents/${agent.id}/runs/${run.body.id}/tool_outputs`, { tool_outputs: [{ tool_call_id: approval.id, approve: true }] });
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('requires_action');
    expect(approved.body.required_action).toMatchObject({
      type: 'submit_tool_outputs', tool_calls: [{ id: approval.id, type: 'function', name: 'refund', arguments: { order: 'A-1' } }],
    });
    const approveTwice = await post(`/v1/agents/${agent.id}/runs/${run.body.id}/tool_outputs`, { tool_outputs: [{ tool_call_id: approval.id, approve: true }] });
    expect(approveTwice.body.error).toMatchObject({ code: 'parameter_missing', param: 'tool_outputs[0].output' });
    const done = await post(`/v1/agents/${agent.id}/runs/${run.body.id}/tool_outputs`, { tool_outputs: [{ tool_call_id: approval.id, output: { refunded: true } }] });
    expect(done.body.status).toBe('completed');
    expect(done.body.output).toBe('Tool refund returned: {"refunded":true}');
    const steps = (await get(`/v1/agents/${agent.id}/runs/${run.body.id}`)).body.steps;
    expect(steps.filter((s: any) => s.type === 'model_call')).toHaveLength(2);

    const second = await post(`/v1/agents/${agent.id}/runs`, { input: 'call refund {"order":"B-2"}' });
    const denied = await post(`/v1/agents/${agent.id}/runs/${second.body.id}/tool_outputs`, {
      tool_outputs: [{ tool_call_id: second.body.required_action.tool_calls[0].id, approve: false, reason: 'over the limit' }],
    });
    expect(denied.body.status).toBe('completed');
    expect(denied.body.output).toBe('Tool refund was not run: over the limit.');
    const third = await post(`/v1/agents/${agent.id}/runs`, { input: 'call refund {"order":"C-3"}' });
    const deniedSilently = await post(`/v1/agents/${agent.id}/runs/${third.body.id}/tool_outputs`, {
      tool_outputs: [{ tool_call_id: third.body.required_action.tool_calls[0].id, approve: false }],
    });
    expect(deniedSilently.body.output).toBe('Tool refund was not run: the call was denied.');

    // In the background, each answer resumes the run through the queue.
    const background = await post(`/v1/agents/${agent.id}/runs`, { input: 'call refund {"order":"D-4"}', background: true });
    const path = `/v1/agents/${agent.id}/runs/${background.body.id}`;
    const waiting = await waitFor(() => get(path), (r) => r.body.status === 'requires_action');
    const callId = waiting.body.required_action.tool_calls[0].id;
    expect((await post(`${path}/tool_outputs`, { tool_outputs: [{ tool_call_id: callId, approve: true }] })).status).toBe(202);
    const asked = await waitFor(() => get(path), (r) => r.body.status === 'requires_action');
    expect(asked.body.required_action.tool_calls).toEqual([expect.objectContaining({ id: callId, type: 'function' })]);
    expect((await post(`${path}/tool_outputs`, { tool_outputs: [{ tool_call_id: callId, output: 'ok' }] })).status).toBe(202);
    const finished = await waitFor(() => get(path), (r) => r.body.status === 'completed');
    expect(finished.body.output).toBe('Tool refund returned: "ok"');
  });

  it('uses MCP tools from the allow-list only', async () => {
    const agent = (await post('/v1/agents', {
      name: 'Mathematician', tools: [{ type: 'mcp', server_label: 'calc', server_url: mcp.url, allowed_tools: ['add'] }],
    })).body;
    const run = await post(`/v1/agents/${agent.id}/runs`, { input: 'call calc__add {"a":2,"b":40}' });
    expect(run.body.status).toBe('completed');
    expect(run.body.output).toContain('42');
    const refused = await post(`/v1/agents/${agent.id}/runs`, { input: 'call calc__echo {"text":"hi"}' });
    expect(refused.body.status).toBe('completed');
    expect(mcp.calls.some((c) => c.tool === 'echo')).toBe(false);
  });

  it('uses another agent as a tool', async () => {
    const helper = (await post('/v1/agents', { name: 'Helper' })).body;
    const boss = (await post('/v1/agents', { name: 'Boss', tools: [{ type: 'agent', agent_id: helper.id, name: 'ask_helper' }] })).body;
    const run = await post(`/v1/agents/${boss.id}/runs`, { input: 'call ask_helper {"input":"what is up"}' });
    expect(run.body.status).toBe('completed');
    expect(run.body.output).toContain('Simulated answer');
    const helperRuns = await get(`/v1/agents/${helper.id}/runs`);
    expect(helperRuns.body.data).toHaveLength(1);
  });

  it('cancels queued, waiting and running runs, and refuses to cancel finished ones', async () => {
    const agent = (await post('/v1/agents', {
      name: 'Cancellable', tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} } }],
    })).body;
    const waiting = await post(`/v1/agents/${agent.id}/runs`, { input: 'call lookup' });
    const cancelled = await post(`/v1/agents/${agent.id}/runs/${waiting.body.id}/cancel`, {});
    expect(cancelled.body.status).toBe('cancelled');
    const late = await post(`/v1/agents/${agent.id}/runs/${waiting.body.id}/tool_outputs`, { tool_outputs: [{ tool_call_id: waiting.body.required_action.tool_calls[0].id, output: 1 }] });
    expect(late.status).toBe(409);

    const slow = await post(`/v1/agents/${agent.id}/runs`, { input: 'slow 5000', background: true });
    await waitFor(() => get(`/v1/agents/${agent.id}/runs/${slow.body.id}`), (r) => r.body.status === 'running');
    await post(`/v1/agents/${agent.id}/runs/${slow.body.id}/cancel`, {});
    const stopped = await waitFor(() => get(`/v1/agents/${agent.id}/runs/${slow.body.id}`), (r) => r.body.status === 'cancelled', 4000);
    expect(stopped.body.status).toBe('cancelled');

    const finished = await post(`/v1/agents/${agent.id}/runs`, { input: 'quick' });
    const refused = await post(`/v1/agents/${agent.id}/runs/${finished.body.id}/cancel`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('run_not_cancellable');
  });

  it('keeps conversation memory in threads', async () => {
    const agent = (await post('/v1/agents', { name: 'Chatty' })).body;
    const first = await post(`/v1/agents/${agent.id}/runs`, { input: 'My name is Ada.' });
    const second = await post(`/v1/agents/${agent.id}/runs`, { input: 'What is my name?', thread_id: first.body.thread_id });
    expect(second.body.thread_id).toBe(first.body.thread_id);
    const messages = await get(`/v1/threads/${first.body.thread_id}/messages`);
    expect(messages.body.data.map((m: any) => m.role)).toEqual(['assistant', 'user', 'assistant', 'user']);
    expect(messages.body.data.at(-1).content).toBe('My name is Ada.');
    const noThread = await post(`/v1/agents/${agent.id}/runs`, { input: 'x', thread_id: 'thread_nope' });
    expect(noThread.status).toBe(400);
    expect(noThread.body.error).toMatchObject({ code: 'resource_missing', param: 'thread_id' });
  });

  it('refuses runs of a paused agent', async () => {
    const agent = (await post('/v1/agents', { name: 'Sleepy', status: 'paused' })).body;
    const res = await post(`/v1/agents/${agent.id}/runs`, { input: 'hi' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('agent_not_active');
  });

  it('falls back to the next model on a retryable provider error, never on a 4xx (live mode, fake provider)', async () => {
    const agent = (await call(server.url, 'POST', '/v1/agents', {
      key: ws.liveKey, body: { name: 'Live', model: 'auto', routing: { optimize: 'quality', allowed_models: ['fake/alpha', 'fake/beta'] } },
    })).body;
    expect(agent.id).toBeDefined();
    fake.reset();
    fake.enqueue({ kind: 'error', status: 500 });
    const run = await call(server.url, 'POST', `/v1/agents/${agent.id}/runs`, { key: ws.liveKey, body: { input: 'hello there' } });
    expect(run.body.status).toBe('completed');
    expect(run.body.routing.fallbacks).toHaveLength(1);
    expect(run.body.routing.fallbacks[0].model).toBe(run.body.routing.candidates[0]);
    expect(run.body.model).toBe(run.body.routing.candidates[1]);
    expect(run.body.cost_usd).toBeGreaterThanOrEqual(0);

    fake.reset();
    fake.enqueue({ kind: 'error', status: 400 });
    const bad = await call(server.url, 'POST', `/v1/agents/${agent.id}/runs`, { key: ws.liveKey, body: { input: 'hello again' } });
    expect(bad.body.status).toBe('failed');
    expect(bad.body.routing.fallbacks).toEqual([]);

    // A run that fell back and then failed still shows the fallback it made.
    fake.reset();
    fake.enqueue({ kind: 'error', status: 503 }, { kind: 'error', status: 503 });
    const exhausted = await call(server.url, 'POST', `/v1/agents/${agent.id}/runs`, { key: ws.liveKey, body: { input: 'hello once more' } });
    expect(exhausted.body.status).toBe('failed');
    expect(exhausted.body.routing.fallbacks).toEqual([{ model: exhausted.body.routing.candidates[0], error: expect.any(String) }]);
    expect(exhausted.body.model).toBe(exhausted.body.routing.candidates[1]);
    const stored = await call(server.url, 'GET', `/v1/agents/${agent.id}/runs/${exhausted.body.id}`, { key: ws.liveKey });
    expect(stored.body.routing.fallbacks).toEqual(exhausted.body.routing.fallbacks);
    fake.reset();
  });

  it('fails a live "auto" run with no_model_available when no provider is configured', async () => {
    // A server of its own (and, on PostgreSQL, a queue of its own): no provider configured at all.
    const bare = await startTestServer(backend, backend === 'sqlite' ? {} : { redisUrl: redisDatabaseUrl(7) });
    try {
      const own = await bare.workspace('pro');
      const agent = (await call(bare.url, 'POST', '/v1/agents', { key: own.liveKey, body: { name: 'Nowhere', model: 'auto' } })).body;
      const run = await call(bare.url, 'POST', `/v1/agents/${agent.id}/runs`, { key: own.liveKey, body: { input: 'hello' } });
      expect(run.status).toBe(200);
      expect(run.body.status).toBe('failed');
      expect(run.body.error.code).toBe('no_model_available');
      expect(run.body.error.message).toContain('is not configured');
      // The same agent in test mode runs on the simulator.
      const testAgent = (await call(bare.url, 'POST', '/v1/agents', { key: own.testKey, body: { name: 'Simulated', model: 'auto' } })).body;
      expect((await call(bare.url, 'POST', `/v1/agents/${testAgent.id}/runs`, { key: own.testKey, body: { input: 'hello' } })).body.status).toBe('completed');
    } finally {
      await bare.close();
    }
  });

  it('caps concurrent runs by plan', async () => {
    const free = await server.workspace('free');
    const agent = (await call(server.url, 'POST', '/v1/agents', { key: free.testKey, body: { name: 'Busy' } })).body;
    const runs = await Promise.all(Array.from({ length: 7 }, () => call(server.url, 'POST', `/v1/agents/${agent.id}/runs`, { key: free.testKey, body: { input: 'slow 1500' } })));
    const statuses = runs.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    expect(runs.find((r) => r.status === 429)!.body.error.code).toBe('concurrency_limited');
  });

  it('deletes agents', async () => {
    const agent = (await post('/v1/agents', { name: 'Doomed' })).body;
    const res = await call(server.url, 'DELETE', `/v1/agents/${agent.id}`, { key: ws.testKey });
    expect(res.body).toEqual({ object: 'agent', id: agent.id, deleted: true });
    expect((await get(`/v1/agents/${agent.id}`)).status).toBe(404);
  });
});
