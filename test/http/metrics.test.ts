import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { waitFor } from '../support/site.js';
import { parsePrometheusText, type Family } from '../support/prometheus-text.js';

type Families = Map<string, Family>;

/** The samples named `sample` (a family's, or a histogram's `_count`, `_bucket`…) whose labels include `labels`. */
function samples(families: Families, sample: string, labels: Record<string, string> = {}) {
  return [...families.values()].flatMap((f) => f.samples).filter((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
const total = (families: Families, sample: string, labels: Record<string, string> = {}) => samples(families, sample, labels).reduce((sum, s) => sum + s.value, 0);

describe.each(backends)('Prometheus metrics on %s', (backend) => {
  let server: TestServer;
  let ws: TestWorkspace;
  const scrape = async (): Promise<Families> => {
    const res = await fetch(`${server.kairo.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return parsePrometheusText(await res.text());
  };

  beforeAll(async () => {
    server = await startTestServer(backend, { metricsPort: 0 });
    ws = await server.workspace('pro');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves /metrics on the operator port only, with the process, request, run, token, queue and build figures', async () => {
    expect(server.kairo.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new URL(server.kairo.metricsUrl!).port).not.toBe(String(server.kairo.port));
    const key = ws.testKey;
    const agent = (await call(server.url, 'POST', '/v1/agents', { key, body: { name: 'Metered', model: 'openai/gpt-4o-mini' } })).body;
    const runs: any[] = [];
    for (const input of ['one', 'two', 'fail 400']) runs.push((await call(server.url, 'POST', `/v1/agents/${agent.id}/runs`, { key, body: { input } })).body);
    const workflow = (await call(server.url, 'POST', '/v1/workflows', { key, body: { name: 'Metered flow', steps: [{ id: 'a', type: 'transform', expression: '1' }, { id: 'b', type: 'transform', expression: '2' }] } })).body;
    expect((await call(server.url, 'POST', `/v1/workflows/${workflow.id}/runs`, { key, body: {} })).body.status).toBe('completed');
    // A background run goes through the job queue (the wait-mode one above ran in its request).
    const queued = (await call(server.url, 'POST', `/v1/workflows/${workflow.id}/runs`, { key, body: { background: true } })).body;
    await waitFor(() => call(server.url, 'GET', `/v1/workflows/${workflow.id}/runs/${queued.id}`, { key }), (r) => r.body.status === 'completed', 5_000, 50);
    expect((await call(server.url, 'GET', '/v1/agents?limit=0', { key })).status).toBe(400);
    // Request figures arrive with the request log's batch, about a second later.
    const families = await waitFor(scrape, (f) => total(f, 'kairo_http_requests_total', { route: '/v1/agents' }) >= 2, 5_000, 200);

    expect(total(families, 'kairo_http_requests_total', { method: 'POST', route: '/v1/agents', status: '201' })).toBe(1);
    expect(total(families, 'kairo_http_requests_total', { method: 'POST', route: '/v1/agents/{id}/runs', status: '200' })).toBe(3);
    expect(total(families, 'kairo_http_requests_total', { method: 'GET', route: '/v1/agents', status: '400' })).toBe(1);
    expect(families.get('kairo_http_request_duration_seconds')?.type).toBe('histogram');
    expect(total(families, 'kairo_http_request_duration_seconds_count', { route: '/v1/agents/{id}/runs' })).toBe(3);
    expect(total(families, 'kairo_http_request_duration_seconds_bucket', { route: '/v1/agents/{id}/runs', le: '+Inf' })).toBe(3);

    expect(total(families, 'kairo_runs_total', { type: 'agent_run', status: 'completed' })).toBe(2);
    expect(total(families, 'kairo_runs_total', { type: 'agent_run', status: 'failed' })).toBe(1);
    expect(total(families, 'kairo_runs_total', { type: 'workflow_run', status: 'completed' })).toBe(2);
    expect(total(families, 'kairo_workflow_steps_total')).toBe(4);
    expect(total(families, 'kairo_run_duration_seconds_count', { type: 'agent_run' })).toBe(3);

    expect(total(families, 'kairo_model_calls_total', { model: 'openai/gpt-4o-mini', status: 'ok' })).toBe(2);
    expect(total(families, 'kairo_model_calls_total', { model: 'openai/gpt-4o-mini', status: 'error' })).toBe(1);
    const usage = (field: string) => runs.reduce((sum, r) => sum + r.usage[field], 0);
    expect(total(families, 'kairo_tokens_total', { model: 'openai/gpt-4o-mini', kind: 'input' })).toBe(usage('input_tokens'));
    expect(total(families, 'kairo_tokens_total', { model: 'openai/gpt-4o-mini', kind: 'output' })).toBe(usage('output_tokens'));
    expect(total(families, 'kairo_cost_usd_total', { livemode: 'false' })).toBeCloseTo(runs.reduce((sum, r) => sum + r.cost_usd, 0), 12);

    expect(samples(families, 'kairo_queue_jobs').map((m) => m.labels.state).sort()).toEqual(['active', 'completed', 'delayed', 'failed', 'waiting']);
    expect(total(families, 'kairo_queue_jobs', { state: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(total(families, 'kairo_job_duration_seconds_count', { kind: 'workflows.run', outcome: 'completed' })).toBeGreaterThanOrEqual(1);
    if (backend === 'sqlite') expect(samples(families, 'kairo_db_pool_connections')).toEqual([]);
    else expect(total(families, 'kairo_db_pool_connections', { state: 'total' })).toBeGreaterThan(0);
    expect(samples(families, 'nodejs_eventloop_lag_seconds')).toHaveLength(1);
    expect(samples(families, 'kairo_build_info')[0]).toMatchObject({ value: 1, labels: { version: expect.any(String) } });

    // Not on the API's port; nothing else on the metrics port.
    expect((await call(server.url, 'GET', '/metrics')).status).toBe(404);
    expect((await fetch(`${server.kairo.metricsUrl}/v1/workspace`)).status).toBe(404);
  });

  it('has no metrics endpoint unless the operator asks for one', async () => {
    const plain = await startTestServer(backend);
    try {
      expect(plain.kairo.metricsUrl).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});
