import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  let server: TestServer;
  let ws: TestWorkspace;
  const spans = (): OtlpSpan[] => bodies.flatMap((b) => b.body.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans)));
  const post = (path: string, body: unknown) => call(server.url, 'POST', path, { key: ws.testKey, body });

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => {
        if (req.method === 'POST' && req.url === '/v1/traces') bodies.push({ headers: req.headers, body: JSON.parse(text) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
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

    // Three runs of their own, two started by another (the agent tool's, the agent step's).
    const invoked = () => spans().filter((s) => String(attribute(s, 'gen_ai.operation.name')).startsWith('invoke_'));
    await waitFor(async () => invoked().length, (n) => n >= 5, 10_000, 100);
    expect(invoked()).toHaveLength(5);
    expect(bodies[0]!.headers.authorization).toBe('Bearer otlp-secret');
    expect(bodies[0]!.headers['content-type']).toContain('application/json');
    const resource = bodies[0]!.body.resourceSpans[0].resource.attributes;
    expect(resource).toContainEqual({ key: 'service.name', value: { stringValue: 'kairo-test' } });

    const all = spans();
    const byId = new Map(all.map((s) => [s.spanId, s]));
    const runSpan = all.find((s) => attribute(s, 'kairo.run.id') === run.id)!;
    expect(runSpan.name).toBe('invoke_agent Caller');
    expect(runSpan.parentSpanId ?? '').toBe('');
    expect(runSpan).toMatchObject({ traceId: expect.stringMatching(/^[0-9a-f]{32}$/), spanId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(attribute(runSpan, 'gen_ai.agent.id')).toBe(agent.id);
    expect(attribute(runSpan, 'gen_ai.agent.name')).toBe('Caller');
    expect(attribute(runSpan, 'gen_ai.conversation.id')).toBe(run.thread_id);
    expect(attribute(runSpan, 'gen_ai.response.model')).toBe('anthropic/claude-sonnet-4');
    expect(attribute(runSpan, 'gen_ai.usage.input_tokens')).toBe(run.usage.input_tokens);
    expect(attribute(runSpan, 'gen_ai.usage.output_tokens')).toBe(run.usage.output_tokens);

    const ofRun = all.filter((s) => s.traceId === runSpan.traceId && s.parentSpanId === runSpan.spanId);
    const chats = ofRun.filter((s) => attribute(s, 'gen_ai.operation.name') === 'chat');
    expect(chats).toHaveLength(2);
    expect(chats[0]).toMatchObject({ name: 'chat anthropic/claude-sonnet-4', kind: 3 });
    expect(attribute(chats[0]!, 'gen_ai.provider.name')).toBe('anthropic');
    expect(attribute(chats[0]!, 'gen_ai.request.model')).toBe('anthropic/claude-sonnet-4');
    expect(attribute(chats[0]!, 'gen_ai.response.finish_reasons')).toEqual(['tool-calls']);
    expect(chats.reduce((sum, s) => sum + (attribute(s, 'gen_ai.usage.output_tokens') as number), 0)).toBe(run.usage.output_tokens);
    const tool = ofRun.find((s) => attribute(s, 'gen_ai.operation.name') === 'execute_tool')!;
    expect(tool.name).toBe('execute_tool helper');
    expect(attribute(tool, 'gen_ai.tool.name')).toBe('helper');
    // The helper's run is a child of the tool call, in the caller's trace.
    const sub = invoked().find((s) => s.parentSpanId === tool.spanId)!;
    expect(sub).toMatchObject({ traceId: runSpan.traceId, name: 'invoke_agent Helper' });
    expect(all.filter((s) => s.parentSpanId === sub.spanId).some((s) => s.name === 'chat openai/gpt-4o-mini')).toBe(true);

    // The workflow run is a trace; its agent step's run hangs under the step's span.
    const flow = all.find((s) => attribute(s, 'kairo.run.id') === workflowRun.id)!;
    expect(flow.name).toBe('invoke_workflow Digest');
    expect(attribute(flow, 'gen_ai.operation.name')).toBe('invoke_workflow');
    const step = all.find((s) => s.traceId === flow.traceId && s.name === 'step draft')!;
    expect(step.parentSpanId).toBe(flow.spanId);
    const stepRun = invoked().find((s) => s.parentSpanId === step.spanId)!;
    expect(stepRun).toMatchObject({ traceId: flow.traceId, name: 'invoke_agent Helper' });
    expect(all.some((s) => s.traceId === flow.traceId && s.name === 'queue wait')).toBe(true);

    // A failed run and its failed call carry an error status and type.
    const failedSpan = all.find((s) => attribute(s, 'kairo.run.id') === failed.id)!;
    expect(failedSpan.status?.code).toBe(2);
    expect(attribute(failedSpan, 'error.type')).toBe(failed.error.code);
    const failedCall = all.find((s) => s.parentSpanId === failedSpan.spanId && s.name.startsWith('chat'))!;
    expect(failedCall.status?.code).toBe(2);
    expect(attribute(failedCall, 'error.type')).toBe('provider_error');

    // Every parent named is a span that was exported.
    for (const span of all) if (span.parentSpanId) expect(byId.has(span.parentSpanId), span.name).toBe(true);
    // Times are the stored ones, and ordered.
    for (const span of all) expect(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano)).toBe(true);
  });

  it('sends what is still buffered when the server closes', async () => {
    const agent = (await post('/v1/agents', { name: 'Last', model: 'openai/gpt-4o' })).body;
    const run = (await post(`/v1/agents/${agent.id}/runs`, { input: 'one more' })).body;
    await server.close();
    expect(spans().some((s) => attribute(s, 'kairo.run.id') === run.id)).toBe(true);
  });
});
