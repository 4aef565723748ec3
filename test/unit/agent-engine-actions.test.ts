/**
 * What the agent run engine does with tool calls, on a real SQLite store in test mode: function
 * tools and approvals the client answers (requires_action, answers checked, expiry on the
 * injected clock, resuming wait and background runs), and server-side tools whose failures are
 * results for the model. Tools the engine cannot see fail through a stand-in tool runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToolRuntime } from '../../src/agents/run-engine.js';
import type { ToolDefinition, ToolResult, ToolSpec } from '../../src/agents/tools/ports.js';
import type { Run } from '../../src/store/port.js';
import { openEngineHarness, type EngineHarness } from './agent-engine-harness.js';
import { refusal } from '../support/refusal.js';

const SIMULATOR = 'kairo/simulator';
const TEN_MINUTES = 10 * 60 * 1000;
const objectOf = (properties: Record<string, unknown>) => ({ type: 'object', properties, required: Object.keys(properties) });
const weather: ToolDefinition = { type: 'function', name: 'get_weather', parameters: objectOf({ city: { type: 'string' } }) };
const refund: ToolDefinition = { type: 'function', name: 'refund', parameters: objectOf({ order: { type: 'string' } }), requires_approval: true };

let h: EngineHarness;
beforeAll(async () => {
  h = await openEngineHarness();
});
afterAll(async () => {
  await h?.close();
});

const engine = () => h.module.engine;
const callsOf = (run: Run) => (run.requiredAction as { tool_calls: Array<{ id: string; type: string; name: string; arguments: unknown }> }).tool_calls;

/** A tool runtime offering `specs`, with `definitions` by name and `execute` for every call. */
function standInTools(specs: ToolSpec[], definitions: Record<string, ToolDefinition>, execute: (run: Run, name: string) => Promise<ToolResult>): ToolRuntime {
  return {
    async prepare(run) {
      return { specs, definitionOf: (name) => definitions[name], execute: (name) => execute(run, name), close: async () => {} };
    },
  };
}

describe('function tools', () => {
  it('stop the run in requires_action, holding no slot, until the client sends every output once', async () => {
    const { workspace, scope } = await h.scope('free');
    const agent = await h.agent(scope, { model: SIMULATOR, tools: [weather] });
    const waiting = await engine().start(workspace, scope, agent, { input: 'call get_weather {"city":"Paris"}', mode: 'wait' });
    expect(waiting).toMatchObject({
      status: 'requires_action',
      requiredAction: { type: 'submit_tool_outputs', expires_at: new Date(h.clock.now + TEN_MINUTES).toISOString(), tool_calls: [{ type: 'function', name: 'get_weather', arguments: { city: 'Paris' } }] },
    });
    expect(await h.slots.inUse(workspace.id)).toBe(0);
    expect((await h.eventTypes(waiting.id)).at(-1)).toBe('run.requires_action');
    const id = callsOf(waiting)[0]!.id;

    await expect(engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: 'nope', output: 1 }])).rejects.toMatchObject({ code: 'parameter_invalid', param: 'tool_outputs[0].tool_call_id' });
    await expect(engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: id, output: 1 }, { tool_call_id: id, output: 2 }])).rejects.toMatchObject({ code: 'parameter_invalid', param: 'tool_outputs[1].tool_call_id' });
    await expect(engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: id }])).rejects.toMatchObject({ code: 'parameter_missing', param: 'tool_outputs[0].output' });
    await expect(engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: id, output: 1, approve: true }])).rejects.toMatchObject({ code: 'parameter_invalid', param: 'tool_outputs[0].approve' });
    await expect(engine().submitToolOutputs(workspace, waiting, [])).rejects.toMatchObject({ code: 'parameter_missing', param: 'tool_outputs' });
    expect((await h.run(waiting.id)).status).toBe('requires_action');

    const done = await engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: id, output: { temperature: 18 } }]);
    expect(done).toMatchObject({ status: 'completed', output: 'Tool get_weather returned: {"temperature":18}' });
    expect(await h.slots.inUse(workspace.id)).toBe(0);
    // Answering again, from the run as it was or as it is: the run is not waiting any more.
    expect(await refusal(engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: id, output: 1 }]))).toEqual({ code: 'run_not_waiting', status: 409 });
    await expect(engine().submitToolOutputs(workspace, done, [{ tool_call_id: id, output: 1 }])).rejects.toMatchObject({ code: 'run_not_waiting' });
  });

  it('expire after ten minutes: the late answer is refused and the run fails with tool_outputs_expired', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR, tools: [weather] });
    const waiting = await engine().start(workspace, scope, agent, { input: 'call get_weather {"city":"Oslo"}', mode: 'wait' });
    h.clock.advance(TEN_MINUTES + 1);
    await expect(engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: callsOf(waiting)[0]!.id, output: 1 }])).rejects.toMatchObject({ code: 'run_not_waiting' });
    expect(await h.run(waiting.id)).toMatchObject({ status: 'failed', errorCode: 'tool_outputs_expired', requiredAction: null });
  });

  it('resume a background run by a job of its own for each answer', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR, tools: [weather] });
    const { run } = await engine().create(workspace, scope, agent, { input: 'call get_weather {"city":"Rome"}', mode: 'background' });
    const waiting = await engine().execute(run.id, workspace);
    expect(waiting.status).toBe('requires_action');
    const resumed = await engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: callsOf(waiting)[0]!.id, output: { temperature: 25 } }]);
    expect(resumed).toMatchObject({ status: 'queued', requiredAction: null });
    expect(await h.queue.getJob(`run_${run.id}_resume_1`)).toMatchObject({ kind: 'agents.run', state: 'waiting' });
    expect(await engine().execute(run.id, workspace)).toMatchObject({ status: 'completed', output: 'Tool get_weather returned: {"temperature":25}' });
  });

  it('can be cancelled while waiting for the client', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR, tools: [weather] });
    const waiting = await engine().start(workspace, scope, agent, { input: 'call get_weather {"city":"Lima"}', mode: 'wait' });
    expect(await engine().cancel(waiting)).toMatchObject({ status: 'cancelled', requiredAction: null });
    await expect(engine().submitToolOutputs(workspace, await h.run(waiting.id), [{ tool_call_id: callsOf(waiting)[0]!.id, output: 1 }]))
      .rejects.toMatchObject({ code: 'run_not_waiting' });
  });
});

