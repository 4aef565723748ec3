/**
 * The agent run engine's lifecycle on a real SQLite store, in test mode (the deterministic
 * simulator answers every model call): creation and its refusals, concurrent-run slots, the
 * queue and slot waits of background runs, timeouts, cancellation, max_steps, model errors and
 * fallbacks, runs whose process died. Required actions and tools: agent-engine-actions.test.ts;
 * live mode against an OpenAI-compatible server: agent-engine-live.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryLaterError } from '../../src/errors.js';
import { newId } from '../../src/ids.js';
import { RUN_ABANDONED_AFTER_MS } from '../../src/agents/run-engine.js';
import type { Run } from '../../src/store/port.js';
import { waitFor } from '../support/site.js';
import { openEngineHarness, type EngineHarness } from './agent-engine-harness.js';
import { refusal } from '../support/refusal.js';

const SIMULATOR = 'kairo/simulator';

let h: EngineHarness;
beforeAll(async () => {
  h = await openEngineHarness();
});
afterAll(async () => {
  await h?.close();
});

const engine = () => h.module.engine;

describe('a run', () => {
  it('completes: queued, running, then completed with the answer, its usage and a latency breakdown on the injected clock', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR });
    const { run, slot } = await engine().create(workspace, scope, agent, { input: 'hello', mode: 'wait' });
    expect(run.status).toBe('queued');
    h.clock.advance(700);
    const done = await engine().execute(run.id, workspace, slot, run);
    expect(done).toMatchObject({ status: 'completed', output: 'Simulated answer to "hello".', model: SIMULATOR, errorCode: null, agentVersion: 1 });
    expect(done.usage.input_tokens).toBeGreaterThan(0);
    expect(done.usage.total_tokens).toBe(done.usage.input_tokens + done.usage.output_tokens);
    expect(done.latency).toMatchObject({ queue_ms: 700, total_ms: 700 });
    expect(done.startedAt).toBe(run.createdAt + 700);
    expect(await h.run(run.id)).toMatchObject({ status: 'completed', output: done.output });
    expect(await h.eventTypes(run.id)).toEqual(['run.created', 'run.started', 'run.output_text.delta', 'run.completed']);
    const history = await h.store.threads.history(done.threadId!);
    expect(history.map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  it('executed at once by its request is written once, as it ends, when it ends quickly', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR });
    const { run, slot } = await engine().create(workspace, scope, agent, { input: 'hello', mode: 'wait' }, true);
    expect(run.status).toBe('running');
    expect(await h.store.runs.getById(run.id)).toBeUndefined();
    const done = await engine().execute(run.id, workspace, slot, run);
    expect(await h.run(run.id)).toMatchObject({ status: 'completed', output: done.output, threadId: done.threadId });
    expect(await h.eventTypes(run.id)).toEqual(['run.created', 'run.started', 'run.output_text.delta', 'run.completed']);
    const events = await h.store.events.list(scope, { objectId: run.id }, { limit: 10 });
    expect(events.data.map((e) => e.type).sort()).toEqual(['agent.run.completed', 'agent.run.created']);
    expect((await h.store.threads.history(done.threadId!)).map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  it('executed at once by its request is written as running within moments when it takes longer, and can be cancelled then', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR });
    const { run, slot } = await engine().create(workspace, scope, agent, { input: 'slow 5000', mode: 'wait' }, true);
    const executing = engine().execute(run.id, workspace, slot, run);
    const running = await waitFor(() => h.store.runs.getById(run.id), (r) => r?.status === 'running');
    expect(running).toMatchObject({ status: 'running', threadId: run.threadId });
    expect((await h.store.events.list(scope, { objectId: run.id }, { limit: 10 })).data.map((e) => e.type)).toEqual(['agent.run.created']);
    await engine().cancel(running!);
    expect(await executing).toMatchObject({ status: 'cancelled' });
    expect(await h.eventTypes(run.id)).toEqual(['run.created', 'run.started', 'run.cancelled']);
  });

  it('continues a thread: the next run on it sends the earlier exchange to the model', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR });
    const first = await engine().start(workspace, scope, agent, { input: 'hello', mode: 'wait' });
    const second = await engine().start(workspace, scope, agent, { input: 'hello', mode: 'wait', threadId: first.threadId! });
    expect(second.threadId).toBe(first.threadId);
    expect(second.usage.input_tokens).toBeGreaterThan(first.usage.input_tokens);
    expect(await h.store.threads.history(first.threadId!)).toHaveLength(4);
  });

  it('streams each piece of text as an event in stream mode', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR });
    const done = await engine().start(workspace, scope, agent, { input: 'tell me about the sea', mode: 'stream' });
    const deltas = (await h.module.events.read(done.id, 0, 100)).filter((event) => event.type === 'run.output_text.delta');
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((event) => event.data.delta).join('')).toBe(done.output);
  });

  it('is refused for an agent that is not active, and for a thread that does not exist', async () => {
    const { workspace, scope } = await h.scope();
    const paused = await h.agent(scope, { model: SIMULATOR, status: 'paused' });
    expect(await refusal(engine().start(workspace, scope, paused, { input: 'x', mode: 'wait' }))).toEqual({ code: 'agent_not_active', status: 409 });
    const agent = await h.agent(scope, { model: SIMULATOR });
    await expect(engine().start(workspace, scope, agent, { input: 'x', mode: 'wait', threadId: newId('thread') }))
      .rejects.toMatchObject({ code: 'resource_missing', param: 'thread_id' });
    expect((await h.store.runs.list(scope, {}, { limit: 10 })).data).toEqual([]);
  });
});

describe('concurrent-run slots', () => {
  it('refuse wait and stream runs at the plan cap at once (429), create nothing, and lend a slot the caller holds', async () => {
    const { workspace, scope } = await h.scope('free');
    const agent = await h.agent(scope, { model: SIMULATOR });
    const held = await Promise.all(Array.from({ length: 5 }, () => h.slots.acquireOrThrow(workspace)));
    for (const mode of ['wait', 'stream'] as const) {
      expect(await refusal(engine().start(workspace, scope, agent, { input: 'x', mode }))).toEqual({ code: 'concurrency_limited', status: 429 });
    }
    expect((await h.store.runs.list(scope, {}, { limit: 10 })).data).toEqual([]);

    // A workflow run calling an agent lends its own slot, which stays held.
    const lent = await engine().start(workspace, scope, agent, { input: 'x', mode: 'wait', slot: held[0]! });
    expect(lent.status).toBe('completed');
    expect(await h.slots.inUse(workspace.id)).toBe(5);

    await held[0]!.release();
    const done = await engine().start(workspace, scope, agent, { input: 'x', mode: 'wait' });
    expect(done.status).toBe('completed');
    expect(await h.slots.inUse(workspace.id)).toBe(4);
    await Promise.all(held.map((slot) => slot.release()));
  });

  it('keep a background run queued at the cap: it waits its turn (RetryLaterError) and its slot wait is measured from the first try', async () => {
    const { workspace, scope } = await h.scope('free');
    const agent = await h.agent(scope, { model: SIMULATOR });
    const held = await Promise.all(Array.from({ length: 5 }, () => h.slots.acquireOrThrow(workspace)));
    const { run, slot } = await engine().create(workspace, scope, agent, { input: 'x', mode: 'background' });
    expect(slot).toBeUndefined();
    const waitBegan = h.clock.now + 1000;
    h.clock.advance(1000);
    await expect(engine().execute(run.id, workspace)).rejects.toBeInstanceOf(RetryLaterError);
    expect(await h.run(run.id)).toMatchObject({ status: 'queued', state: { slotWaitSince: waitBegan } });
    h.clock.advance(500);
    await expect(engine().execute(run.id, workspace)).rejects.toBeInstanceOf(RetryLaterError);
    expect((await h.run(run.id)).state.slotWaitSince).toBe(waitBegan);

    await held[0]!.release();
    h.clock.advance(2000);
    const done = await engine().execute(run.id, workspace);
    expect(done.status).toBe('completed');
    expect(done.latency).toMatchObject({ queue_ms: 1000, slot_wait_ms: 2500 });
    expect(done.state).not.toHaveProperty('slotWaitSince');
    const slotWait = (await h.store.spans.forRun(run.id)).find((span) => span.kind === 'slot_wait');
    expect(slotWait).toMatchObject({ status: 'ok', startedAt: waitBegan, endedAt: waitBegan + 2500 });
    expect(await h.slots.inUse(workspace.id)).toBe(4);
    await Promise.all(held.map((s) => s.release()));
  });

  it('let the queue run a background run once a slot frees, without spending its attempts', async () => {
    const { workspace, scope } = await h.scope('free');
    const agent = await h.agent(scope, { model: SIMULATOR });
    const held = await Promise.all(Array.from({ length: 5 }, () => h.slots.acquireOrThrow(workspace)));
    const { run } = await engine().create(workspace, scope, agent, { input: 'x', mode: 'background' });
    await h.queue.start({ concurrency: 1 });
    try {
      const waiting = await waitFor(() => h.run(run.id), (r) => r.state.slotWaitSince !== undefined);
      expect(waiting.status).toBe('queued');
      await held[0]!.release();
      const job = await waitFor(() => h.queue.getJob(`run_${run.id}`), (j) => j?.state === 'completed');
      // The tries at the cap were not attempts: the one that ran is the first.
      expect(job).toMatchObject({ state: 'completed', attempts: 1, result: { status: 'completed' } });
      const done = await h.run(run.id);
      expect(done.status).toBe('completed');
      expect(done.latency).toHaveProperty('slot_wait_ms');
    } finally {
      await h.queue.stop(5000);
      await Promise.all(held.map((s) => s.release()));
    }
  });
});

describe('a run that stops early', () => {
  it('fails with run_timeout after settings.timeout_ms, naming the model it was on', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR, settings: { timeout_ms: 50 } });
    const done = await engine().start(workspace, scope, agent, { input: 'slow 5000', mode: 'wait' });
    expect(done).toMatchObject({ status: 'failed', errorCode: 'run_timeout', errorMessage: 'The run exceeded settings.timeout_ms.', model: SIMULATOR });
    expect((await h.eventTypes(done.id)).at(-1)).toBe('run.failed');
  });

  it('fails with max_steps_exceeded when the model keeps calling tools', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, {
      model: SIMULATOR, settings: { max_steps: 1 },
      tools: [{ type: 'http', name: 'lookup', url: 'http://127.0.0.1:9/lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } }],
    });
    const done = await engine().start(workspace, scope, agent, { input: 'call lookup {"q":"x"}', mode: 'wait' });
    expect(done).toMatchObject({ status: 'failed', errorCode: 'max_steps_exceeded', errorMessage: 'The run stopped after 1 steps (settings.max_steps).' });
    // The tool's own failure (a refused address) was a result for the model, not the run's end.
    const toolSpan = (await h.store.spans.forRun(done.id)).find((span) => span.kind === 'tool_call');
    expect(toolSpan).toMatchObject({ name: 'lookup', status: 'error', attributes: { ok: false, tool_type: 'http' } });
  });

  it('is cancelled while the model works: the call is aborted and the run ends cancelled', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR });
    const { run, slot } = await engine().create(workspace, scope, agent, { input: 'slow 5000', mode: 'wait' });
    const executing = engine().execute(run.id, workspace, slot, run);
    const running = await waitFor(() => h.run(run.id), (r) => r.status === 'running');
    await engine().cancel(running);
    expect(await executing).toMatchObject({ status: 'cancelled' });
    expect(await h.run(run.id)).toMatchObject({ status: 'cancelled', cancelRequested: true });
    expect((await h.eventTypes(run.id)).at(-1)).toBe('run.cancelled');
  });

  it('is cancelled at once while queued, and its job then leaves it as it is', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR });
    const { run } = await engine().create(workspace, scope, agent, { input: 'x', mode: 'background' });
    expect(await engine().cancel(run)).toMatchObject({ status: 'cancelled' });
    expect(await engine().execute(run.id, workspace)).toMatchObject({ status: 'cancelled', startedAt: null });
    expect(await refusal(engine().cancel(await h.run(run.id)))).toEqual({ code: 'run_not_cancellable', status: 409 });
  });

  it('fails with run_interrupted when its process died: wait and stream runs only, background runs are the queue\'s', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR });
    const { run, slot } = await engine().create(workspace, scope, agent, { input: 'x', mode: 'wait' });
    await slot!.release();
    const { run: background } = await engine().create(workspace, scope, agent, { input: 'x', mode: 'background' });
    h.clock.advance(RUN_ABANDONED_AFTER_MS - 1);
    await engine().failAbandoned();
    expect((await h.run(run.id)).status).toBe('queued');
    h.clock.advance(2);
    expect(await engine().failAbandoned()).toBeGreaterThanOrEqual(1);
    expect(await h.run(run.id)).toMatchObject({ status: 'failed', errorCode: 'run_interrupted' });
    expect((await h.run(background.id)).status).toBe('queued');
  });
});

describe('model errors', () => {
  it('fail the run with run_error on a non-retryable error, with no fallback', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: SIMULATOR });
    const done = await engine().start(workspace, scope, agent, { input: 'fail 400\nhello', mode: 'wait' });
    expect(done).toMatchObject({ status: 'failed', errorCode: 'run_error', errorMessage: 'Simulated failure (HTTP 400).', model: SIMULATOR });
    expect(done.routing).toMatchObject({ candidates: [SIMULATOR], fallbacks: [] });
    const calls = (await h.store.spans.forRun(done.id)).filter((span) => span.kind === 'model_call');
    expect(calls.map((span) => [span.status, span.attributes.retryable])).toEqual([['error', false]]);
  });

  it('move on to the next candidate on a retryable error, and keep the fallbacks on a run that fails on every candidate', async () => {
    const { workspace, scope } = await h.scope();
    const agent = await h.agent(scope, { model: 'auto', routing: { allowed_models: ['openai/gpt-4o-mini', 'anthropic/claude-3-5-haiku'] } });
    const done = await engine().start(workspace, scope, agent, { input: 'fail 503\nhello', mode: 'wait' });
    const candidates = (done.routing as { candidates: string[] }).candidates;
    expect(candidates).toHaveLength(2);
    expect(done).toMatchObject({ status: 'failed', errorCode: 'run_error', model: candidates[1] });
    expect((done.routing as { fallbacks: Array<{ model: string }> }).fallbacks.map((f) => f.model)).toEqual([candidates[0]]);
    expect(await h.eventTypes(done.id)).toContain('run.model_fallback');
    const calls = (await h.store.spans.forRun(done.id)).filter((span) => span.kind === 'model_call');
    expect(calls.map((span) => [span.name, span.status]).sort()).toEqual(candidates.map((model) => [model, 'error']).sort());
  });

  it('fail with no_model_available when "auto" finds no model: in live mode, none whose provider is configured', async () => {
    const { workspace, scope } = await h.scope('enterprise', true);
    const agent = await h.agent(scope, { model: 'auto' });
    const done: Run = await engine().start(workspace, scope, agent, { input: 'hello', mode: 'wait' });
    expect(done).toMatchObject({ status: 'failed', errorCode: 'no_model_available' });
    expect(done.errorMessage).toMatch(/provider openai is not configured/);
    expect(await h.store.spans.forRun(done.id)).toEqual([]);
  });
});
