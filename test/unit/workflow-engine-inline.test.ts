/**
 * Runs that the request starting them advances at once (wait and stream modes), on a real
 * SQLite store: no queue pickup, a backstop job that the run's end or wait withdraws, and that
 * stays out of the way of an advance that is alive.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type { RunSlot } from '../../src/platform/run-slots.js';
import type { AgentCallResult } from '../../src/workflows/engine/ports.js';
import type { Step } from '../../src/workflows/definition.js';
import type { Workflow } from '../../src/store/port.js';
import { agentAnswer, openHarness, type Harness } from './workflow-engine-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await openHarness();
});

afterAll(async () => {
  await h.close();
});

const transform = (id: string, expression: string): Step => ({ id, type: 'transform', expression });

const startNow = (workflow: Workflow, input: unknown = {}) => h.engine.startNow(h.scope, workflow, { input, mode: 'wait', trigger: 'api' }, h.workspace);

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let tries = 0; tries < 200; tries++) {
    const value = await read();
    if (done(value)) return value;
    await sleep(10);
  }
  throw new Error('gave up waiting');
}

describe('a run its request advances', () => {
  it('is written running and completes without the queue, its backstop job withdrawn', async () => {
    const workflow = await h.workflow([transform('a', 'input.n + 1')], { output: 'steps.a * 2' });
    const run = await startNow(workflow, { n: 20 });
    expect(run).toMatchObject({ status: 'running', latency: { queue_ms: 0 } });
    const done = await until(() => h.run(run.id), (r) => r.status === 'completed');
    expect(done.output).toBe(42);
    expect(done.latency.total_ms).toEqual(expect.any(Number));
    expect((await h.events(run.id)).map((e) => e.type)).toEqual(['run.created', 'run.started', 'step.completed', 'run.completed']);
    expect(await h.store.jobs.get(`wfrun_${run.id}`)).toBeUndefined();
  });

  it('withdraws its backstop when it waits for an approval', async () => {
    const workflow = await h.workflow([{ id: 'ok', type: 'approval' }, transform('after', '"approved"')]);
    const run = await startNow(workflow);
    await until(() => h.run(run.id), (r) => r.status === 'waiting');
    expect(await h.store.jobs.get(`wfrun_${run.id}`)).toBeUndefined();
  });

  it('is queued as a background run would be when no concurrent-run slot is free', async () => {
    const held: RunSlot[] = [];
    for (let slot = await h.slots.acquire(h.workspace); slot; slot = await h.slots.acquire(h.workspace)) held.push(slot);
    try {
      const run = await startNow(await h.workflow([transform('a', '1')]));
      expect(run.status).toBe('queued');
      expect(await h.store.jobs.get(`wfrun_${run.id}`)).toMatchObject({ state: 'waiting', payload: JSON.stringify({ runId: run.id }) });
    } finally {
      for (const slot of held) await slot.release();
    }
  });

  it('puts its backstop off while the advance is alive; stopping the engine hands the run to a job', async () => {
    const agent = newId('agent');
    let answer!: (result: AgentCallResult) => void;
    h.agents.set(agent, () => new Promise((resolve) => (answer = resolve)));
    const run = await startNow(await h.workflow([{ id: 'ask', type: 'agent', agent, input: '"hi"' }]));
    await until(async () => answer, (a) => a !== undefined);

    // The backstop comes due while the request's advance still holds the run.
    const leaseUntil = (await h.store.workflowRuns.leaseUntil(run.id))!;
    expect(await h.engine.advance(run.id, new AbortController().signal, true)).toEqual({ status: 'busy' });
    const putOff = await h.store.jobs.get(`wfrun_${run.id}_${leaseUntil}`);
    expect(putOff).toMatchObject({ state: 'waiting', payload: JSON.stringify({ runId: run.id, backstop: true }) });
    expect(putOff!.runAt).toBeGreaterThanOrEqual(leaseUntil);

    const closing = h.engine.closeInline();
    answer(agentAnswer('too late'));
    await closing;
    h.agents.set(agent, () => agentAnswer('again'));
    expect(await h.advance(run.id)).toBe('completed');
    expect(await h.run(run.id)).toMatchObject({ output: 'again' });
  });
});
