/**
 * The agent run engine in live mode, calling a fake OpenAI-compatible provider (two declared
 * models, alpha ranked before beta for quality): the provider's answers and token counts, tool
 * calls, streaming, retryable errors that fall back to the next model and errors that fail the
 * run. Each test gets a fresh engine, so the router's memory of errors does not carry over.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Agent, Scope, Workspace } from '../../src/store/port.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fixtures/fake-openai.js';
import { openEngineHarness, type EngineHarness } from './agent-engine-harness.js';

let fake: FakeOpenAI;
let h: EngineHarness;
let workspace: Workspace;
let scope: Scope;

beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(async () => {
  fake.reset();
  h = await openEngineHarness({
    openaiCompatibleBaseUrl: fake.url,
    openaiCompatibleName: 'fake',
    chatModels: 'fake/alpha:128000;tools=yes;quality=5,fake/beta:128000;tools=yes;quality=3',
  });
  ({ workspace, scope } = await h.scope('enterprise', true));
});
afterEach(async () => {
  await h?.close();
});

const engine = () => h.module.engine;
const chatRequests = () => fake.requests.filter((request) => request.path === '/v1/chat/completions');
const autoAgent = (extra: Parameters<EngineHarness['agent']>[1] = {}): Promise<Agent> =>
  h.agent(scope, { model: 'auto', routing: { optimize: 'quality', allowed_models: ['fake/alpha', 'fake/beta'] }, ...extra });

describe('live mode', () => {
  it("completes with the provider's answer, token counts and routing decision", async () => {
    const agent = await autoAgent();
    fake.enqueue({ kind: 'text', text: 'Hi there', usage: { prompt_tokens: 12, completion_tokens: 3, cached_tokens: 2 } });
    const done = await engine().start(workspace, scope, agent, { input: 'hello', mode: 'wait' });
    expect(done).toMatchObject({
      status: 'completed', output: 'Hi there', model: 'fake/alpha',
      usage: { input_tokens: 12, output_tokens: 3, cached_input_tokens: 2, total_tokens: 15 },
      routing: { model: 'fake/alpha', candidates: ['fake/alpha', 'fake/beta'], fallbacks: [] },
    });
    expect(chatRequests()).toHaveLength(1);
    expect(chatRequests()[0]!.body).toMatchObject({ model: 'alpha', messages: [{ role: 'user', content: 'hello' }] });
  });

  it('streams the answer piece by piece in stream mode', async () => {
    const agent = await autoAgent();
    fake.enqueue({ kind: 'text', text: 'one two three four' });
    const done = await engine().start(workspace, scope, agent, { input: 'count', mode: 'stream' });
    expect(done).toMatchObject({ status: 'completed', output: 'one two three four' });
    expect(chatRequests()[0]!.body).toMatchObject({ stream: true });
    const deltas = (await h.module.events.read(done.id, 0, 100)).filter((event) => event.type === 'run.output_text.delta');
    expect(deltas.map((event) => event.data.delta)).toEqual(['one ', 'two ', 'three ', 'four']);
    expect(done.latency).toHaveProperty('time_to_first_token_ms');
  });

  it('sends the outputs of function tools back to the provider', async () => {
    const agent = await autoAgent({ tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }] });
    fake.enqueue({ kind: 'tool_calls', calls: [{ name: 'get_weather', arguments: { city: 'Oslo' }, id: 'call_1' }] });
    const waiting = await engine().start(workspace, scope, agent, { input: 'weather in Oslo?', mode: 'wait' });
    expect(waiting).toMatchObject({ status: 'requires_action', requiredAction: { tool_calls: [{ id: 'call_1', type: 'function', name: 'get_weather', arguments: { city: 'Oslo' } }] } });
    fake.enqueue({ kind: 'text', text: 'It is 18 degrees.' });
    const done = await engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: 'call_1', output: { temperature: 18 } }]);
    expect(done).toMatchObject({ status: 'completed', output: 'It is 18 degrees.' });
    const messages = (chatRequests()[1]!.body as { messages: Array<{ role: string; content: unknown; tool_call_id?: string }> }).messages;
    expect(messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_1', content: '{"temperature":18}' });
  });

  it.each([429, 500, 503])('falls back to the next model on a retryable %i, recording the fallback', async (status) => {
    const agent = await autoAgent();
    fake.enqueue({ kind: 'error', status }, { kind: 'text', text: 'From beta.' });
    const done = await engine().start(workspace, scope, agent, { input: 'hello', mode: 'wait' });
    expect(done).toMatchObject({ status: 'completed', output: 'From beta.', model: 'fake/beta' });
    expect((done.routing as { fallbacks: Array<{ model: string }> }).fallbacks.map((f) => f.model)).toEqual(['fake/alpha']);
    expect(chatRequests().map((request) => (request.body as { model: string }).model)).toEqual(['alpha', 'beta']);
    const fallback = (await h.module.events.read(done.id, 0, 100)).find((event) => event.type === 'run.model_fallback');
    expect(fallback?.data).toMatchObject({ model: 'fake/alpha' });
    const calls = (await h.store.spans.forRun(done.id)).filter((span) => span.kind === 'model_call');
    expect(calls.map((span) => [span.name, span.status]).sort()).toEqual([['fake/alpha', 'error'], ['fake/beta', 'ok']]);
  });

  it('fails with run_error at once on a non-retryable error', async () => {
    const agent = await autoAgent();
    fake.enqueue({ kind: 'error', status: 400 });
    const done = await engine().start(workspace, scope, agent, { input: 'hello', mode: 'wait' });
    expect(done).toMatchObject({ status: 'failed', errorCode: 'run_error', model: 'fake/alpha', routing: { fallbacks: [] } });
    expect(chatRequests()).toHaveLength(1);
  });

  it('fails with run_error when every candidate fails, keeping the fallbacks', async () => {
    const agent = await autoAgent();
    fake.enqueue({ kind: 'error', status: 500 }, { kind: 'error', status: 502 });
    const done = await engine().start(workspace, scope, agent, { input: 'hello', mode: 'wait' });
    expect(done).toMatchObject({ status: 'failed', errorCode: 'run_error', model: 'fake/beta' });
    expect((done.routing as { fallbacks: Array<{ model: string }> }).fallbacks.map((f) => f.model)).toEqual(['fake/alpha']);
    expect(done.usage.total_tokens).toBe(0);
  });

  it('fails with no_model_available when no allowed model has a configured provider, calling nothing', async () => {
    const agent = await h.agent(scope, { model: 'auto', routing: { allowed_models: ['openai/gpt-4o-mini'] } });
    const done = await engine().start(workspace, scope, agent, { input: 'hello', mode: 'wait' });
    expect(done).toMatchObject({ status: 'failed', errorCode: 'no_model_available' });
    expect(done.errorMessage).toContain('openai/gpt-4o-mini: provider openai is not configured');
    expect(fake.requests).toEqual([]);
  });
});