describe('approvals', () => {
  it('take approve, never an output; a denied call is not run and the model is told why', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR, tools: [refund] });
    const waiting = await engine().start(workspace, scope, agent, { input: 'call refund {"order":"A-1"}', mode: 'wait' });
    const call = callsOf(waiting)[0]!;
    expect(call).toMatchObject({ type: 'approval', name: 'refund' });
    await expect(engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: call.id, output: 1 }])).rejects.toMatchObject({ code: 'parameter_missing', param: 'tool_outputs[0].approve' });
    await expect(engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: call.id, approve: true, output: 1 }])).rejects.toMatchObject({ code: 'parameter_invalid', param: 'tool_outputs[0].output' });
    const denied = await engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: call.id, approve: false, reason: 'over the limit' }]);
    expect(denied).toMatchObject({ status: 'completed', output: 'Tool refund was not run: over the limit.' });
    const completed = (await h.module.events.read(denied.id, 0, 100)).find((event) => event.type === 'run.tool_call.completed');
    expect(completed?.data).toMatchObject({ tool_call_id: call.id, ok: false });
  });

  it('of a function tool ask for its output next, under the same call', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR, tools: [refund] });
    const waiting = await engine().start(workspace, scope, agent, { input: 'call refund {"order":"B-2"}', mode: 'wait' });
    const call = callsOf(waiting)[0]!;
    const approved = await engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: call.id, approve: true }]);
    expect(approved.status).toBe('requires_action');
    expect(callsOf(approved)).toEqual([{ id: call.id, type: 'function', name: 'refund', arguments: { order: 'B-2' } }]);
    const done = await engine().submitToolOutputs(workspace, approved, [{ tool_call_id: call.id, output: { refunded: true } }]);
    expect(done).toMatchObject({ status: 'completed', output: 'Tool refund returned: {"refunded":true}' });
  });

  it('of a server-side tool run it on the server', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, {
      model: SIMULATOR,
      tools: [{ type: 'http', name: 'lookup', url: 'http://127.0.0.1:9/lookup', parameters: objectOf({ q: { type: 'string' } }), requires_approval: true }],
    });
    const waiting = await engine().start(workspace, scope, agent, { input: 'call lookup {"q":"x"}', mode: 'wait' });
    const done = await engine().submitToolOutputs(workspace, waiting, [{ tool_call_id: callsOf(waiting)[0]!.id, approve: true }]);
    expect(done.status).toBe('completed');
    expect(done.output).toMatch(/^Tool lookup returned: \{"error":/);
    expect((await h.store.spans.forRun(done.id)).filter((span) => span.kind === 'tool_call')).toHaveLength(1);
  });
});

