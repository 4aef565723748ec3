/**
 * The OpenAI-compatible endpoints through the real server with the official `openai` client:
 * test mode on the simulator, live mode against the fake OpenAI-compatible server.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { startFakeOpenAI } from '../fixtures/fake-openai.js';
import { repoRoot } from '../support/cli.js';

const run = promisify(execFile);

/** The TypeScript blocks of docs/openai-compatibility.md. */
const docExamples = () =>
  [...fs.readFileSync(path.join(repoRoot, 'docs/openai-compatibility.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

type Fake = Awaited<ReturnType<typeof startFakeOpenAI>>;

describe.each(backends)('OpenAI-compatible API on %s', (backend) => {
  let server: TestServer;
  let ws: TestWorkspace;
  let fake: Fake;
  let testClient: OpenAI;
  let liveClient: OpenAI;
  let agent: { id: string; name: string };
  let liveAgent: { id: string; name: string };
  const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0 });

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    server = await startTestServer(backend, {
      openaiCompatibleBaseUrl: fake.url,
      openaiCompatibleName: 'fake',
      chatModels: 'fake/alpha:128000;tools=yes;quality=5',
    });
    ws = await server.workspace('pro');
    testClient = client(ws.testKey);
    liveClient = client(ws.liveKey);
    agent = (await call(server.url, 'POST', '/v1/agents', { key: ws.testKey, body: { name: 'support-desk', model: 'auto', instructions: 'You answer support questions.' } })).body;
    liveAgent = (await call(server.url, 'POST', '/v1/agents', { key: ws.liveKey, body: { name: 'live-desk', model: 'fake/alpha' } })).body;
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  const runOf = (agentId: string, runId: string, key = ws.testKey) => call(server.url, 'GET', `/v1/agents/${agentId}/runs/${runId}`, { key });

  it('runs an agent named by id: the completion is the run, with usage and a trace', async () => {
    const { data, response } = await testClient.chat.completions
      .create({ model: agent.id, messages: [{ role: 'user', content: 'Where is my order?' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.id).toMatch(/^run_[0-9a-z]{26}$/);
    expect(response.headers.get('kairo-run-id')).toBe(data.id);
    expect(data.model).toBe(agent.id);
    const message = data.choices[0]!.message;
    expect(message.role).toBe('assistant');
    expect(typeof message.content).toBe('string');
    expect(message.content!.length).toBeGreaterThan(0);
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);

    const run = await runOf(agent.id, data.id);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: 'completed', output: message.content, agent_id: agent.id });
    expect(run.body.usage.total_tokens).toBe(data.usage!.total_tokens);
    expect(run.body.steps.some((s: any) => s.type === 'model_call' && s.status === 'ok')).toBe(true);
    const trace = await call(server.url, 'GET', `/v1/analytics/traces/${data.id}`, { key: ws.testKey });
    expect(trace.status).toBe(200);
    expect(JSON.stringify(trace.body)).toContain('model_call');
  });

  it('streams an agent named by its name, ending with the usage and [DONE]', async () => {
    const stream = await testClient.chat.completions.create({
      model: 'support-desk', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Tell me about returns.' }] }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    const runId = chunks[0]!.id;
    expect(runId).toMatch(/^run_/);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(1);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe('stop');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.total_tokens).toBeGreaterThan(0);

    const run = await runOf(agent.id, runId);
    expect(run.body).toMatchObject({ status: 'completed', output: text, mode: 'stream' });
  });

  it('answers model "auto" without an agent, streamed or not', async () => {
    const data = await testClient.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'Write a haiku about rain.' }], max_tokens: 200 });
    expect(data.id).toMatch(/^chatcmpl_/);
    expect(data.model).not.toBe('auto');
    expect(data.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(data.usage!.total_tokens).toBeGreaterThan(0);

    const stream = await testClient.chat.completions.create({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'Write a haiku about rain.' }] });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      expect(chunk.usage ?? undefined).toBeUndefined();
    }
    expect(text).toBe(data.choices[0]!.message.content);
    expect(finish).toBe('stop');
  });

  it('takes the fields OpenAI clients and frameworks send, even those without effect here', async () => {
    const chat = await testClient.chat.completions.create({
      model: 'auto', stream: false, messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'hi' }],
      temperature: 0.2, top_p: 1, max_tokens: 100, reasoning_effort: 'low', verbosity: 'low', prompt_cache_key: 'k', store: false, n: 1,
    });
    expect(chat.choices[0]!.message.content!.length).toBeGreaterThan(0);
    const response = await testClient.responses.create({
      model: agent.id, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
      include: [], text: { format: { type: 'text' } }, truncation: 'auto', reasoning: { effort: 'low' }, parallel_tool_calls: true,
    });
    expect(response.status).toBe('completed');
  });

  it('refuses unknown models, invalid requests and bad keys with OpenAI errors', async () => {
    const unknown = await testClient.chat.completions.create({ model: 'no-such-agent', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown).toMatchObject({ status: 404, code: 'model_not_found', param: 'model', type: 'invalid_request_error' });

    const empty = await testClient.chat.completions.create({ model: 'auto', messages: [] }).catch((e) => e);
    expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
    expect(empty).toMatchObject({ status: 400, param: 'messages' });

    const image = await testClient.chat.completions
      .create({ model: agent.id, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] })
      .catch((e) => e);
    expect(image).toBeInstanceOf(OpenAI.BadRequestError);
    expect(image.param).toBe('messages[0].content[0].type');

    const tools = await testClient.chat.completions
      .create({ model: agent.id, messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'lookup' } }] })
      .catch((e) => e);
    expect(tools).toBeInstanceOf(OpenAI.BadRequestError);
    expect(tools.param).toBe('tools');

    const badKey = await client('sk_test_notakey').chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(badKey).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(badKey.error).toEqual({ message: expect.any(String), type: 'authentication_error', param: null, code: 'invalid_api_key' });

    // The rest of the API keeps KAIRO's error shape.
    const kairo = await call(server.url, 'GET', '/v1/agents/agent_00000000000000000000000000', { key: ws.testKey });
    expect(kairo.body.error).toMatchObject({ code: 'resource_missing', request_id: expect.stringMatching(/^req_/) });
  });

  it('needs agents:write for completions and agents:read to retrieve responses', async () => {
    const reader = (await call(server.url, 'POST', '/v1/api_keys', { key: ws.testKey, body: { name: 'reader', permissions: { agents: 'read' } } })).body.secret;
    const refused = await client(reader).chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(refused.code).toBe('permission_denied');
    const created = await testClient.responses.create({ model: agent.id, input: 'hello' });
    expect((await client(reader).responses.retrieve(created.id)).status).toBe('completed');
    const none = (await call(server.url, 'POST', '/v1/api_keys', { key: ws.testKey, body: { name: 'none', permissions: { context: 'read' } } })).body.secret;
    expect(await client(none).responses.retrieve(created.id).catch((e) => e)).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it('answers a key over its rate limit with a RateLimitError and Retry-After', async () => {
    const limited = client((await call(server.url, 'POST', '/v1/api_keys', { key: ws.testKey, body: { name: 'slow', rate_limit_per_minute: 1 } })).body.secret);
    await limited.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] });
    const refused = await limited.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refused).toMatchObject({ status: 429, code: 'rate_limited', type: 'rate_limit_error' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('lists the models for models.list()', async () => {
    const ids: string[] = [];
    for await (const model of testClient.models.list()) {
      expect(model).toMatchObject({ object: 'model', id: expect.any(String), owned_by: expect.any(String), created: expect.any(Number) });
      ids.push(model.id);
    }
    expect(ids).toContain('fake/alpha');
    expect(ids).toContain('kairo/simulator');
  });

  it('creates, streams and retrieves responses of an agent', async () => {
    const created = await testClient.responses.create({ model: agent.name, instructions: 'Answer in one line.', input: 'What are your opening hours?', metadata: { ticket: 't-1' } });
    expect(created).toMatchObject({ object: 'response', status: 'completed', model: agent.id, store: true, metadata: { ticket: 't-1' } });
    expect(created.id).toMatch(/^run_/);
    expect(created.output_text.length).toBeGreaterThan(0);
    expect(created.usage!.total_tokens).toBe(created.usage!.input_tokens + created.usage!.output_tokens);

    const retrieved = await testClient.responses.retrieve(created.id);
    expect(retrieved).toMatchObject({ id: created.id, status: 'completed', output_text: created.output_text, usage: created.usage });
    expect((await runOf(agent.id, created.id)).body.output).toBe(created.output_text);

    const stream = await testClient.responses.create({ model: agent.id, input: [{ role: 'user', content: 'What are your opening hours?' }], stream: true });
    const events = [];
    for await (const event of stream) events.push(event);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(types).toContain('response.output_item.added');
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const text = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response.output_text ?? text).toBe(text);
    expect((await testClient.responses.retrieve(completed.response.id)).output_text).toBe(text);

    const missing = await testClient.responses.retrieve('run_00000000000000000000000000').catch((e) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('answers responses of "auto" and keeps them to be retrieved, unless store is false', async () => {
    const created = await testClient.responses.create({ model: 'auto', input: 'Summarise: the cat sat on the mat.', metadata: { case: 'c-7' } });
    expect(created).toMatchObject({ object: 'response', status: 'completed', store: true, metadata: { case: 'c-7' } });
    expect(created.id).toMatch(/^resp_/);
    expect(created.model).not.toBe('auto');
    expect(created.output_text.length).toBeGreaterThan(0);
    const retrieved = await testClient.responses.retrieve(created.id);
    expect(retrieved).toMatchObject({ id: created.id, status: 'completed', output_text: created.output_text, usage: created.usage, model: created.model });
    // Another mode of the same workspace does not see it.
    expect(await liveClient.responses.retrieve(created.id).catch((e) => e)).toBeInstanceOf(OpenAI.NotFoundError);

    const unkept = await testClient.responses.create({ model: 'auto', input: 'Summarise: the cat sat on the mat.', store: false });
    expect(unkept).toMatchObject({ store: false });
    expect(await testClient.responses.retrieve(unkept.id).catch((e) => e)).toBeInstanceOf(OpenAI.NotFoundError);

    const stream = testClient.responses.stream({ model: 'auto', input: 'Summarise: the cat sat on the mat.' });
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(created.output_text);
    expect(final.usage!.total_tokens).toBeGreaterThan(0);
    expect((await testClient.responses.retrieve(final.id)).output_text).toBe(final.output_text);
  });

  it('runs live agents and models on the provider', async () => {
    const data = await liveClient.chat.completions.create({ model: liveAgent.id, messages: [{ role: 'user', content: 'echo this please' }] });
    expect(data.choices[0]!.message.content).toContain('echo this please');
    expect(fake.requests.some((r) => r.path.endsWith('/chat/completions'))).toBe(true);
    const run = await runOf(liveAgent.id, data.id, ws.liveKey);
    expect(run.body).toMatchObject({ status: 'completed', model: 'fake/alpha', livemode: true });

    fake.enqueue({ kind: 'text', text: 'streamed live answer' });
    const stream = await liveClient.chat.completions.create({ model: 'fake/alpha', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
      expect(chunk.model).toBe('fake/alpha');
    }
    expect(text).toBe('streamed live answer');
    expect(usage!.total_tokens).toBeGreaterThan(0);

    fake.enqueue({ kind: 'tool_calls', calls: [{ name: 'get_weather', arguments: { city: 'Paris' }, id: 'call_1' }] });
    const withTools = await liveClient.chat.completions.create({
      model: 'auto', messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    });
    expect(withTools.choices[0]!.finish_reason).toBe('tool_calls');
    const toolCall = withTools.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(toolCall.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    const followUp = await liveClient.chat.completions.create({
      model: 'fake/alpha',
      messages: [{ role: 'user', content: 'Weather in Paris?' }, withTools.choices[0]!.message, { role: 'tool', tool_call_id: toolCall.id, content: 'sunny, 21 C' }],
    });
    expect(followUp.choices[0]!.finish_reason).toBe('stop');

    fake.enqueue({ kind: 'error', status: 400, endpoint: 'chat' });
    const failed = await liveClient.chat.completions.create({ model: 'fake/alpha', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(failed).toBeInstanceOf(OpenAI.APIError);
    expect(failed).toMatchObject({ status: 502, code: 'model_failed', type: 'api_error' });

    const response = await liveClient.responses.create({ model: 'live-desk', input: 'respond live' });
    expect(response.output_text).toContain('respond live');
  });

  it('runs the TypeScript example of docs/openai-compatibility.md verbatim in test mode', async () => {
    const [example] = docExamples();
    expect(example).toContain("from 'openai'");
    // Beside the tests, so that it resolves the project's packages; tsx runs it as an ES module.
    const file = path.join(repoRoot, 'test', `.openai-doc-example-${backend}.mts`);
    fs.writeFileSync(file, example!);
    try {
      const { stdout } = await run(path.join(repoRoot, 'node_modules/.bin/tsx'), [file], {
        cwd: repoRoot, env: { ...process.env, KAIRO: server.url, KEY: ws.testKey }, timeout: 60_000,
      });
      expect(stdout).toMatch(/^run_[0-9a-z]{26} /m);
      expect(stdout).toContain('completed ');
      expect(stdout).toContain('kairo/simulator kairo');
      expect(stdout.trim().split('\n').at(-1)).toBe('404 model_not_found');
    } finally {
      fs.rmSync(file, { force: true });
    }
  }, 90_000);
});
