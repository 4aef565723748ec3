import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OtlpTraceExporter } from '../../src/analytics/exporters/otlp.js';
import { TraceService } from '../../src/analytics/traces.js';
import { newId } from '../../src/ids.js';
import { call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { waitFor } from '../support/site.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  status?: { code?: number; message?: string };
}

/** OTLP's span kinds and status codes, as numbers in its JSON. */
const KIND = { internal: 1, client: 3 };
const STATUS = { ok: 1, error: 2 };

/** An attribute's value, whatever its OTLP JSON type. */
function attribute(span: OtlpSpan, key: string): unknown {
  const value = span.attributes.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  if ('stringValue' in value) return value.stringValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return value.doubleValue;
  if ('boolValue' in value) return value.boolValue;
  if ('arrayValue' in value) return ((value.arrayValue as { values?: Array<{ stringValue?: string }> }).values ?? []).map((v) => v.stringValue);
  return value;
}

/**
 * Traces go out over OTLP/HTTP to a receiver the test runs on loopback, with the GenAI semantic
 * conventions, and a run that another run started joins that run's trace under the span that
 * started it.
 */
describe('OpenTelemetry trace export', () => {
  let receiver: http.Server;
  let endpoint: string;
  const bodies: Array<{ headers: http.IncomingHttpHeaders; body: any }> = [];
  /** Exports sent to the path that answers 400. */
  let rejected = 0;
  let server: TestServer;
  let ws: TestWorkspace;
  const spans = (): OtlpSpan[] => bodies.flatMap((b) => b.body.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans)));
  const invoked = (): OtlpSpan[] => spans().filter((s) => String(attribute(s, 'gen_ai.operation.name')).startsWith('invoke_'));
  /** The span of a run itself (every span of the run carries its id). */
  const runSpan = (runId: string): OtlpSpan | undefined => invoked().find((s) => attribute(s, 'kairo.run.id') === runId);
  const post = (path: string, body: unknown) => call(server.url, 'POST', path, { key: ws.testKey, body });
  const get = (path: string) => call(server.url, 'GET', path, { key: ws.testKey });

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => {
        if (req.method === 'POST' && req.url === '/rejecting/v1/traces') {
          rejected++;
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":3,"message":"rejected"}');
          return;
        }
        if (req.method === 'POST' && req.url === '/v1/traces') bodies.push({ headers: req.headers, body: JSON.parse(text) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    // The base endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT: KAIRO appends /v1/traces.
    server = await startTestServer('sqlite', { otlpTracesUrl: endpoint, otlpHeaders: 'authorization=Bearer%20otlp-secret', otelServiceName: 'kairo-test' });
    ws = await server.workspace('pro');
  });
  afterAll(async () => {
    await server?.close();
    receiver?.close();
  });

  it('exports agent runs, workflow runs and their spans with gen_ai attributes, child runs inside the parent trace', async () => {
    const helper = (await post('/v1/agents', { name: 'Helper', model: 'openai/gpt-4o-mini' })).body;
    const agent = (await post('/v1/agents', { name: 'Caller', model: 'anthropic/claude-sonnet-4', tools: [{ type: 'agent', agent_id: helper.id, name: 'helper' }] })).body;
    const run = (await post(`/v1/agents/${agent.id}/runs`, { input: 'call helper {"input":"look it up"}' })).body;
    expect(run.status).toBe('completed');
    const workflow = (await post('/v1/workflows', { name: 'Digest', steps: [{ id: 'draft', type: 'agent', agent: helper.id, input: '"Draft it"' }] })).body;
    const workflowRun = (await post(`/v1/workflows/${workflow.id}/runs`, {})).body;
    expect(workflowRun.status).toBe('completed');
    const failed = (await post(`/v1/agents/${helper.id}/runs`, { input: 'fail 400' })).body;
    expect(failed.status).toBe('failed');
    expect((await post('/v1/context/sources', { name: 'kb' })).status).toBe(201);
    await post('/v1/context/sources/kb/documents', { documents: [{ title: 'Pricing', text: 'The Pro plan costs 49 dollars per month and includes priority support.' }] });
    const support = (await post('/v1/agents', { name: 'Support', model: 'openai/gpt-4o', context: ['kb'] })).body;
    const grounded = (await post(`/v1/agents/${support.id}/runs`, { input: 'How much does the Pro plan cost?' })).body;
    expect(grounded.status).toBe('completed');

    // Four runs of their own, two started by another (the agent tool's, the agent step's).
    await waitFor(async () => invoked().length, (n) => n >= 6, 10_000, 50);
    expect(invoked()).toHaveLength(6);
    for (const { headers } of bodies) {
      expect(headers.authorization).toBe('Bearer otlp-secret');
      expect(headers['content-type']).toContain('application/json');
    }
    const resource = bodies[0]!.body.resourceSpans[0].resource.attributes;
    expect(resource).toContainEqual({ key: 'service.name', value: { stringValue: 'kairo-test' } });
    expect(resource.some((a: any) => a.key === 'service.version' && typeof a.value.stringValue === 'string')).toBe(true);

    const all = spans();
    const byId = new Map(all.map((s) => [s.spanId, s]));
    const caller = runSpan(run.id)!;
    expect(caller).toMatchObject({ name: 'invoke_agent Caller', kind: KIND.internal, status: { code: STATUS.ok } });
    expect(caller.parentSpanId ?? '').toBe('');
    expect(caller).toMatchObject({ traceId: expect.stringMatching(/^[0-9a-f]{32}$/), spanId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(attribute(caller, 'gen_ai.operation.name')).toBe('invoke_agent');
    expect(attribute(caller, 'gen_ai.agent.id')).toBe(agent.id);
    expect(attribute(caller, 'gen_ai.agent.name')).toBe('Caller');
    expect(attribute(caller, 'gen_ai.conversation.id')).toBe(run.thread_id);
    expect(attribute(caller, 'gen_ai.request.model')).toBe('anthropic/claude-sonnet-4');
    expect(attribute(caller, 'gen_ai.response.model')).toBe('anthropic/claude-sonnet-4');
    expect(attribute(caller, 'gen_ai.usage.input_tokens')).toBe(run.usage.input_tokens);
    expect(attribute(caller, 'gen_ai.usage.output_tokens')).toBe(run.usage.output_tokens);
    expect(attribute(caller, 'kairo.workspace.id')).toBe(ws.id);
    expect(attribute(caller, 'kairo.livemode')).toBe(false);
    expect(attribute(caller, 'kairo.cost_notional')).toBe(true);

    const ofCaller = all.filter((s) => s.traceId === caller.traceId && s.parentSpanId === caller.spanId);
    expect(ofCaller.every((s) => attribute(s, 'kairo.run.id') === run.id)).toBe(true);
    expect(ofCaller.some((s) => s.name === 'queue wait')).toBe(true);
    const chats = ofCaller.filter((s) => attribute(s, 'gen_ai.operation.name') === 'chat');
    expect(chats).toHaveLength(2);
    expect(chats[0]).toMatchObject({ name: 'chat anthropic/claude-sonnet-4', kind: KIND.client });
    expect(attribute(chats[0]!, 'gen_ai.provider.name')).toBe('anthropic');
    expect(attribute(chats[0]!, 'gen_ai.request.model')).toBe('anthropic/claude-sonnet-4');
    expect(attribute(chats[0]!, 'gen_ai.response.model')).toBe('anthropic/claude-sonnet-4');
    expect(attribute(chats[0]!, 'gen_ai.response.finish_reasons')).toEqual(['tool-calls']);
    expect(typeof attribute(chats[0]!, 'gen_ai.usage.cache_read.input_tokens')).toBe('number');
    expect(typeof attribute(chats[0]!, 'gen_ai.usage.reasoning.output_tokens')).toBe('number');
    expect(chats.reduce((sum, s) => sum + (attribute(s, 'gen_ai.usage.input_tokens') as number), 0)).toBe(run.usage.input_tokens);
    expect(chats.reduce((sum, s) => sum + (attribute(s, 'gen_ai.usage.output_tokens') as number), 0)).toBe(run.usage.output_tokens);
    const tool = ofCaller.find((s) => attribute(s, 'gen_ai.operation.name') === 'execute_tool')!;
    expect(tool).toMatchObject({ name: 'execute_tool helper', kind: KIND.internal });
    expect(attribute(tool, 'gen_ai.tool.name')).toBe('helper');
    expect(attribute(tool, 'gen_ai.tool.call.id')).toEqual(expect.any(String));
    // The helper's run is a child of the tool call, in the caller's trace.
    const sub = invoked().find((s) => s.parentSpanId === tool.spanId)!;
    expect(sub).toMatchObject({ traceId: caller.traceId, name: 'invoke_agent Helper' });
    expect(attribute(sub, 'kairo.parent_run.id')).toBe(run.id);
    expect(all.filter((s) => s.parentSpanId === sub.spanId).some((s) => s.name === 'chat openai/gpt-4o-mini')).toBe(true);

    // The workflow run is a trace; its agent step's run hangs under the step's span.
    const flow = runSpan(workflowRun.id)!;
    expect(flow).toMatchObject({ name: 'invoke_workflow Digest', kind: KIND.internal });
    expect(flow.traceId).not.toBe(caller.traceId);
    expect(flow.parentSpanId ?? '').toBe('');
    expect(attribute(flow, 'gen_ai.operation.name')).toBe('invoke_workflow');
    expect(attribute(flow, 'gen_ai.workflow.name')).toBe('Digest');
    expect(attribute(flow, 'kairo.workflow.id')).toBe(workflow.id);
    const step = all.find((s) => s.traceId === flow.traceId && s.name === 'step draft')!;
    expect(step.parentSpanId).toBe(flow.spanId);
    expect(attribute(step, 'kairo.step.type')).toBe('agent');
    const stepRun = invoked().find((s) => s.parentSpanId === step.spanId)!;
    expect(stepRun).toMatchObject({ traceId: flow.traceId, name: 'invoke_agent Helper' });
    expect(attribute(stepRun, 'kairo.workflow.id')).toBe(workflow.id);
    const stepRunId = attribute(stepRun, 'kairo.run.id') as string;
    const stepRunBody = (await get(`/v1/agents/${helper.id}/runs/${stepRunId}`)).body;
    expect(attribute(stepRun, 'gen_ai.usage.input_tokens')).toBe(stepRunBody.usage.input_tokens);
    expect(attribute(stepRun, 'gen_ai.usage.output_tokens')).toBe(stepRunBody.usage.output_tokens);
    expect(all.some((s) => s.parentSpanId === stepRun.spanId && s.name === 'chat openai/gpt-4o-mini')).toBe(true);
    expect(all.some((s) => s.traceId === flow.traceId && s.parentSpanId === flow.spanId && s.name === 'queue wait')).toBe(true);

    // A run with context retrieves before its model call.
    const supportSpan = runSpan(grounded.id)!;
    const retrieval = all.find((s) => s.parentSpanId === supportSpan.spanId && attribute(s, 'gen_ai.operation.name') === 'retrieval')!;
    expect(retrieval).toMatchObject({ name: 'retrieval', kind: KIND.internal, traceId: supportSpan.traceId });
    expect(attribute(retrieval, 'kairo.retrieval.chunks')).toBeGreaterThanOrEqual(1);
    expect(attribute(retrieval, 'kairo.retrieval.sources')).toHaveLength(1);

    // A failed run and its failed call carry an error status and type.
    const failedSpan = runSpan(failed.id)!;
    expect(failedSpan.status?.code).toBe(STATUS.error);
    expect(attribute(failedSpan, 'error.type')).toBe(failed.error.code);
    const failedCall = all.find((s) => s.parentSpanId === failedSpan.spanId && s.name.startsWith('chat'))!;
    expect(failedCall.status?.code).toBe(STATUS.error);
    expect(attribute(failedCall, 'error.type')).toBe('provider_error');

    // Every parent named is a span that was exported, and each span went out once.
    for (const span of all) if (span.parentSpanId) expect(byId.has(span.parentSpanId), span.name).toBe(true);
    expect(byId.size).toBe(all.length);
    // Times are the stored ones, and ordered.
    for (const span of all) expect(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano)).toBe(true);
    expect(BigInt(caller.startTimeUnixNano) / 1_000_000n).toBe(BigInt(Date.parse(run.created_at)));
  });

  it('reports a refused export or a missing run to onError, never to the caller', async () => {
    const agent = (await post('/v1/agents', { name: 'Refused', model: 'openai/gpt-4o' })).body;
    const done = (await post(`/v1/agents/${agent.id}/runs`, { input: 'hello' })).body;
    const run = (await server.kairo.store.runs.getById(done.id))!;
    const errors: unknown[] = [];
    const exporter = new OtlpTraceExporter({
      url: `${endpoint}/rejecting/v1/traces`, headers: {}, serviceName: 'kairo-test', serviceVersion: '0.0.0',
      traces: new TraceService(server.kairo.store), store: server.kairo.store, onError: (error) => errors.push(error),
    });
    expect(() => exporter.agentRunFinished(run)).not.toThrow();
    expect(() => exporter.agentRunFinished({ ...run, id: newId('run') })).not.toThrow();
    // One for the run that is not there, one for the batch the receiver refused: reported as the
    // batch goes out on the processor's timer, not only when the exporter closes.
    await waitFor(async () => errors.length, (n) => n >= 2, 10_000, 50);
    await expect(exporter.close()).resolves.toBeUndefined();
    expect(rejected).toBe(1);
    expect(errors).toHaveLength(2);
    expect(errors.map((e) => String(e))).toEqual(expect.arrayContaining([expect.stringContaining('No such trace'), expect.stringContaining('Bad Request')]));
  });

  it('sends what is still buffered when the server closes', async () => {
    const agent = (await post('/v1/agents', { name: 'Last', model: 'openai/gpt-4o' })).body;
    const run = (await post(`/v1/agents/${agent.id}/runs`, { input: 'one more' })).body;
    await server.close();
    expect(runSpan(run.id)).toBeDefined();
  });
});