describe('server-side tools', () => {
  it('check arguments before they run: invalid ones are an error result, and the run goes on', async () => {
    const { workspace, scope } = await h.scope();
    const helper = await h.agent(scope, { model: SIMULATOR });
    const agent = await h.agent(scope, { model: SIMULATOR, tools: [{ type: 'agent', agent_id: helper.id, name: 'ask' }] });
    const done = await engine().start(workspace, scope, agent, { input: 'call ask {"input":5}', mode: 'wait' });
    expect(done.status).toBe('completed');
    expect(done.output).toContain('Invalid arguments: arguments.input must be string');
    expect((await h.store.spans.forRun(done.id)).find((span) => span.kind === 'tool_call')).toMatchObject({ status: 'error', attributes: { error: 'invalid arguments' } });
  });

  it('let agents call agents at most 3 deep', async () => {
    const { workspace, scope } = await h.scope();
    const created = await h.agent(scope, { model: SIMULATOR });
    const agent = await h.module.agents.update(scope, created.id, { tools: [{ type: 'agent', agent_id: created.id, name: 'ask' }] });
    let input = 'hello';
    for (let i = 0; i < 4; i++) input = `call ask ${JSON.stringify({ input })}`;
    const done = await engine().start(workspace, scope, agent, { input, mode: 'wait' });
    expect(done.status).toBe('completed');
    const runs = (await h.store.runs.list(scope, { agentId: agent.id }, { limit: 10 })).data;
    expect(runs).toHaveLength(4);
    const deepest = runs.find((run) => run.metadata.kairo_depth === '3')!;
    expect(deepest.output).toContain('Agents may call agents at most 3 deep.');
  });

  it('that cannot be reached when the run starts fail it with run_error', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR, tools: [{ type: 'mcp', server_label: 'crm', server_url: 'http://127.0.0.1:9/mcp', allowed_tools: ['find_lead'] }] });
    const done = await engine().start(workspace, scope, agent, { input: 'hello', mode: 'wait' });
    expect(done).toMatchObject({ status: 'failed', errorCode: 'run_error' });
    expect(done.errorMessage).not.toBe('');
  });

  it('that throw, or that the model names but the agent lacks, give the model an error result', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR });
    const specs = [
      { name: 'flaky', description: 'Fails', parameters: { type: 'object' } },
      { name: 'ghost', description: 'Not defined', parameters: { type: 'object' } },
    ];
    const definitions: Record<string, ToolDefinition> = { flaky: { type: 'http', name: 'flaky', url: 'https://example.com/', parameters: { type: 'object' } } };
    const stand = h.engineWith(standInTools(specs, definitions, async () => {
      throw new Error('connection reset');
    }));
    const flaky = await stand.start(workspace, scope, agent, { input: 'call flaky', mode: 'wait' });
    expect(flaky).toMatchObject({ status: 'completed', output: 'Tool flaky returned: {"error":"connection reset"}' });
    expect((await h.store.spans.forRun(flaky.id)).find((span) => span.kind === 'tool_call')).toMatchObject({ status: 'error', attributes: { error: 'tool error', tool_type: 'http' } });
    const ghost = await stand.start(workspace, scope, agent, { input: 'call ghost', mode: 'wait' });
    expect(ghost).toMatchObject({ status: 'completed', output: 'Tool ghost returned: {"error":"Unknown tool ghost"}' });
  });

  it('see a cancel asked for by another process at the next step', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR });
    const specs = [{ name: 'slow', description: 'Slow', parameters: { type: 'object' } }];
    const stand = h.engineWith(standInTools(specs, { slow: { type: 'http', name: 'slow', url: 'https://example.com/', parameters: { type: 'object' } } }, async (run) => {
      await h.store.runs.requestCancel(run.id, h.clock.now);
      return { ok: true, output: 'done', latencyMs: 0 };
    }));
    const done = await stand.start(workspace, scope, agent, { input: 'call slow', mode: 'wait' });
    expect(done).toMatchObject({ status: 'cancelled' });
    expect((await h.store.spans.forRun(done.id)).filter((span) => span.kind === 'model_call')).toHaveLength(1);
  });
});
