/**
 * The workflow engine's leaf steps (transform, http, agent) on a real SQLite store: outputs, the
 * retry policy, and every failure code they end with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type { Step } from '../../src/workflows/definition.js';
import { agentAnswer, agentError, openHarness, type Harness } from './workflow-engine-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await openHarness({ maxWorkflowDataBytes: 2_000 });
});

afterAll(async () => {
  await h.close();
});

/** Runs a one-advance workflow and returns the run as stored. */
async function runOnce(steps: Step[], input: unknown = {}) {
  const run = await h.start(await h.workflow(steps), input);
  const status = await h.advance(run.id);
  return { status, run: await h.run(run.id), id: run.id };
}

const transform = (id: string, expression: string): Step => ({ id, type: 'transform', expression });

describe('transform steps', () => {
  it('complete the run with the last output, reading the input and earlier steps', async () => {
    const { status, run, id } = await runOnce([transform('a', 'input.n * 2'), transform('b', 'steps.a + 1')], { n: 20 });
    expect(status).toBe('completed');
    expect(run).toMatchObject({ status: 'completed', output: 41, errorCode: null });
    expect(await h.step(id, 'a')).toMatchObject({ status: 'succeeded', output: 40, attempts: 1 });
    expect((await h.events(id)).map((e) => e.type)).toEqual(['run.created', 'run.started', 'step.completed', 'step.completed', 'run.completed']);
    expect(h.finished.some((r) => r.id === id && r.status === 'completed')).toBe(true);
  });

  it('fail with expression_error when the expression fails as it runs, without a retry', async () => {
    const { run, id } = await runOnce([transform('a', '$error("boom")'), transform('b', '1')]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'expression_error', errorStep: 'a' });
    expect(run.errorMessage).toContain("Step 'a' failed: Step 'a': expression:");
    expect(await h.step(id, 'a')).toMatchObject({ status: 'failed', attempts: 1, errorCode: 'expression_error' });
    expect(await h.step(id, 'b')).toMatchObject({ status: 'skipped' });
  });

  it('fail with step_output_too_large when the output is over the data limit', async () => {
    const { run } = await runOnce([transform('big', '[input.text, input.text]')], { text: 'x'.repeat(1_500) });
    expect(run).toMatchObject({ status: 'failed', errorCode: 'step_output_too_large', errorStep: 'big' });
    expect(run.errorMessage).toContain('more than the 2000 allowed');
  });

  it('fail with step_output_too_large when a worker-evaluated expression returns too much', async () => {
    const { run } = await runOnce([transform('range', '[1..2000]')]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'step_output_too_large', errorStep: 'range' });
  });
});

describe('http steps', () => {
  const http = (id: string, path: string, extra: Partial<Extract<Step, { type: 'http' }>> = {}): Step => ({
    id, type: 'http', method: 'POST', url: `${h.url}${path}`, body: '{"n": input.n}', retry: { max_attempts: 2, backoff_ms: 0 }, ...extra,
  });

  it('send the request with a stable idempotency key and output status, headers and parsed body', async () => {
    const { run, id } = await runOnce([http('call', '/leads/{{ input.n }}', { headers: { Authorization: 'Bearer {{ input.token }}' } })], { n: 7, token: 's3cret' });
    expect(run.status).toBe('completed');
    expect(run.output).toMatchObject({ status: 200, body: { path: '/leads/7', method: 'POST' } });
    const sent = h.requests.find((r) => r.path === '/leads/7')!;
    expect(sent.headers['idempotency-key']).toBe(`${id}:call`);
    expect(sent.headers.authorization).toBe('Bearer s3cret');
    expect(JSON.parse(sent.body)).toEqual({ n: 7 });
    const step = await h.step(id, 'call');
    expect(step.input).toMatchObject({ method: 'POST', url: `${h.url}/leads/7`, body: { n: 7 } });
    expect((step.input as { headers: Record<string, string> }).headers.authorization).toBe('[redacted]');
  });

  it('fail with http_status at once on a 4xx the receiver refuses', async () => {
    const { run, id } = await runOnce([http('refused', '/status/404')]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'http_status', errorStep: 'refused' });
    expect(await h.step(id, 'refused')).toMatchObject({ attempts: 1, errorCode: 'http_status' });
  });

  it('retry a 5xx under the retry policy, then fail with http_status', async () => {
    const { run, id } = await runOnce([http('flaky', '/status/503')]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'http_status' });
    expect(await h.step(id, 'flaky')).toMatchObject({ attempts: 2 });
    expect((await h.events(id)).map((e) => e.type)).toContain('step.retrying');
    expect(h.requests.filter((r) => r.path === '/status/503')).toHaveLength(2);
  });

  it('fail with http_timeout when the receiver does not answer in timeout_ms', async () => {
    const { run } = await runOnce([http('slow', '/slow', { timeout_ms: 100, retry: { max_attempts: 1 } })]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'http_timeout', errorStep: 'slow' });
  });

  it('fail with http_network_error when nothing listens', async () => {
    const { run } = await runOnce([{ id: 'nobody', type: 'http', method: 'GET', url: 'http://127.0.0.1:1/', retry: { max_attempts: 1 } }]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'http_network_error', errorStep: 'nobody' });
  });

  it('fail with http_address_blocked for an address outside the allowed ones, without a retry', async () => {
    const { run, id } = await runOnce([{ id: 'inside', type: 'http', method: 'GET', url: 'http://10.1.2.3/' }]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'http_address_blocked' });
    expect(await h.step(id, 'inside')).toMatchObject({ attempts: 1 });
  });

  it('fail with expression_error when a template fails as it renders', async () => {
    const { run } = await runOnce([http('bad_url', '/x/{{ $error("no id") }}')]);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'expression_error', errorStep: 'bad_url' });
    expect(run.errorMessage).toContain("Step 'bad_url': url:");
  });
});

