import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';

/**
 * Budgets through the real server, in test mode with the simulator's notional prices: CRUD and
 * validation, usage read from the rollups of finished runs, threshold and exceeded events once per
 * period, hard budgets refusing runs (and stopping a run between steps) with the remaining-budget
 * headers, and budgets scoped to one key or one agent affecting only it.
 */
describe.each(backends)('budgets (%s)', (backend) => {
  let server: TestServer;
  let ws: TestWorkspace;
  const api = (method: string, path: string, body?: unknown, key = ws.testKey) => call(server.url, method, path, { key, body });
  const newAgent = async (body: Record<string, unknown> = {}) => (await api('POST', '/v1/agents', { name: 'Budgeted', model: 'auto', ...body })).body.id as string;
  const run = (agentId: string, key?: string, input = 'Write a haiku about the sea') => api('POST', `/v1/agents/${agentId}/runs`, { input }, key);
  const eventsOf = async (budgetId: string, type: string) => (await api('GET', `/v1/events?object_id=${budgetId}&type=${type}`)).body.data as any[];

  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('creates, lists, reads, updates and deletes budgets, with defaults and usage', async () => {
    ws = await server.workspace('pro');
    const created = await api('POST', '/v1/budgets', { scope: { type: 'workspace' }, period: 'month', limit_usd: 25 });
    expect(created.status).toBe(201);
    expect(created.body.id).toMatch(/^budget_[0-9a-z]{26}$/);
    expect(created.body).toMatchObject({
      object: 'budget', scope: { type: 'workspace' }, period: 'month', limit_usd: 25, limit_tokens: null, thresholds: [50, 80, 100], hard: false,
      status: 'ok', usage: { cost_usd: 0, total_tokens: 0 }, last_threshold_reached: null, livemode: false,
    });
    const now = new Date();
    expect(created.body.usage.period_start).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString());
    expect(created.body.usage.period_end).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString());

    const agentId = await newAgent();
    const byAgent = await api('POST', '/v1/budgets', { scope: { type: 'agent', id: agentId }, period: 'day', limit_tokens: 1000, thresholds: [80, 10, 80], hard: true });
    expect(byAgent.status).toBe(201);
    expect(byAgent.body).toMatchObject({ scope: { type: 'agent', id: agentId }, thresholds: [10, 80], hard: true, limit_usd: null, limit_tokens: 1000 });

    expect((await api('GET', `/v1/budgets/${created.body.id}`)).body).toEqual(created.body);
    const list = await api('GET', '/v1/budgets');
    expect(list.body.data.map((b: any) => b.id)).toEqual([byAgent.body.id, created.body.id]);
    expect((await api('GET', '/v1/budgets', undefined, ws.liveKey)).body.data).toEqual([]);

    const patched = await api('PATCH', `/v1/budgets/${created.body.id}`, { limit_usd: null, limit_tokens: 5000, period: 'day', hard: true });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ limit_usd: null, limit_tokens: 5000, period: 'day', hard: true });
    const noLimit = await api('PATCH', `/v1/budgets/${created.body.id}`, { limit_tokens: null });
    expect(noLimit.status).toBe(400);
    expect(noLimit.body.error).toMatchObject({ code: 'parameter_missing', param: 'limit_usd' });

    const deleted = await api('DELETE', `/v1/budgets/${created.body.id}`);
    expect(deleted.body).toEqual({ object: 'budget', id: created.body.id, deleted: true });
    expect((await api('GET', `/v1/budgets/${created.body.id}`)).status).toBe(404);
    expect((await api('DELETE', `/v1/budgets/${created.body.id}`)).status).toBe(404);
    expect((await api('GET', '/v1/budgets/budget_nope')).body.error).toMatchObject({ code: 'resource_missing', type: 'not_found_error' });
  });

  it('refuses invalid budgets with 400 in the standard shape', async () => {
    ws = await server.workspace('pro');
    const refused = async (body: unknown, code: string, param?: string) => {
      const res = await api('POST', '/v1/budgets', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', code, ...(param ? { param } : {}) });
    };
    await refused({ scope: { type: 'workspace' }, period: 'day' }, 'parameter_missing', 'limit_usd');
    await refused({ scope: { type: 'workspace' }, period: 'week', limit_usd: 1 }, 'parameter_invalid');
    await refused({ scope: { type: 'workspace' }, period: 'day', limit_usd: 0 }, 'parameter_invalid');
    await refused({ scope: { type: 'workspace' }, period: 'day', limit_tokens: 1.5 }, 'parameter_invalid');
    await refused({ scope: { type: 'workspace' }, period: 'day', limit_usd: 1, thresholds: [0] }, 'parameter_invalid');
    await refused({ scope: { type: 'workspace' }, period: 'day', limit_usd: 1, thresholds: [101] }, 'parameter_invalid');
    await refused({ scope: { type: 'workspace' }, period: 'day', limit_usd: 1, thresholds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }, 'parameter_invalid');
    await refused({ scope: { type: 'team' }, period: 'day', limit_usd: 1 }, 'parameter_invalid');
    await refused({ scope: { type: 'workspace' }, period: 'day', limit_usd: 1, colour: 'red' }, 'parameter_unknown');
    await refused({ scope: { type: 'agent', id: newId('agent') }, period: 'day', limit_usd: 1 }, 'resource_missing', 'scope.id');
    await refused({ scope: { type: 'api_key', id: 'key_nope' }, period: 'day', limit_usd: 1 }, 'resource_missing', 'scope.id');
    // An agent of live mode is not there for a test-mode budget.
    const liveAgent = (await api('POST', '/v1/agents', { name: 'Live' }, ws.liveKey)).body.id;
    await refused({ scope: { type: 'agent', id: liveAgent }, period: 'day', limit_usd: 1 }, 'resource_missing', 'scope.id');
  });

  it('reports each threshold once and the limit once when passed; a hard budget then refuses runs with the headers', async () => {
    ws = await server.workspace('pro');
    const agentId = await newAgent();
    const first = await run(agentId);
    expect(first.status).toBe(200);
    expect(first.headers.get('kairo-budget-remaining-usd')).toBeNull();
    const cost = first.body.cost_usd as number;
    expect(cost).toBeGreaterThan(0);

    // 1 run of 3.5 used: 29 %; the runs after it reach 57 %, 86 %, 114 %.
    const budget = (await api('POST', '/v1/budgets', { scope: { type: 'workspace' }, period: 'day', limit_usd: cost * 3.5, thresholds: [50, 100] })).body;
    expect(budget).toMatchObject({ status: 'ok', usage: { total_tokens: first.body.usage.total_tokens } });
    expect(budget.usage.cost_usd).toBeCloseTo(cost, 8);

    const second = await run(agentId);
    expect(second.headers.get('kairo-budget-remaining-usd')).not.toBeNull();
    expect(Number(second.headers.get('kairo-budget-remaining-usd'))).toBeCloseTo(cost * 2.5, 8);
    expect(second.headers.get('kairo-budget-remaining-tokens')).toBeNull();
    const reached = await eventsOf(budget.id, 'budget.threshold_reached');
    expect(reached).toHaveLength(1);
    expect(reached[0].data.object).toMatchObject({ id: budget.id, object: 'budget', status: 'threshold_reached', last_threshold_reached: 50 });

    await run(agentId);
    expect(await eventsOf(budget.id, 'budget.threshold_reached')).toHaveLength(1);
    expect(await eventsOf(budget.id, 'budget.exceeded')).toHaveLength(0);

    expect((await run(agentId)).status).toBe(200);
    const exceeded = await eventsOf(budget.id, 'budget.exceeded');
    expect(exceeded).toHaveLength(1);
    expect(exceeded[0].data.object).toMatchObject({ id: budget.id, status: 'exceeded' });
    expect((await eventsOf(budget.id, 'budget.threshold_reached')).map((e) => e.data.object.last_threshold_reached)).toEqual([100, 50]);

    // Soft: runs go on, nothing is reported again this period.
    const soft = await run(agentId);
    expect(soft.status).toBe(200);
    expect(soft.headers.get('kairo-budget-remaining-usd')).toBe('0');
    expect(await eventsOf(budget.id, 'budget.exceeded')).toHaveLength(1);
    expect(await eventsOf(budget.id, 'budget.threshold_reached')).toHaveLength(2);
    expect((await api('GET', `/v1/budgets/${budget.id}`)).body).toMatchObject({ status: 'exceeded', last_threshold_reached: 100 });

    await api('PATCH', `/v1/budgets/${budget.id}`, { hard: true });
    for (const body of [{ input: 'again' }, { input: 'again', stream: true }, { input: 'again', background: true }]) {
      const refused = await api('POST', `/v1/agents/${agentId}/runs`, body);
      expect(refused.status, JSON.stringify(body)).toBe(403);
      expect(refused.body.error).toMatchObject({ type: 'permission_error', code: 'budget_exceeded' });
      expect(refused.body.error.message).toContain(budget.id);
      expect(refused.body.error.message).toContain('per day');
      expect(refused.headers.get('kairo-budget-remaining-usd')).toBe('0');
    }
    expect((await api('GET', `/v1/agents/${agentId}/runs`)).body.data).toHaveLength(5);

    // A workflow's agent step is refused too, and not retried.
    const wf = (await api('POST', '/v1/workflows', { name: 'Budgeted', steps: [{ id: 'ask', type: 'agent', agent: agentId, input: "'hi'" }] })).body;
    const wfRun = await api('POST', `/v1/workflows/${wf.id}/runs`, {});
    expect(wfRun.body.status).toBe('failed');
    expect(wfRun.body.steps.find((s: any) => s.key === 'ask')).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'budget_exceeded' } });
  });

  it('holds an api_key budget to that key only, and a soft budget never refuses', async () => {
    ws = await server.workspace('pro');
    const agentId = await newAgent();
    const key = (await api('POST', '/v1/api_keys', { name: 'metered' })).body;
    const budget = (await api('POST', '/v1/budgets', { scope: { type: 'api_key', id: key.id }, period: 'month', limit_tokens: 1, hard: true })).body;
    const soft = (await api('POST', '/v1/budgets', { scope: { type: 'workspace' }, period: 'day', limit_tokens: 1 })).body;

    const first = await run(agentId, key.secret);
    expect(first.status).toBe(200);
    expect(first.headers.get('kairo-budget-remaining-tokens')).toBe('1');
    const second = await run(agentId, key.secret);
    expect(second.status).toBe(403);
    expect(second.body.error.code).toBe('budget_exceeded');
    expect(second.headers.get('kairo-budget-remaining-tokens')).toBe('0');

    for (let i = 0; i < 2; i++) {
      const other = await run(agentId);
      expect(other.status).toBe(200);
      expect(other.headers.get('kairo-budget-remaining-tokens')).toBe('0');
    }
    // A streamed run carries the headers too.
    const streamed = await api('POST', `/v1/agents/${agentId}/runs`, { input: 'Write a haiku about the sea', stream: true });
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    expect(streamed.headers.get('kairo-budget-remaining-tokens')).toBe('0');
    expect((await api('GET', `/v1/budgets/${budget.id}`)).body).toMatchObject({ status: 'exceeded', usage: { total_tokens: first.body.usage.total_tokens } });
    expect((await api('GET', `/v1/budgets/${soft.id}`)).body.usage.total_tokens).toBeGreaterThan(first.body.usage.total_tokens * 2);
    expect(await eventsOf(soft.id, 'budget.exceeded')).toHaveLength(1);
  });

  it('holds an agent budget to that agent only', async () => {
    ws = await server.workspace('pro');
    const limited = await newAgent();
    const free = await newAgent();
    await api('POST', '/v1/budgets', { scope: { type: 'agent', id: limited }, period: 'day', limit_tokens: 1, hard: true });
    expect((await run(limited)).status).toBe(200);
    expect((await run(limited)).body.error).toMatchObject({ code: 'budget_exceeded' });
    const other = await run(free);
    expect(other.status).toBe(200);
    expect(other.headers.get('kairo-budget-remaining-tokens')).toBeNull();

    // Called as another agent's tool, the refused run is the tool's error; the caller goes on.
    const caller = await newAgent({ tools: [{ type: 'agent', agent_id: limited, name: 'ask_limited' }] });
    const called = await run(caller, undefined, 'call ask_limited {"input":"hi"}');
    expect(called.body.status).toBe('completed');
    const trace = (await api('GET', `/v1/agents/${caller}/runs/${called.body.id}`)).body;
    expect(JSON.stringify(trace.steps)).toContain('is used up until');
    expect((await api('GET', `/v1/agents/${limited}/runs`)).body.data).toHaveLength(1);
  });

  it('stops a multi-step run that used up a hard budget after its current step, failed with budget_exceeded', async () => {
    ws = await server.workspace('pro');
    const agentId = await newAgent({
      tools: [{ type: 'function', name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
    });
    await api('POST', '/v1/budgets', { scope: { type: 'agent', id: agentId }, period: 'day', limit_tokens: 1, hard: true });
    const waiting = await run(agentId, undefined, 'call get_weather {"city":"Paris"}');
    expect(waiting.body.status).toBe('requires_action');
    const call = waiting.body.required_action.tool_calls[0];
    const stopped = await api('POST', `/v1/agents/${agentId}/runs/${waiting.body.id}/tool_outputs`, { tool_outputs: [{ tool_call_id: call.id, output: { temperature: 18 } }] });
    expect(stopped.body).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded' }, output: null });
    expect(stopped.body.usage.total_tokens).toBe(waiting.body.usage.total_tokens);
    const failedEvents = (await api('GET', `/v1/events?object_id=${waiting.body.id}&type=agent.run.failed`)).body.data;
    expect(failedEvents[0].data.object.error.code).toBe('budget_exceeded');
  });

  it('counts completions asked of a model without an agent towards the workspace and key budgets, and refuses them once a hard one is used up', async () => {
    ws = await server.workspace('pro');
    const key = (await api('POST', '/v1/api_keys', { name: 'chat' })).body;
    const agentId = await newAgent();
    const byKey = (await api('POST', '/v1/budgets', { scope: { type: 'api_key', id: key.id }, period: 'day', limit_tokens: 1, hard: true })).body;
    const byAgent = (await api('POST', '/v1/budgets', { scope: { type: 'agent', id: agentId }, period: 'day', limit_tokens: 1, hard: true })).body;
    const workspace = (await api('POST', '/v1/budgets', { scope: { type: 'workspace' }, period: 'month', limit_usd: 1000 })).body;
    const chat = (secret: string, body: Record<string, unknown> = {}) =>
      api('POST', '/v1/chat/completions', { model: 'auto', messages: [{ role: 'user', content: 'Write a haiku about rain.' }], ...body }, secret);

    const first = await chat(key.secret);
    expect(first.status).toBe(200);
    expect(first.headers.get('kairo-budget-remaining-tokens')).toBe('1');
    const tokens = first.body.usage.total_tokens as number;
    expect(tokens).toBeGreaterThan(0);
    expect((await api('GET', `/v1/budgets/${byKey.id}`)).body).toMatchObject({ status: 'exceeded', usage: { total_tokens: tokens } });
    expect(await eventsOf(byKey.id, 'budget.exceeded')).toHaveLength(1);
    expect((await api('GET', `/v1/budgets/${byAgent.id}`)).body.usage.total_tokens).toBe(0);

    for (const refused of [
      await chat(key.secret),
      await chat(key.secret, { stream: true }),
      await api('POST', '/v1/responses', { model: 'kairo/simulator', input: 'hi' }, key.secret),
    ]) {
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({ type: 'permission_error', code: 'budget_exceeded' });
      expect(refused.body.error.message).toContain(byKey.id);
      expect(refused.headers.get('kairo-budget-remaining-tokens')).toBe('0');
    }

    // Another key is held to the workspace's budget only; a streamed completion counts once it ends.
    const streamed = await chat(ws.testKey, { stream: true });
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('kairo-budget-remaining-usd')).not.toBeNull();
    const usage = (await api('GET', `/v1/budgets/${workspace.id}`)).body.usage;
    expect(usage.total_tokens).toBe(tokens * 2);
    expect(usage.cost_usd).toBeGreaterThan(0);

    const totals = (await api('GET', '/v1/analytics/usage')).body.totals[0];
    expect(totals).toMatchObject({ completions: 2, completion_errors: 0, runs: 0, total_tokens: tokens * 2 });
    const costs = (await api('GET', '/v1/analytics/costs')).body;
    expect(costs.totals[0]).toMatchObject({ completions: 2, runs: 0 });
    expect(costs.total_cost_usd).toBeCloseTo(usage.cost_usd, 10);
    const models = (await api('GET', '/v1/analytics/models')).body.totals;
    expect(models.reduce((sum: number, m: any) => sum + m.calls, 0)).toBe(2);
  });
});
