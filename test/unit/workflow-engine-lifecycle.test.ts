/**
 * A workflow run's lifecycle in the engine, on a real SQLite store: leases and slots, cancelling
 * at each stage, a worker stopping, and runs calling other workflows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type { RunSlot } from '../../src/platform/run-slots.js';
import type { Step } from '../../src/workflows/definition.js';
import type { AgentCallResult } from '../../src/workflows/engine/ports.js';
import { agentAnswer, openHarness, type Harness } from './workflow-engine-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await openHarness({ maxWorkflowDataBytes: 2_000 });
});

afterAll(async () => {
  await h.close();
});

const transform = (id: string, expression: string): Step => ({ id, type: 'transform', expression });

async function started(steps: Step[], extra = {}, input: unknown = {}) {
  const workflow = await h.workflow(steps, extra);
  return { workflow, run: await h.start(workflow, input) };
}

describe('advancing', () => {
  it('evaluates the output expression over the steps', async () => {
    const { run } = await started([transform('a', '2'), transform('b', '3')], { output: '{"sum": steps.a + steps.b}' });
    expect(await h.advance(run.id)).toBe('completed');
    expect(await h.run(run.id)).toMatchObject({ output: { sum: 5 }, startedAt: expect.any(Number), completedAt: expect.any(Number) });
  });

  it('leaves a finished run as it is, and says so of a missing one', async () => {
    const { run } = await started([transform('a', '1')]);
    expect(await h.advance(run.id)).toBe('completed');
    expect(await h.advance(run.id)).toBe('completed');
    expect((await h.events(run.id)).filter((e) => e.type === 'run.completed')).toHaveLength(1);
    expect(await h.advance(newId('wfrun'))).toBe('missing');
  });

  it('is busy while another engine holds the lease', async () => {
    const { run } = await started([transform('a', '1')]);
    expect(await h.store.workflowRuns.claim(run.id, 'another engine', h.now() + 30_000, h.now())).toBe(true);
    expect(await h.advance(run.id)).toBe('busy');
    expect((await h.run(run.id)).status).toBe('queued');
    await h.store.workflowRuns.release(run.id, 'another engine');
    expect(await h.advance(run.id)).toBe('completed');
  });

  it('waits for a slot at the workspace cap, and counts the wait once it runs', async () => {
    const held: RunSlot[] = [];
    for (let slot = await h.slots.acquire(h.workspace); slot; slot = await h.slots.acquire(h.workspace)) held.push(slot);
    try {
      const { run } = await started([transform('a', '1')]);
      expect(await h.advance(run.id)).toBe('waiting_for_slot');
      const waiting = await h.run(run.id);
      expect(waiting.status).toBe('queued');
      expect(waiting.latency.slot_wait_since).toEqual(expect.any(Number));
      await held.pop()!.release();
      expect(await h.advance(run.id)).toBe('completed');
      const done = await h.run(run.id);
      expect(done.latency.slot_wait_ms).toEqual(expect.any(Number));
      expect(done.latency.slot_wait_since).toBeUndefined();
    } finally {
      for (const slot of held) await slot.release();
    }
  });

  it('is interrupted when its worker stops, and goes on in a later advance', async () => {
    const agent = newId('agent');
    const stop = new AbortController();
    let answer!: (result: AgentCallResult) => void;
    h.agents.set(agent, () => {
      stop.abort();
      return new Promise((resolve) => (answer = resolve));
    });
    const { run } = await started([{ id: 'ask', type: 'agent', agent, input: '"hi"' }]);
    const advancing = h.advance(run.id, stop.signal);
    await waitUntil(() => answer !== undefined);
    answer(agentAnswer('too late'));
    expect(await advancing).toBe('interrupted');
    h.agents.set(agent, () => agentAnswer('again'));
    expect(await h.advance(run.id)).toBe('completed');
    expect(await h.run(run.id)).toMatchObject({ output: 'again' });
  });
});

describe('cancelling', () => {
  it('cancels a queued run at once', async () => {
    const { run } = await started([transform('a', '1')]);
    const cancelled = await h.engine.cancel(run);
    expect(cancelled).toMatchObject({ status: 'cancelled', errorCode: 'cancelled' });
    expect(await h.step(run.id, 'a')).toMatchObject({ status: 'skipped' });
    expect(await h.advance(run.id)).toBe('cancelled');
  });

  it('cancels a waiting run at once, keeping what ran', async () => {
    const { run } = await started([transform('a', '1'), { id: 'ok', type: 'approval' }, transform('b', '2')]);
    expect(await h.advance(run.id)).toBe('waiting');
    expect(await h.engine.cancel(await h.run(run.id))).toMatchObject({ status: 'cancelled' });
    expect(await h.step(run.id, 'a')).toMatchObject({ status: 'succeeded' });
    expect(await h.step(run.id, 'ok')).toMatchObject({ status: 'skipped' });
    expect(await h.step(run.id, 'b')).toMatchObject({ status: 'skipped' });
  });

  it('stops a running run once its step returns', async () => {
    const agent = newId('agent');
    let answer!: (result: AgentCallResult) => void;
    h.agents.set(agent, () => new Promise((resolve) => (answer = resolve)));
    const { run } = await started([{ id: 'ask', type: 'agent', agent, input: '"hi"' }, transform('after', '1')]);
    const advancing = h.advance(run.id);
    await waitUntil(() => answer !== undefined);
    const asked = await h.engine.cancel(await h.run(run.id));
    expect(asked).toMatchObject({ status: 'running', cancelRequested: true });
    answer(agentAnswer('ignored'));
    expect(await advancing).toBe('cancelled');
    expect(await h.run(run.id)).toMatchObject({ status: 'cancelled', errorCode: 'cancelled' });
    expect(await h.step(run.id, 'after')).toMatchObject({ status: 'skipped' });
  });
});

describe('workflow steps', () => {
  it("start the called workflow, wait for it, and output its output", async () => {
    const callee = await h.workflow([transform('double', 'input.n * 2')]);
    const { run } = await started([{ id: 'call', type: 'workflow', workflow: callee.id, input: '{"n": input.n}' }], {}, { n: 21 });
    expect(await h.advance(run.id)).toBe('waiting');
    const childId = (await h.step(run.id, 'call')).state.child_run_id as string;
    expect(await h.run(childId)).toMatchObject({ parentRunId: run.id, trigger: 'workflow', input: { n: 21 } });
    expect((await h.events(run.id)).find((e) => e.type === 'run.waiting')!.data).toMatchObject({ waiting_for: 'workflow' });
    expect(await h.advance(childId)).toBe('completed');
    expect(await h.advance(run.id)).toBe('completed');
    expect(await h.run(run.id)).toMatchObject({ output: 42 });
  });

  it('fail with workflow_failed when the called run fails', async () => {
    const callee = await h.workflow([transform('boom', '$error("inner")')]);
    const { run } = await started([{ id: 'call', type: 'workflow', workflow: callee.id }]);
    expect(await h.advance(run.id)).toBe('waiting');
    const childId = (await h.step(run.id, 'call')).state.child_run_id as string;
    expect(await h.advance(childId)).toBe('failed');
    expect(await h.advance(run.id)).toBe('failed');
    const failed = await h.run(run.id);
    expect(failed).toMatchObject({ errorCode: 'workflow_failed', errorStep: 'call' });
    expect(failed.errorMessage).toContain(`Workflow run ${childId} ended failed`);
  });

  it('fail with workflow_missing when the called workflow was deleted', async () => {
    const callee = await h.workflow([transform('a', '1')]);
    await h.store.workflows.delete(h.scope, callee.id, h.now());
    const { run } = await started([{ id: 'call', type: 'workflow', workflow: callee.id }]);
    expect(await h.advance(run.id)).toBe('failed');
    expect(await h.run(run.id)).toMatchObject({ errorCode: 'workflow_missing', errorStep: 'call' });
  });

  it('fail with step_input_too_large when the input is over the data limit', async () => {
    const callee = await h.workflow([transform('a', '1')]);
    const { run } = await started([{ id: 'call', type: 'workflow', workflow: callee.id, input: '{"a": input.text, "b": input.text}' }], {}, { text: 'x'.repeat(1_500) });
    expect(await h.advance(run.id)).toBe('failed');
    expect(await h.run(run.id)).toMatchObject({ errorCode: 'step_input_too_large', errorStep: 'call' });
  });

  it('cancel the called run with the caller', async () => {
    const callee = await h.workflow([{ id: 'ok', type: 'approval' }]);
    const { run } = await started([{ id: 'call', type: 'workflow', workflow: callee.id }]);
    expect(await h.advance(run.id)).toBe('waiting');
    const childId = (await h.step(run.id, 'call')).state.child_run_id as string;
    expect(await h.advance(childId)).toBe('waiting');
    expect(await h.engine.cancel(await h.run(run.id))).toMatchObject({ status: 'cancelled' });
    expect((await h.run(childId)).cancelRequested).toBe(true);
    expect(await h.advance(childId)).toBe('cancelled');
  });
});

describe('run input', () => {
  it('is refused over the data limit', () => {
    expect(h.engine.inputTooLarge({ text: 'x'.repeat(3_000) })).toMatch(/^The input is \d+ bytes of JSON, more than the 2000 allowed/);
    expect(h.engine.inputTooLarge({ text: 'short' })).toBeUndefined();
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('condition not met');
}