describe('agent steps', () => {
  const agentStep = (id: string, agent: string, retry = { max_attempts: 3, backoff_ms: 0 }): Step => ({ id, type: 'agent', agent, input: 'input.question', retry });

  it("output the agent's answer and count its tokens and cost for the run", async () => {
    const agent = newId('agent');
    h.agents.set(agent, () => agentAnswer('forty-two'));
    const { run, id } = await runOnce([agentStep('ask', agent)], { question: 'why?' });
    expect(run).toMatchObject({ status: 'completed', output: 'forty-two', costUsd: 0.5 });
    expect(run.usage.total_tokens).toBe(5);
    expect(h.agentCalls.filter((c) => c.agentId === agent)).toEqual([{ agentId: agent, input: 'why?', attempt: '1' }]);
    expect((await h.step(id, 'ask')).state.agent_run_ids).toHaveLength(1);
  });

  it('retry a retryable agent failure, linking every attempt', async () => {
    const agent = newId('agent');
    let calls = 0;
    h.agents.set(agent, () => (++calls === 1 ? agentError('model_unavailable', true) : agentAnswer('second time')));
    const { run, id } = await runOnce([agentStep('ask', agent)], { question: 'again?' });
    expect(run).toMatchObject({ status: 'completed', output: 'second time' });
    expect(await h.step(id, 'ask')).toMatchObject({ attempts: 2 });
    expect((await h.step(id, 'ask')).state.agent_run_ids).toHaveLength(2);
  });

  it("fail with the agent run's code when it cannot be retried", async () => {
    const agent = newId('agent');
    h.agents.set(agent, () => agentError('max_steps_exceeded', false));
    const { run, id } = await runOnce([agentStep('ask', agent)], { question: 'loop?' });
    expect(run).toMatchObject({ status: 'failed', errorCode: 'max_steps_exceeded', errorStep: 'ask' });
    expect(run.errorMessage).toMatch(/\(agent run run_/);
    expect(await h.step(id, 'ask')).toMatchObject({ attempts: 1 });
  });

  it('fail with agent_missing when the agent no longer exists', async () => {
    const { run } = await runOnce([agentStep('ask', newId('agent'))], { question: 'anyone?' });
    expect(run).toMatchObject({ status: 'failed', errorCode: 'agent_missing' });
  });

  it('fail with step_error after the retries when the call throws', async () => {
    const agent = newId('agent');
    h.agents.set(agent, () => {
      throw new Error('connection reset');
    });
    const { run, id } = await runOnce([agentStep('ask', agent, { max_attempts: 2, backoff_ms: 0 })], { question: 'hello?' });
    expect(run).toMatchObject({ status: 'failed', errorCode: 'step_error' });
    expect(run.errorMessage).toBe("Step 'ask' failed: connection reset");
    expect(await h.step(id, 'ask')).toMatchObject({ attempts: 2 });
  });
});
