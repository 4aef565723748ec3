/**
 * The workflow engine's composite and waiting steps (branch, parallel, map, delay, approval) and
 * long retry backoffs, on a real SQLite store with a clock the tests move forward.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type { Step } from '../../src/workflows/definition.js';
import { WorkflowService } from '../../src/workflows/workflows.js';
import { agentAnswer, agentError, openHarness, type Harness } from './workflow-engine-harness.js';

let h: Harness;
let service: WorkflowService;

beforeAll(async () => {
  h = await openHarness({ maxMapItems: 5 });
  service = new WorkflowService(h.store, h.engine, { advanceInRequest: false }, h.now);
});

afterAll(async () => {
  await h.close();
});

const transform = (id: string, expression: string): Step => ({ id, type: 'transform', expression });

async function started(steps: Step[], input: unknown = {}) {
  const workflow = await h.workflow(steps);
  return { workflow, run: await h.start(workflow, input) };
}

async function runOnce(steps: Step[], input: unknown = {}) {
  const { run } = await started(steps, input);
  const status = await h.advance(run.id);
  return { status, run: await h.run(run.id), id: run.id };
}

describe('branch steps', () => {
  const route: Step = {
    id: 'route', type: 'branch',
    cases: [{ when: 'input.hot', steps: [transform('call', '"call now"')] }],
    default: [transform('mail', '"send a mail"')],
  };

  it('run the first matching case and skip the others', async () => {
    const { run, id } = await runOnce([route], { hot: true });
    expect(run).toMatchObject({ status: 'completed', output: 'call now' });
    expect(await h.step(id, 'mail')).toMatchObject({ status: 'skipped' });
    expect(await h.step(id, 'route')).toMatchObject({ status: 'succeeded', input: { case: 0 } });
  });

  it('run the default when no case matches', async () => {
    const { run, id } = await runOnce([route], { hot: false });
    expect(run.output).toBe('send a mail');
    expect(await h.step(id, 'call')).toMatchObject({ status: 'skipped' });
  });

  it('fail with expression_error when a condition fails as it runs', async () => {
    const { run, id } = await runOnce([{ ...route, cases: [{ when: '$error("no")', steps: [transform('call', '1')] }] } as Step]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'expression_error', errorStep: 'route' });
    expect(await h.step(id, 'route')).toMatchObject({ status: 'failed', errorCode: 'expression_error' });
  });
});

describe('parallel steps', () => {
  it('join the branches by name', async () => {
    const { run } = await runOnce([{
      id: 'both', type: 'parallel',
      branches: [{ name: 'left', steps: [transform('l', '1')] }, { name: 'right', steps: [transform('r', '2')] }],
    }]);
    expect(run).toMatchObject({ status: 'completed', output: { left: 1, right: 2 } });
  });

  it('fail with the failing branch step, which the run names', async () => {
    const { run, id } = await runOnce([{
      id: 'both', type: 'parallel',
      branches: [{ name: 'left', steps: [transform('l', '1')] }, { name: 'right', steps: [transform('r', '$error("right fails")')] }],
    }]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'expression_error', errorStep: 'r' });
    expect(await h.step(id, 'both')).toMatchObject({ status: 'failed', errorCode: 'expression_error' });
    const failed = (await h.events(id)).find((e) => e.type === 'step.failed' && e.data.key === 'both')!;
    expect((failed.data.error as { step: string }).step).toBe('r');
  });
});

describe('map steps', () => {
  const each = (items: string, steps: Step[] = [transform('t', 'item + index')]): Step => ({ id: 'each', type: 'map', items, steps, concurrency: 2 });

  it('run the steps per item, in item order', async () => {
    const { run, id } = await runOnce([each('[10, 20, 30]')]);
    expect(run).toMatchObject({ status: 'completed', output: [10, 21, 32] });
    expect(await h.step(id, 'each[2].t')).toMatchObject({ status: 'succeeded', output: 32 });
  });

  it('fail with invalid_items when items is not an array', async () => {
    const { run } = await runOnce([each('"three"')]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'invalid_items', errorStep: 'each' });
  });

  it('fail with map_too_large past the item limit', async () => {
    const { run } = await runOnce([each('[1, 2, 3, 4, 5, 6]')]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'map_too_large', errorStep: 'each' });
    expect(run.errorMessage).toContain('more than the 5 allowed');
  });

  it('fail with step_data_too_large when the items are over the data limit', async () => {
    const { run } = await runOnce([each('[1..20000]')]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'step_data_too_large', errorStep: 'each' });
  });

  it('fail with the failing iteration step', async () => {
    const { run, id } = await runOnce([each('[1, 0]', [transform('t', 'item = 0 ? $error("zero") : item')])]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'expression_error', errorStep: 'each[1].t' });
    expect(await h.step(id, 'each')).toMatchObject({ status: 'failed' });
  });
});

describe('delay steps', () => {
  it('sleep through a short delay in place', async () => {
    const { status, run } = await runOnce([{ id: 'pause', type: 'delay', duration: '20ms' }, transform('after', '"done"')]);
    expect(status).toBe('completed');
    expect(run.output).toBe('done');
  });

  it('park the run until a long delay ends, then go on', async () => {
    const { status, run, id } = await runOnce([{ id: 'pause', type: 'delay', duration: '1h' }, transform('after', '"done"')]);
    expect(status).toBe('waiting');
    expect(run.status).toBe('waiting');
    const waiting = (await h.events(id)).find((e) => e.type === 'run.waiting')!;
    expect(waiting.data).toMatchObject({ waiting_for: 'time', approvals: [] });
    expect(await h.advance(id)).toBe('waiting');
    h.later(3_600_000);
    expect(await h.advance(id)).toBe('completed');
    expect(await h.step(id, 'pause')).toMatchObject({ status: 'succeeded' });
    expect((await h.events(id)).map((e) => e.type)).toContain('run.resumed');
  });

  it('fail with invalid_until when until is not a time', async () => {
    const { run } = await runOnce([{ id: 'pause', type: 'delay', until: '"next tuesday"' }]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'invalid_until', errorStep: 'pause' });
  });
});

describe('retries', () => {
  it('park the run through a backoff longer than the engine sleeps, and try again after it', async () => {
    const agent = newId('agent');
    let calls = 0;
    h.agents.set(agent, () => (++calls === 1 ? agentError('model_unavailable', true) : agentAnswer('later')));
    const { run, id } = await runOnce([{ id: 'ask', type: 'agent', agent, input: '"hi"', retry: { max_attempts: 2, backoff_ms: 60_000 } }]);
    expect(run.status).toBe('waiting');
    expect(await h.step(id, 'ask')).toMatchObject({ status: 'pending', attempts: 1, errorCode: 'model_unavailable' });
    h.later(60_000);
    expect(await h.advance(id)).toBe('completed');
    expect((await h.run(id)).output).toBe('later');
  });
});

describe('approval steps', () => {
  const approval = (extra: Partial<Extract<Step, { type: 'approval' }>> = {}): Step => ({ id: 'ok', type: 'approval', prompt: 'Send it?', ...extra });

  it('wait for a person, and output the data they resume with', async () => {
    const { workflow, run } = await started([approval(), transform('after', 'steps.ok.send')]);
    expect(await h.advance(run.id)).toBe('waiting');
    const waiting = (await h.events(run.id)).find((e) => e.type === 'run.waiting')!;
    expect(waiting.data).toMatchObject({ waiting_for: 'approval', approvals: ['ok'], wake_at: null });
    await service.resume(h.scope, workflow.id, run.id, { data: { send: true } });
    expect(await h.advance(run.id)).toBe('completed');
    expect(await h.run(run.id)).toMatchObject({ output: true });
  });

  it('fail with approval_timeout when nobody approves in time', async () => {
    const { run } = await started([approval({ timeout: '1h' })]);
    expect(await h.advance(run.id)).toBe('waiting');
    h.later(3_600_001);
    expect(await h.advance(run.id)).toBe('failed');
    expect(await h.run(run.id)).toMatchObject({ errorCode: 'approval_timeout', errorStep: 'ok' });
  });

  it('run on_timeout when nobody approves in time, with a null output', async () => {
    const { run } = await started([approval({ timeout: '1h', on_timeout: [transform('expired', '"expired"')] })]);
    expect(await h.advance(run.id)).toBe('waiting');
    h.later(3_600_001);
    expect(await h.advance(run.id)).toBe('completed');
    expect(await h.step(run.id, 'ok')).toMatchObject({ status: 'succeeded', output: null });
    expect(await h.step(run.id, 'expired')).toMatchObject({ status: 'succeeded', output: 'expired' });
  });
});

describe("the workflow's output", () => {
  it('is what its expression makes of the steps', async () => {
    const workflow = await h.workflow([transform('a', '21')], { output: '{"answer": steps.a * 2}' });
    const run = await h.start(workflow, {});
    await h.advance(run.id);
    expect(await h.run(run.id)).toMatchObject({ status: 'completed', output: { answer: 42 } });
  });

  it('fails the run, naming no step, when its expression fails as it runs', async () => {
    const workflow = await h.workflow([transform('a', '1')], { output: '$error("no output today")' });
    const run = await h.start(workflow, {});
    await h.advance(run.id);
    const failed = await h.run(run.id);
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'expression_error', errorStep: null });
    expect(failed.errorMessage).toContain("The workflow's output");
    expect(failed.errorMessage).toContain('no output today');
    expect(await h.step(run.id, 'a')).toMatchObject({ status: 'succeeded' });
  });
});
