import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, call, startTestServer, type ApiResponse, type TestServer, type TestWorkspace } from '../support/server.js';
import { waitFor } from '../support/site.js';
import { startFakeOpenAI } from '../fixtures/fake-openai.js';

type Fake = Awaited<ReturnType<typeof startFakeOpenAI>>;

/** Every result of every bucket of a bucketed answer. */
const results = (body: any): any[] => body.data.flatMap((bucket: any) => bucket.results);
const sum = (items: any[], field: string): number => items.reduce((total, item) => total + (item[field] ?? 0), 0);

/** The exact value at rank ⌊q·(n − 1)⌋, as the sketches define percentiles. */
function exactPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((p / 100) * (sorted.length - 1))]!;
}

describe.each(backends)('analytics API on %s', (backend) => {
  let server: TestServer;
  let ws: TestWorkspace;
  let fake: Fake;
  const get = (path: string, key = ws.testKey) => call(server.url, 'GET', path, { key });
  const post = (path: string, body: unknown, key = ws.testKey) => call(server.url, 'POST', path, { key, body });

  /** Waits until the request log has the request that answered `res` (it is written about a second later). */
  async function logged(res: ApiResponse, key = ws.testKey): Promise<void> {
    const id = res.headers.get('x-request-id')!;
    const found = await waitFor(() => get(`/v1/requests/${id}`, key), (r) => r.status === 200);
    expect(found.status).toBe(200);
  }

  /** Every agent run of the key's mode, from the traces list. */
  async function allAgentRuns(key = ws.testKey): Promise<any[]> {
    const runs: any[] = [];
    for (let after: string | undefined; ;) {
      const page = await get(`/v1/analytics/traces?type=agent_run&limit=100${after ? `&after=${after}` : ''}`, key);
      expect(page.status).toBe(200);
      runs.push(...page.body.data);
      if (!page.body.has_more) return runs;
      after = page.body.last_id;
    }
  }

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    server = await startTestServer(backend, {
      openaiCompatibleBaseUrl: fake.url,
      openaiCompatibleName: 'fake',
      chatModels: 'fake/alpha:128000;tools=yes;quality=5',
      modelPrices: 'fake/alpha;in=2;out=8;cached=0.5',
    });
    ws = await server.workspace('enterprise');
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  describe('test mode', () => {
    let helper: any;
    let router: any;
    let fixed: any;
    let workflow: any;
    let workflowRun: any;
    let lastResponse: ApiResponse;

    beforeAll(async () => {
      helper = (await post('/v1/agents', { name: 'Helper', model: 'openai/gpt-4o-mini' })).body;
      router = (await post('/v1/agents', { name: 'Router', model: 'auto', tools: [{ type: 'agent', agent_id: helper.id, name: 'helper' }] })).body;
      fixed = (await post('/v1/agents', { name: 'Fixed', model: 'anthropic/claude-sonnet-4' })).body;
      for (const input of ['Summarize the quarter', 'Classify this ticket', 'call helper {"input":"look it up"}']) {
        expect((await post(`/v1/agents/${router.id}/runs`, { input })).body.status).toBe('completed');
      }
      await post(`/v1/agents/${fixed.id}/runs`, { input: 'Write a poem' });
      expect((await post(`/v1/agents/${fixed.id}/runs`, { input: 'fail 400' })).body.status).toBe('failed');
      // The agent gets a second version, so versions group apart.
      await call(server.url, 'PATCH', `/v1/agents/${fixed.id}`, { key: ws.testKey, body: { instructions: 'Be brief.' } });
      await post(`/v1/agents/${fixed.id}/runs`, { input: 'Write a haiku' });
      workflow = (await post('/v1/workflows', {
        name: 'Digest',
        steps: [
          { id: 'draft', type: 'agent', agent: helper.id, input: '"Draft the digest"' },
          { id: 'each', type: 'map', items: '[1, 2]', steps: [{ id: 'double', type: 'transform', expression: 'item * 2' }] },
        ],
      })).body;
      workflowRun = (await post(`/v1/workflows/${workflow.id}/runs`, {})).body;
      expect(workflowRun.status).toBe('completed');
      lastResponse = await get('/v1/workspace');
      await logged(lastResponse);
    });

    it('counts every run, workflow run, step, token and request that happened', async () => {
      const runs = await allAgentRuns();
      // 3 router runs, 1 helper run as a tool, 3 fixed runs, 1 helper run in the workflow.
      expect(runs).toHaveLength(8);
      const usage = await get('/v1/analytics/usage?bucket_width=1h');
      expect(usage.status).toBe(200);
      const totals = usage.body.totals;
      expect(totals).toHaveLength(1);
      const [total] = totals;
      expect(total).toMatchObject({
        object: 'analytics.usage.result', runs: 8, run_errors: 1, workflow_runs: 1, workflow_run_errors: 0,
        input_tokens: sum(runs.map((r) => r.usage), 'input_tokens'),
        output_tokens: sum(runs.map((r) => r.usage), 'output_tokens'),
        cached_input_tokens: 0,
      });
      // draft, each, and each iteration's double.
      expect(total.steps).toBe(4);
      expect(total.total_tokens).toBe(total.input_tokens + total.output_tokens);
      // Every request of this test's key so far is counted: it is in the log.
      const requests = await get(`/v1/requests?limit=100&end=${new Date(Date.now() + 1000).toISOString()}`);
      expect(total.requests).toBeGreaterThanOrEqual(requests.body.data.filter((r: any) => r.created_at <= new Date().toISOString()).length - 1);
      // Buckets sum to the totals.
      expect(sum(results(usage.body), 'runs')).toBe(8);
    });

    it("equals each run's usage and cost, notionally priced at the models the simulator stood in for", async () => {
      const runs = await allAgentRuns();
      const costs = await get('/v1/analytics/costs?group_by=model');
      expect(costs.status).toBe(200);
      expect(costs.body.cost_notional).toBe(true);
      const byModel = new Map<string, number>();
      for (const run of runs) if (run.model) byModel.set(run.model, (byModel.get(run.model) ?? 0) + run.cost_usd);
      for (const result of costs.body.totals) expect(result.cost_usd).toBeCloseTo(byModel.get(result.model) ?? 0, 12);
      expect(costs.body.total_cost_usd).toBeCloseTo(sum(runs, 'cost_usd'), 12);
      expect(costs.body.total_cost_usd).toBeGreaterThan(0);
      // A workflow run's cost is that of its steps' agent runs.
      const trace = (await get(`/v1/analytics/traces/${workflowRun.id}`)).body;
      const childCost = sum(trace.children, 'cost_usd');
      expect(trace.cost_usd).toBeCloseTo(childCost, 12);
      expect(workflowRun.cost_usd).toBeCloseTo(childCost, 12);
      expect(trace.usage.input_tokens).toBe(sum(trace.children.map((c: any) => c.usage), 'input_tokens'));
    });

    it('reports per model: calls, tokens, cost, errors, auto routing choices', async () => {
      const runs = await allAgentRuns();
      const models = await get('/v1/analytics/models?percentiles=50,99');
      expect(models.status).toBe(200);
      const totals = models.body.totals;
      expect(sum(totals, 'output_tokens')).toBe(sum(runs.map((r) => r.usage), 'output_tokens'));
      expect(sum(totals, 'cost_usd')).toBeCloseTo(sum(runs, 'cost_usd'), 12);
      // The failed run's call is an error of its model.
      const claude = totals.find((t: any) => t.model === 'anthropic/claude-sonnet-4');
      expect(claude).toMatchObject({ provider: 'anthropic', calls: 3, errors: 1 });
      expect(claude.error_rate).toBeCloseTo(1 / 3, 12);
      expect(claude.latency_ms).toMatchObject({ count: 3, p50: expect.any(Number), p99: expect.any(Number) });
      // The router's three runs were routed by "auto": each counts once for the model it chose.
      expect(sum(totals, 'auto_chosen')).toBe(3);
      expect(sum(totals, 'fallbacks')).toBe(0);
    });

    it('groups by every dimension, each grouping adding up to the same totals, and filters by each', async () => {
      const usage = (query: string) => get(`/v1/analytics/usage?bucket_width=1h&${query}`);
      const all = (await usage('')).body.totals[0];
      for (const group of ['agent', 'agent_version', 'workflow', 'workflow_version', 'api_key', 'model', 'provider', 'status']) {
        const res = await usage(`group_by=${group}`);
        expect(res.status, group).toBe(200);
        for (const field of ['runs', 'workflow_runs', 'input_tokens', 'output_tokens', 'requests']) expect(sum(res.body.totals, field), `${group} ${field}`).toBe(all[field]);
      }
      const byVersion = (await usage(`group_by=agent_version&agent_id=${fixed.id}`)).body.totals;
      expect(byVersion.map((r: any) => [r.agent_id, r.agent_version, r.runs]).sort()).toEqual([[fixed.id, 1, 2], [fixed.id, 2, 1]]);
      const helperRuns = (await usage(`agent_id=${helper.id}`)).body.totals[0];
      expect(helperRuns).toMatchObject({ runs: 2, requests: 0, workflow_runs: 0 });
      const inWorkflow = (await usage(`workflow_id=${workflow.id}&group_by=workflow_version`)).body.totals;
      expect(inWorkflow).toEqual([expect.objectContaining({ workflow_id: workflow.id, workflow_version: 1, runs: 1, workflow_runs: 1, steps: 4 })]);
      expect((await usage('status=failed')).body.totals[0]).toMatchObject({ runs: 1, run_errors: 1 });
      expect((await usage('model=anthropic/claude-sonnet-4&group_by=model')).body.totals).toEqual([expect.objectContaining({ model: 'anthropic/claude-sonnet-4', runs: 3 })]);
      expect((await usage('provider=anthropic')).body.totals[0].runs).toBe(3);
      const byKey = (await usage('group_by=api_key')).body.totals;
      expect(byKey.every((r: any) => typeof r.api_key_id === 'string' && r.api_key_id.startsWith('key_'))).toBe(true);
      expect((await usage(`api_key_id=${byKey[0].api_key_id}`)).body.totals[0].runs).toBe(8);
      // Requests by status: HTTP codes.
      const byStatus = (await usage('group_by=status')).body.totals;
      expect(byStatus.some((r: any) => r.status === '200' && r.requests > 0)).toBe(true);
      expect(byStatus.find((r: any) => r.status === 'completed')).toMatchObject({ runs: 7, requests: 0 });
    });

    it('lists traces with filters, and returns span trees with child traces linked both ways', async () => {
      const list = await get(`/v1/analytics/traces?limit=100`);
      expect(list.status).toBe(200);
      expect(list.body.data).toHaveLength(9);
      const ids = list.body.data.map((t: any) => t.id.slice(t.id.indexOf('_') + 1));
      expect(ids).toEqual([...ids].sort().reverse());
      expect((await get(`/v1/analytics/traces?agent_id=${router.id}`)).body.data).toHaveLength(3);
      expect((await get(`/v1/analytics/traces?type=workflow_run`)).body.data.map((t: any) => t.id)).toEqual([workflowRun.id]);
      expect((await get(`/v1/analytics/traces?workflow_id=${workflow.id}`)).body.data).toHaveLength(2);
      expect((await get('/v1/analytics/traces?status=failed')).body.data).toHaveLength(1);
      expect((await get('/v1/analytics/traces?model=anthropic/claude-sonnet-4')).body.data).toHaveLength(3);
      expect((await get('/v1/analytics/traces?min_cost_usd=1000')).body.data).toHaveLength(0);
      const slowest = Math.max(...list.body.data.map((t: any) => t.duration_ms));
      expect((await get(`/v1/analytics/traces?min_latency_ms=${slowest}`)).body.data.every((t: any) => t.duration_ms >= slowest)).toBe(true);
      // Pages walk both kinds of run in one order.
      const first = await get('/v1/analytics/traces?limit=4');
      const second = await get(`/v1/analytics/traces?limit=4&after=${first.body.last_id}`);
      const back = await get(`/v1/analytics/traces?limit=4&before=${second.body.first_id}`);
      expect([...first.body.data, ...second.body.data].map((t: any) => t.id)).toEqual(list.body.data.slice(0, 8).map((t: any) => t.id));
      expect(back.body.data.map((t: any) => t.id)).toEqual(first.body.data.map((t: any) => t.id));

      // The workflow's trace: queue wait, a span per step (iterations under their map), the agent step's run linked to its step.
      const trace = (await get(`/v1/analytics/traces/${workflowRun.id}`)).body;
      expect(trace).toMatchObject({ object: 'trace', type: 'workflow_run', name: 'Digest', status: 'completed', cost_notional: true });
      const step = (name: string) => trace.spans.find((s: any) => s.type === 'step' && s.name === name);
      expect(trace.spans[0].type).toBe('queue_wait');
      expect(step('each[0].double').parent_id).toBe(step('each').id);
      expect(step('draft').attributes).toMatchObject({ step_type: 'agent', step_status: 'succeeded', attempts: 1 });
      const [child] = trace.children;
      expect(child).toMatchObject({ type: 'agent_run', parent_trace_id: workflowRun.id, parent_span_id: step('draft').id, workflow_id: workflow.id });
      expect(step('draft').child_trace_ids).toEqual([child.id]);
      const steps = (await get(`/v1/workflows/${workflow.id}/runs/${workflowRun.id}`)).body.steps;
      expect(steps.find((s: any) => s.key === 'draft').agent_run_ids).toEqual([child.id]);

      // An agent run's trace: routing, model calls with tokens and cost, the tool call with the sub-agent's run under it.
      const toolRun = list.body.data.find((t: any) => t.agent_id === router.id && t.usage.input_tokens > 0 && t.latency_ms.tools_ms >= 0 && t.id);
      const agentTraces = await Promise.all(list.body.data.filter((t: any) => t.agent_id === router.id).map((t: any) => get(`/v1/analytics/traces/${t.id}`)));
      const withTool = agentTraces.map((r) => r.body).find((t: any) => t.spans.some((s: any) => s.type === 'tool_call'));
      expect(toolRun).toBeDefined();
      expect(withTool.routing).toMatchObject({ model: expect.any(String), candidates: expect.any(Array) });
      const tool = withTool.spans.find((s: any) => s.type === 'tool_call');
      expect(tool.attributes).toMatchObject({ tool: 'helper', tool_type: 'agent', ok: true });
      expect(tool.child_trace_ids).toHaveLength(1);
      const sub = withTool.children[0];
      expect(sub).toMatchObject({ id: tool.child_trace_ids[0], parent_trace_id: withTool.id, parent_span_id: tool.id, agent_id: helper.id });
      const calls = withTool.spans.filter((s: any) => s.type === 'model_call');
      expect(calls).toHaveLength(2);
      expect(sum(calls.map((c: any) => c.attributes), 'input_tokens')).toBe(withTool.usage.input_tokens);
      expect(sum(calls.map((c: any) => c.attributes), 'cost_usd')).toBeCloseTo(withTool.cost_usd, 12);
      expect(calls[0].attributes).toMatchObject({ provider: 'openai', cost_notional: true, finish_reason: 'tool-calls' });
      expect((await get(`/v1/analytics/traces/${sub.id}`)).body).toMatchObject({ parent_trace_id: withTool.id, name: 'Helper' });
    });

    it('keeps a request log: every authenticated request, the run it created, its error, never a body', async () => {
      const created = await call(server.url, 'POST', `/v1/agents/${helper.id}/runs`, { key: ws.testKey, body: { input: 'secret body text' }, headers: { 'idempotency-key': 'log-probe-1' } });
      const refused = await post(`/v1/agents/${helper.id}/runs`, { input: 'x', bogus: true });
      expect(refused.status).toBe(400);
      await logged(refused);
      const entry = (await get(`/v1/requests/${created.headers.get('x-request-id')}`)).body;
      expect(entry).toMatchObject({
        object: 'request', livemode: false, method: 'POST', route: '/v1/agents/{id}/runs', path: `/v1/agents/${helper.id}/runs`, status: 200,
        run_id: created.body.id, idempotency_key: 'log-probe-1', error_code: null, api_key_id: expect.stringMatching(/^key_/),
      });
      expect(entry.latency_ms).toBeGreaterThan(0);
      expect(JSON.stringify(entry)).not.toContain('secret body text');
      expect((await get(`/v1/requests/${refused.headers.get('x-request-id')}`)).body).toMatchObject({ status: 400, error_code: 'parameter_unknown', run_id: null });
      const failures = (await get('/v1/requests?status=400')).body.data;
      expect(failures.map((r: any) => r.id)).toContain(refused.headers.get('x-request-id'));
      expect(failures.every((r: any) => r.status === 400)).toBe(true);
      const runsCreated = (await get(`/v1/requests?route=${encodeURIComponent('/v1/agents/{id}/runs')}&method=POST&limit=100`)).body.data;
      expect(runsCreated.every((r: any) => r.route === '/v1/agents/{id}/runs' && r.method === 'POST')).toBe(true);
      expect(runsCreated.length).toBeGreaterThanOrEqual(8);
      const since = (await get(`/v1/requests?start=${entry.created_at}&limit=100`)).body.data;
      expect(since.every((r: any) => r.created_at >= entry.created_at)).toBe(true);
      expect(since.map((r: any) => r.id)).toContain(entry.id);
      expect((await get(`/v1/requests?end=${entry.created_at}&limit=100`)).body.data.map((r: any) => r.id)).not.toContain(entry.id);
      // No secret in the log.
      expect(JSON.stringify((await get('/v1/requests?limit=100')).body)).not.toContain(ws.testKey);
      // The other mode's log is its own.
      expect((await get(`/v1/requests/${created.headers.get('x-request-id')}`, ws.liveKey)).status).toBe(404);
    });
  });

  it('uses the operator\'s prices in live mode, cached and reasoning tokens included, apart from test mode', async () => {
    fake.enqueue({ kind: 'text', text: 'Priced.', usage: { prompt_tokens: 1000, completion_tokens: 200, cached_tokens: 400, reasoning_tokens: 50 } });
    const agent = (await post('/v1/agents', { name: 'Live', model: 'fake/alpha' }, ws.liveKey)).body;
    const run = (await post(`/v1/agents/${agent.id}/runs`, { input: 'hello' }, ws.liveKey)).body;
    expect(run).toMatchObject({ status: 'completed', cost_notional: false, usage: { input_tokens: 1000, output_tokens: 200, cached_input_tokens: 400, reasoning_tokens: 50 } });
    // 600 uncached input tokens at $2, 400 cached at $0.50 and 200 output at $8 per million.
    const expected = (600 * 2 + 400 * 0.5 + 200 * 8) / 1e6;
    expect(run.cost_usd).toBeCloseTo(expected, 15);
    const costs = (await get('/v1/analytics/costs?group_by=model', ws.liveKey)).body;
    expect(costs.cost_notional).toBe(false);
    expect(costs.totals).toEqual([expect.objectContaining({ model: 'fake/alpha', cost_usd: expect.closeTo(expected, 15), runs: 1 })]);
    const model = (await get('/v1/analytics/models', ws.liveKey)).body.totals[0];
    expect(model).toMatchObject({ model: 'fake/alpha', provider: 'fake', calls: 1, input_tokens: 1000, cached_input_tokens: 400, reasoning_tokens: 50, output_tokens: 200 });
    const usage = (await get('/v1/analytics/usage', ws.liveKey)).body.totals[0];
    expect(usage).toMatchObject({ runs: 1, cached_input_tokens: 400, reasoning_tokens: 50 });
    // Test mode never sees it.
    expect((await get('/v1/analytics/costs?group_by=model')).body.totals.some((r: any) => r.model === 'fake/alpha')).toBe(false);
    expect((await get(`/v1/analytics/traces/${run.id}`)).status).toBe(404);
    const trace = (await get(`/v1/analytics/traces/${run.id}`, ws.liveKey)).body;
    expect(trace.spans.find((s: any) => s.type === 'model_call').attributes).toMatchObject({ cached_input_tokens: 400, reasoning_tokens: 50, cost_notional: false });
  });

  it('reports latency percentiles within 1 % of the exact ones', async () => {
    const agent = (await post('/v1/agents', { name: 'Timed', model: 'openai/gpt-4o' })).body;
    const delays = [3, 7, 12, 18, 25, 33, 41, 52, 60, 75, 90, 110, 5, 9, 14, 22, 30, 45, 66, 130];
    const runs = [];
    for (const ms of delays) runs.push((await post(`/v1/agents/${agent.id}/runs`, { input: `slow ${ms}\nhow long?` })).body);
    const res = await get(`/v1/analytics/latency?bucket_width=1h&agent_id=${agent.id}&metrics=total,model,time_to_first_token&percentiles=50,90,95,99`);
    expect(res.status).toBe(200);
    const [result] = res.body.totals;
    expect(result.runs).toBe(delays.length);
    expect(result.retrieval_ms).toBeUndefined();
    for (const [metric, field] of [['total_ms', 'total_ms'], ['model_ms', 'model_ms'], ['time_to_first_token_ms', 'time_to_first_token_ms']] as const) {
      const values = runs.map((r: any) => r.latency_ms[field]);
      expect(result[metric].count).toBe(values.length);
      for (const p of [50, 90, 95, 99]) {
        const exact = exactPercentile(values, p);
        expect(Math.abs(result[metric][`p${p}`] - exact), `${metric} p${p}: ${result[metric][`p${p}`]} vs ${exact}`).toBeLessThanOrEqual(exact * 0.01 + 0.01);
      }
    }
  });

  it('records the waits of runs at the plan\'s concurrent-run cap as slot-wait spans', async () => {
    const free = await server.workspace('free');
    const agent = (await post('/v1/agents', { name: 'Busy', model: 'openai/gpt-4o' }, free.testKey)).body;
    const workflow = (await post('/v1/workflows', { name: 'Busy flow', steps: [{ id: 'ask', type: 'agent', agent: agent.id, input: '"slow 300"' }] }, free.testKey)).body;
    // Five slots on the free plan: eight runs of each kind at once, so some wait for one.
    const started = [
      ...(await Promise.all(Array.from({ length: 8 }, () => post(`/v1/agents/${agent.id}/runs`, { input: 'slow 300', background: true }, free.testKey)))),
      ...(await Promise.all(Array.from({ length: 8 }, () => post(`/v1/workflows/${workflow.id}/runs`, { background: true }, free.testKey)))),
    ].map((r) => r.body);
    // Polled gently: the free plan allows 100 requests a minute.
    const ids = new Set(started.map((r) => r.id));
    const listed = await waitFor(
      () => get('/v1/analytics/traces?limit=100', free.testKey),
      (r) => r.body.data.filter((t: any) => ids.has(t.id) && ['completed', 'failed'].includes(t.status)).length === ids.size,
      30_000,
      300,
    );
    expect(listed.body.data.filter((t: any) => ids.has(t.id)).map((t: any) => t.status)).toEqual([...ids].map(() => 'completed'));
    const traces = await Promise.all(started.map((run) => get(`/v1/analytics/traces/${run.id}`, free.testKey)));
    const waited = traces.map((t) => t.body).filter((t) => t.spans.some((s: any) => s.type === 'slot_wait'));
    expect(waited.length).toBeGreaterThan(0);
    for (const trace of waited) {
      const waits = trace.spans.filter((s: any) => s.type === 'slot_wait');
      expect(trace.latency_ms.slot_wait_ms).toBe(waits.reduce((total: number, s: any) => total + s.duration_ms, 0));
      expect(waits[0]).toMatchObject({ name: 'concurrent-run slot', status: 'ok', parent_id: null });
      // The queue wait ends where the first slot wait began.
      const queue = trace.spans.find((s: any) => s.type === 'queue_wait');
      expect(queue.ended_at <= waits[0].started_at).toBe(true);
    }
    expect(waited.some((t) => t.type === 'agent_run')).toBe(true);
    expect(waited.some((t) => t.type === 'workflow_run')).toBe(true);
    const latency = (await get(`/v1/analytics/latency?bucket_width=1h&agent_id=${agent.id}&metrics=slot_wait,queue`, free.testKey)).body.totals[0];
    expect(latency.slot_wait_ms.count).toBe(waited.filter((t) => t.type === 'agent_run' && t.agent_id === agent.id).length);
  });

  it('refuses bad input naming the parameter, and answers an empty range with empty buckets', async () => {
    const bad: Array<[string, string]> = [
      ['/v1/analytics/usage?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z', 'end'],
      ['/v1/analytics/usage?bucket_width=1m&start=2025-01-01T00:00:00Z', 'start'],
      ['/v1/analytics/usage?group_by=colour', 'group_by'],
      ['/v1/analytics/costs?group_by=model,shoe', 'group_by'],
      ['/v1/analytics/usage?agent_id=agent_nope', 'agent_id'],
      ['/v1/analytics/usage?workflow_id=run_01m8y0pykne15b1msptqw0q28g', 'workflow_id'],
      ['/v1/analytics/usage?agent_version=2', 'agent_id'],
      ['/v1/analytics/usage?bucket_width=2h', 'bucket_width'],
      ['/v1/analytics/usage?start=yesterday', 'start'],
      ['/v1/analytics/usage?status=sleeping', 'status'],
      ['/v1/analytics/latency?metrics=total,speed', 'metrics'],
      ['/v1/analytics/latency?percentiles=50,101', 'percentiles'],
      ['/v1/analytics/latency?percentiles=0', 'percentiles'],
      ['/v1/analytics/models?limit=0', 'limit'],
      ['/v1/analytics/traces?min_latency_ms=-1', 'min_latency_ms'],
      ['/v1/analytics/traces?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z', 'end'],
      ['/v1/analytics/traces?type=thread', 'type'],
      ['/v1/requests?status=42', 'status'],
      ['/v1/analytics/usage?colour=red', 'colour'],
    ];
    for (const [path, param] of bad) {
      const res = await get(path);
      expect(res.status, path).toBe(400);
      expect(res.body.error.param, path).toBe(param);
      expect(res.body.error.request_id).toBe(res.headers.get('x-request-id'));
    }
    expect((await get('/v1/analytics/traces/wfrun_01m8y0pykne15b1msptqw0q28g')).status).toBe(404);
    expect((await get('/v1/analytics/traces/nope')).status).toBe(404);
    expect((await get('/v1/requests/req_01m8y0pykne15b1msptqw0q28g')).status).toBe(404);
    const empty = await get('/v1/analytics/usage?bucket_width=1d&start=2026-01-01T00:00:00Z&end=2026-01-04T00:00:00Z');
    expect(empty.status).toBe(200);
    expect(empty.body.data.map((b: any) => [b.start_time, b.end_time, b.results])).toEqual([
      ['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z', []],
      ['2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z', []],
      ['2026-01-03T00:00:00.000Z', '2026-01-04T00:00:00.000Z', []],
    ]);
    expect(empty.body).toMatchObject({ has_more: false, next_page: null, totals: [] });
  });

  it('pages through buckets with next_page, never more than the width allows per response', async () => {
    const start = new Date(Date.now() - 3 * 3600_000).toISOString();
    const first = (await get(`/v1/analytics/usage?bucket_width=1h&start=${start}&limit=2`)).body;
    expect(first.data).toHaveLength(2);
    expect(first.has_more).toBe(true);
    const rest = (await get(`/v1/analytics/usage?bucket_width=1h&start=${start}&limit=2&page=${first.next_page}`)).body;
    expect(rest.data[0].start_time).toBe(first.next_page);
    expect(rest.data.length + first.data.length).toBe(4);
    expect(rest.has_more).toBe(false);
    // The runs of this test are in the last bucket, whichever page holds it.
    expect(sum(results(rest), 'runs') + sum(results(first), 'runs')).toBeGreaterThan(0);
    // A limit above the width's cap gets the cap.
    const capped = (await get(`/v1/analytics/usage?bucket_width=1d&start=${new Date(Date.now() - 40 * 86_400_000).toISOString()}&limit=1000`)).body;
    expect(capped.data).toHaveLength(31);
    expect(capped.has_more).toBe(true);
  });
});
