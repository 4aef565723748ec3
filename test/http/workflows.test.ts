import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { waitFor } from '../support/site.js';
import { backends, call, startTestServer, type ApiResponse, type TestServer, type TestWorkspace } from '../support/server.js';
import { readSse } from '../support/sse.js';

/** One request the loopback receiver got. */
interface Received {
  method: string;
  /** Path and query, as sent. */
  url: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  start: number;
  end: number | null;
}

/**
 * A loopback HTTP receiver for http steps. Every request is recorded. The query decides the answer:
 * `delay=<ms>` waits first; `fail=<n>` answers 500 to the first n requests of that path (then 200);
 * `status=<code>` answers that status. Otherwise 200 with JSON `{ method, path, body }`.
 */
async function startReceiver() {
  const log: Received[] = [];
  const seen = new Map<string, number>();
  const inFlight = new Map<string, number>();
  const peak = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    const entry: Received = { method: req.method ?? '', url: req.url ?? '', path: url.pathname, headers: req.headers, body: '', start: Date.now(), end: null };
    log.push(entry);
    const count = (seen.get(url.pathname) ?? 0) + 1;
    seen.set(url.pathname, count);
    const now = (inFlight.get(url.pathname) ?? 0) + 1;
    inFlight.set(url.pathname, now);
    peak.set(url.pathname, Math.max(peak.get(url.pathname) ?? 0, now));
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      entry.end = Date.now();
      inFlight.set(url.pathname, (inFlight.get(url.pathname) ?? 1) - 1);
    };
    req.on('data', (chunk: Buffer) => (entry.body += chunk.toString('utf8')));
    req.on('end', () => {
      const answer = () => {
        done();
        if (res.destroyed) return;
        const fail = Number(url.searchParams.get('fail') ?? 0);
        const status = fail >= count ? 500 : Number(url.searchParams.get('status') ?? 200);
        let parsed: unknown = null;
        try {
          parsed = entry.body === '' ? null : JSON.parse(entry.body);
        } catch {
          parsed = entry.body;
        }
        res.writeHead(status, { 'content-type': 'application/json', 'x-receiver': 'yes' });
        res.end(JSON.stringify(status === 200 ? { method: entry.method, path: url.pathname, body: parsed } : { error: `status ${status}` }));
      };
      const delay = Number(url.searchParams.get('delay') ?? 0);
      if (delay > 0) {
        const timer = setTimeout(answer, delay);
        res.on('close', () => {
          clearTimeout(timer);
          done();
        });
      } else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    hits: (path: string) => log.filter((r) => r.path === path),
    /** Requests of a path answered at once, at most. */
    peak: (path: string) => peak.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;


/** A step of a run by its key. */
function stepOf(run: any, key: string): any {
  const step = run.steps?.find((s: any) => s.key === key);
  if (!step) throw new Error(`run ${run.id} has no step '${key}' (has ${(run.steps ?? []).map((s: any) => s.key).join(', ')})`);
  return step;
}

/** A step's status, undefined while it has no state (safe in polling predicates). */
function statusOf(run: any, key: string): string | undefined {
  return run.steps?.find((s: any) => s.key === key)?.status;
}

const transform = (id: string, expression: string) => ({ id, type: 'transform', expression });

describe.each(backends)('workflows API on %s', (backend) => {
  let server: TestServer;
  let ws: TestWorkspace;
  let recv: Receiver;
  const post = (path: string, body: unknown, options: { key?: string; headers?: Record<string, string> } = {}) =>
    call(server.url, 'POST', path, { key: options.key ?? ws.testKey, body, ...(options.headers ? { headers: options.headers } : {}) });
  const get = (path: string, key = ws.testKey) => call(server.url, 'GET', path, { key });
  const put = (path: string, body: unknown) => call(server.url, 'PUT', path, { key: ws.testKey, body });
  const del = (path: string) => call(server.url, 'DELETE', path, { key: ws.testKey });

  /** Creates a workflow and returns it (fails the test unless 201). */
  async function createWorkflow(body: Record<string, unknown>, key = ws.testKey): Promise<any> {
    const res = await post('/v1/workflows', { name: 'wf', ...body }, { key });
    expect(res.status, res.text).toBe(201);
    return res.body;
  }

  const start = (wf: string, body: Record<string, unknown> = {}, options: { key?: string; headers?: Record<string, string> } = {}) =>
    post(`/v1/workflows/${wf}/runs`, body, options);
  const getRun = (wf: string, run: string, key = ws.testKey) => get(`/v1/workflows/${wf}/runs/${run}`, key);

  /** Polls a run until `done` holds; returns it (the caller asserts). */
  async function runUntil(wf: string, run: string, done: (run: any) => boolean, timeoutMs = 10_000, key = ws.testKey): Promise<any> {
    const res = await waitFor(() => getRun(wf, run, key), (r: ApiResponse) => r.status === 200 && done(r.body), timeoutMs);
    return res.body;
  }
  const finished = (run: any) => ['completed', 'failed', 'cancelled'].includes(run.status);

  beforeAll(async () => {
    recv = await startReceiver();
    server = await startTestServer(backend, { outboundAllowCidrs: '127.0.0.0/8', workflowSchedulerIntervalMs: 200 });
    ws = await server.workspace('pro');
  });
  afterAll(async () => {
    await server?.close();
    await recv?.close();
  });

  // ---- Step types

  it('runs an agent step on the simulator with the evaluated input', async () => {
    const agent = await post('/v1/agents', { name: 'Summarizer', model: 'auto' });
    expect(agent.status).toBe(201);
    const wf = await createWorkflow({ steps: [{ id: 'ask', type: 'agent', agent: agent.body.id, input: "'Tell me about ' & input.topic" }] });
    const res = await start(wf.id, { input: { topic: 'otters' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: 'workflow_run', workflow_id: wf.id, workflow_version: 1, status: 'completed', mode: 'wait', trigger: 'api', error: null });
    const ask = stepOf(res.body, 'ask');
    expect(ask).toMatchObject({ type: 'agent', status: 'succeeded', attempts: 1, input: 'Tell me about otters', output: 'Simulated answer to "Tell me about otters".' });
    expect(res.body.output).toBe('Simulated answer to "Tell me about otters".');
    // The agent's own run is recorded, tagged with the workflow run.
    const agentRuns = await get(`/v1/agents/${agent.body.id}/runs`);
    expect(agentRuns.body.data).toHaveLength(1);
    expect(agentRuns.body.data[0].metadata).toMatchObject({ workflow_run_id: res.body.id, workflow_step: 'ask' });
  });

  it('runs http steps with templated url and headers, a JSON body and a stable Idempotency-Key', async () => {
    const wf = await createWorkflow({
      steps: [
        {
          id: 'push', type: 'http', method: 'post', url: `${recv.url}/leads/{{ input.id }}?source={{ input.source }}`,
          headers: { 'X-Lead': 'lead-{{ input.id }}', Authorization: 'Bearer {{ input.token }}' },
          body: "{ 'id': input.id, 'next': input.n + 1, 'tags': input.tags }",
        },
        { id: 'check', type: 'http', method: 'GET', url: `${recv.url}/leads/{{ steps.push.body.body.id }}/status`, body: "{ 'ignored': true }" },
      ],
    });
    expect(wf.steps[0].headers).toEqual({ 'X-Lead': '[redacted]', Authorization: '[redacted]' });
    const res = await start(wf.id, { input: { id: 42, source: 'web', n: 1, tags: ['a', 'b'], token: 's3cret' } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('completed');
    const runId = res.body.id;

    const pushed = recv.hits('/leads/42');
    expect(pushed).toHaveLength(1);
    expect(pushed[0]!.method).toBe('POST');
    expect(pushed[0]!.url).toBe('/leads/42?source=web');
    expect(pushed[0]!.headers).toMatchObject({
      'x-lead': 'lead-42', authorization: 'Bearer s3cret', 'content-type': 'application/json',
      'idempotency-key': `${runId}:push`, 'kairo-workflow-run-id': runId,
    });
    expect(JSON.parse(pushed[0]!.body)).toEqual({ id: 42, next: 2, tags: ['a', 'b'] });

    const checked = recv.hits('/leads/42/status');
    expect(checked).toHaveLength(1);
    expect(checked[0]!.method).toBe('GET');
    expect(checked[0]!.body).toBe('');
    expect(checked[0]!.headers['idempotency-key']).toBe(`${runId}:check`);

    const push = stepOf(res.body, 'push');
    expect(push).toMatchObject({ type: 'http', status: 'succeeded', attempts: 1 });
    expect(push.output.status).toBe(200);
    expect(push.output.headers['x-receiver']).toBe('yes');
    expect(push.output.body).toEqual({ method: 'POST', path: '/leads/42', body: { id: 42, next: 2, tags: ['a', 'b'] } });
    // Credentials are not stored with the step's input.
    expect(push.input).toMatchObject({ method: 'POST', url: `${recv.url}/leads/42?source=web`, body: { id: 42, next: 2, tags: ['a', 'b'] } });
    expect(push.input.headers.authorization).toBe('[redacted]');
    expect(push.input.headers['x-lead']).toBe('lead-42');
    expect(JSON.stringify(res.body.steps)).not.toContain('s3cret');
    expect(stepOf(res.body, 'check').output.body).toEqual({ method: 'GET', path: '/leads/42/status', body: null });
  });

  it('runs transform steps and the output expression', async () => {
    const wf = await createWorkflow({
      steps: [
        transform('totals', "{ 'sum': $sum(input.nums), 'name': $uppercase(input.name) }"),
        transform('label', "steps.totals.name & ':' & $string(steps.totals.sum)"),
      ],
      output: "{ 'label': steps.label, 'double': steps.totals.sum * 2, 'trigger': run.trigger }",
    });
    const res = await start(wf.id, { input: { nums: [1, 2, 3.5], name: 'ada' } });
    expect(res.status).toBe(200);
    expect(stepOf(res.body, 'totals')).toMatchObject({ type: 'transform', status: 'succeeded', attempts: 1, output: { sum: 6.5, name: 'ADA' } });
    expect(stepOf(res.body, 'label').output).toBe('ADA:6.5');
    expect(res.body.output).toEqual({ label: 'ADA:6.5', double: 13, trigger: 'api' });
    // Test-mode workflows and runs are not visible to the live key, nor a run under another workflow.
    expect((await get(`/v1/workflows/${wf.id}`, ws.liveKey)).status).toBe(404);
    expect((await getRun(wf.id, res.body.id, ws.liveKey)).status).toBe(404);
    const other = await createWorkflow({ steps: [transform('x', '1')] });
    const misplaced = await getRun(other.id, res.body.id);
    expect(misplaced.status).toBe(404);
    expect(misplaced.body.error.param).toBe('run_id');
  });

  it('takes the first matching branch case, or the default, and skips the others', async () => {
    const wf = await createWorkflow({
      steps: [
        {
          id: 'route', type: 'branch',
          cases: [
            { when: 'input.score >= 50', steps: [transform('hot', "'hot:' & $string(input.score)")] },
            { when: 'input.score >= 20', steps: [transform('warm', "'warm'")] },
          ],
          default: [transform('cold', "'cold'"), transform('cold_note', "steps.cold & '!'")],
        },
        transform('after', "'after ' & steps.route"),
      ],
    });
    const hot = await start(wf.id, { input: { score: 80 } });
    expect(hot.body.status).toBe('completed');
    expect(stepOf(hot.body, 'route')).toMatchObject({ status: 'succeeded', input: { case: 0 }, output: 'hot:80' });
    expect(stepOf(hot.body, 'hot')).toMatchObject({ status: 'succeeded', output: 'hot:80' });
    for (const key of ['warm', 'cold', 'cold_note']) expect(stepOf(hot.body, key).status).toBe('skipped');
    expect(hot.body.output).toBe('after hot:80');

    const cold = await start(wf.id, { input: { score: 3 } });
    expect(cold.body.status).toBe('completed');
    expect(stepOf(cold.body, 'route')).toMatchObject({ status: 'succeeded', input: { case: 'default' }, output: 'cold!' });
    expect(stepOf(cold.body, 'cold').status).toBe('succeeded');
    expect(stepOf(cold.body, 'cold_note')).toMatchObject({ status: 'succeeded', output: 'cold!' });
    for (const key of ['hot', 'warm']) expect(stepOf(cold.body, key).status).toBe('skipped');
    expect(cold.body.output).toBe('after cold!');
  });

  it('runs parallel branches at once and keys the output by branch name', async () => {
    const wf = await createWorkflow({
      steps: [
        {
          id: 'fan', type: 'parallel',
          branches: [
            { name: 'left', steps: [{ id: 'l_call', type: 'http', method: 'POST', url: `${recv.url}/par/{{ run.id }}?delay=300`, body: "{ 'side': 'left' }" }, transform('l_done', "steps.l_call.body.body.side")] },
            { name: 'right', steps: [{ id: 'r_call', type: 'http', method: 'POST', url: `${recv.url}/par/{{ run.id }}?delay=300`, body: "{ 'side': 'right' }" }] },
            { name: 'pure', steps: [transform('p', '7 * 6')] },
          ],
        },
      ],
    });
    const res = await start(wf.id, {});
    expect(res.body.status).toBe('completed');
    const path = `/par/${res.body.id}`;
    expect(recv.hits(path)).toHaveLength(2);
    expect(recv.peak(path)).toBe(2);
    const fan = stepOf(res.body, 'fan');
    expect(fan.status).toBe('succeeded');
    expect(Object.keys(fan.output).sort()).toEqual(['left', 'pure', 'right']);
    expect(fan.output.left).toBe('left');
    expect(fan.output.right).toMatchObject({ status: 200, body: { body: { side: 'right' } } });
    expect(fan.output.pure).toBe(42);
    expect(res.body.output).toEqual(fan.output);
  });

  it('maps over items with bounded concurrency, keeping the output in item order', async () => {
    const wf = await createWorkflow({
      steps: [
        {
          id: 'each', type: 'map', items: 'input.items', concurrency: 2,
          steps: [
            // Later items answer sooner, so completion order differs from item order.
            { id: 'fetch', type: 'http', method: 'POST', url: `${recv.url}/map/{{ run.id }}?delay={{ 60 + (5 - index) * 40 }}`, body: "{ 'item': item, 'index': index }" },
            transform('shape', "{ 'item': steps.fetch.body.body.item, 'index': index, 'key': $lookup(steps.fetch.body.body, 'index') }"),
          ],
        },
      ],
    });
    const items = ['a', 'b', 'c', 'd', 'e', 'f'];
    const res = await start(wf.id, { input: { items } });
    expect(res.body.status).toBe('completed');
    const path = `/map/${res.body.id}`;
    expect(recv.hits(path)).toHaveLength(6);
    expect(recv.peak(path)).toBe(2);
    const each = stepOf(res.body, 'each');
    expect(each).toMatchObject({ status: 'succeeded', input: { count: 6 } });
    expect(each.output).toEqual(items.map((item, index) => ({ item, index, key: index })));
    for (let i = 0; i < 6; i++) {
      expect(stepOf(res.body, `each[${i}].fetch`)).toMatchObject({ status: 'succeeded', attempts: 1 });
      // Each iteration's step has its own idempotency key.
      expect(recv.hits(path).filter((r) => r.headers['idempotency-key'] === `${res.body.id}:each[${i}].fetch`)).toHaveLength(1);
    }
  });

  it('waits in delay steps, for a duration or until a time', async () => {
    const wf = await createWorkflow({ steps: [transform('before', '1'), { id: 'pause', type: 'delay', duration: '200ms' }, transform('after', '2')] });
    const res = await start(wf.id, {});
    expect(res.body.status).toBe('completed');
    const pause = stepOf(res.body, 'pause');
    expect(pause.status).toBe('succeeded');
    expect(pause.duration_ms).toBeGreaterThanOrEqual(200);
    expect(Date.parse(stepOf(res.body, 'after').completed_at)).toBeGreaterThanOrEqual(Date.parse(pause.output.waited_until));

    const until = new Date(Date.now() + 400).toISOString();
    const wf2 = await createWorkflow({ steps: [{ id: 'hold', type: 'delay', until: 'input.at' }, transform('then', "'done'")] });
    const res2 = await start(wf2.id, { input: { at: until } });
    expect(res2.body.status).toBe('completed');
    const hold = stepOf(res2.body, 'hold');
    expect(hold).toMatchObject({ status: 'succeeded', output: { waited_until: until } });
    expect(Date.parse(hold.completed_at)).toBeGreaterThanOrEqual(Date.parse(until));
    expect(res2.body.output).toBe('done');
  });

  it('waits in an approval step and continues with the data it is resumed with', async () => {
    const wf = await createWorkflow({
      steps: [transform('draft', "'draft for ' & input.who"), { id: 'review', type: 'approval', prompt: 'Send it?' }, transform('send', "steps.review.approved ? 'sent' : 'held'")],
    });
    const res = await start(wf.id, { input: { who: 'ada' } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('waiting');
    expect(stepOf(res.body, 'draft').status).toBe('succeeded');
    expect(stepOf(res.body, 'review')).toMatchObject({ status: 'waiting', input: { prompt: 'Send it?' }, wake_at: null });
    expect(res.body.steps.some((s: any) => s.key === 'send')).toBe(false);

    const resumed = await post(`/v1/workflows/${wf.id}/runs/${res.body.id}/resume`, { data: { approved: true, by: 'grace' } });
    expect(resumed.status).toBe(202);
    const done = await runUntil(wf.id, res.body.id, finished);
    expect(done.status).toBe('completed');
    expect(stepOf(done, 'review')).toMatchObject({ status: 'succeeded', output: { approved: true, by: 'grace' } });
    expect(stepOf(done, 'send').output).toBe('sent');
    expect(done.output).toBe('sent');

    // A replay of the whole log reads past the wait that is over, to the end of the run.
    const replay = await readSse(`${server.url}/v1/workflows/${wf.id}/runs/${res.body.id}`, {
      headers: { authorization: `Bearer ${ws.testKey}`, accept: 'text/event-stream' },
      signal: AbortSignal.timeout(5_000),
    });
    const types = replay.events.map((e) => e.event);
    expect(types.slice(0, 2)).toEqual(['run.created', 'run.started']);
    expect(types).toContain('run.waiting');
    expect(types).toContain('run.resumed');
    expect(types.indexOf('run.waiting')).toBeLessThan(types.indexOf('run.resumed'));
    expect(types.at(-1)).toBe('run.completed');
    expect(replay.events.find((e) => e.event === 'run.waiting')!.data).toMatchObject({ waiting_for: 'approval', approvals: ['review'] });

    const again = await post(`/v1/workflows/${wf.id}/runs/${res.body.id}/resume`, { data: { approved: false } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('run_not_waiting');
  });

  it('runs the on_timeout steps of an approval that times out', async () => {
    const wf = await createWorkflow({
      steps: [
        { id: 'review', type: 'approval', timeout: '600ms', on_timeout: [transform('escalate', "'escalated ' & input.who")] },
        transform('after', "steps.review = null ? 'no answer' : 'answered'"),
      ],
    });
    const res = await start(wf.id, { input: { who: 'ada' } });
    expect(res.body.status).toBe('waiting');
    expect(stepOf(res.body, 'review').wake_at).not.toBeNull();
    const done = await runUntil(wf.id, res.body.id, finished);
    expect(done.status).toBe('completed');
    expect(stepOf(done, 'review')).toMatchObject({ status: 'succeeded', output: null });
    expect(stepOf(done, 'escalate')).toMatchObject({ status: 'succeeded', output: 'escalated ada' });
    expect(stepOf(done, 'after').output).toBe('no answer');
    // Too late to approve now.
    const late = await post(`/v1/workflows/${wf.id}/runs/${res.body.id}/resume`, { data: 1 });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('run_not_waiting');
  });

  it('fails the run when an approval without on_timeout times out', async () => {
    const wf = await createWorkflow({ steps: [{ id: 'review', type: 'approval', timeout: '600ms' }, transform('after', '1')] });
    const res = await start(wf.id, {});
    expect(res.body.status).toBe('waiting');
    const done = await runUntil(wf.id, res.body.id, finished);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'approval_timeout', step: 'review' });
    expect(stepOf(done, 'review')).toMatchObject({ status: 'failed', error: { code: 'approval_timeout' } });
    expect(stepOf(done, 'after').status).toBe('skipped');
  });

  it('needs `step` to resume one of two waiting approvals', async () => {
    const wf = await createWorkflow({
      steps: [{
        id: 'both', type: 'parallel',
        branches: [{ name: 'legal', steps: [{ id: 'legal_ok', type: 'approval' }] }, { name: 'finance', steps: [{ id: 'finance_ok', type: 'approval' }] }],
      }],
    });
    const res = await start(wf.id, {});
    expect(res.body.status).toBe('waiting');
    expect(stepOf(res.body, 'legal_ok').status).toBe('waiting');
    expect(stepOf(res.body, 'finance_ok').status).toBe('waiting');

    const ambiguous = await post(`/v1/workflows/${wf.id}/runs/${res.body.id}/resume`, { data: 'x' });
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body.error).toMatchObject({ code: 'parameter_invalid', param: 'step' });
    const unknown = await post(`/v1/workflows/${wf.id}/runs/${res.body.id}/resume`, { step: 'nope', data: 'x' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.param).toBe('step');

    expect((await post(`/v1/workflows/${wf.id}/runs/${res.body.id}/resume`, { step: 'legal_ok', data: { legal: 'yes' } })).status).toBe(202);
    const half = await runUntil(wf.id, res.body.id, (r) => statusOf(r, 'legal_ok') === 'succeeded' && r.status === 'waiting');
    expect(stepOf(half, 'finance_ok').status).toBe('waiting');
    // Only one waits now: `step` may be left out.
    expect((await post(`/v1/workflows/${wf.id}/runs/${res.body.id}/resume`, { data: { finance: 'yes' } })).status).toBe(202);
    const done = await runUntil(wf.id, res.body.id, finished);
    expect(done.status).toBe('completed');
    expect(done.output).toEqual({ legal: { legal: 'yes' }, finance: { finance: 'yes' } });
  });

  it('resumes approvals inside a map by their key', async () => {
    const wf = await createWorkflow({
      steps: [{ id: 'each', type: 'map', items: 'input.docs', concurrency: 1, steps: [{ id: 'review', type: 'approval' }, transform('verdict', "item & ':' & steps.review")] }],
    });
    const res = await start(wf.id, { input: { docs: ['a', 'b'] } });
    expect(res.body.status).toBe('waiting');
    expect(stepOf(res.body, 'each[0].review').status).toBe('waiting');
    expect(stepOf(res.body, 'each[1].review').status).toBe('waiting');
    // The step id matches both iterations: only the key names one.
    const byId = await post(`/v1/workflows/${wf.id}/runs/${res.body.id}/resume`, { step: 'review', data: 'x' });
    expect(byId.status).toBe(400);
    expect(byId.body.error.param).toBe('step');
    expect((await post(`/v1/workflows/${wf.id}/runs/${res.body.id}/resume`, { step: 'each[1].review', data: 'no' })).status).toBe(202);
    const half = await runUntil(wf.id, res.body.id, (r) => r.status === 'waiting' && statusOf(r, 'each[1].verdict') === 'succeeded');
    expect(stepOf(half, 'each[1].verdict').output).toBe('b:no');
    expect(stepOf(half, 'each[0].review').status).toBe('waiting');
    expect((await post(`/v1/workflows/${wf.id}/runs/${res.body.id}/resume`, { step: 'each[0].review', data: 'yes' })).status).toBe(202);
    const done = await runUntil(wf.id, res.body.id, finished);
    expect(done).toMatchObject({ status: 'completed', output: ['a:yes', 'b:no'] });
  });

  it('calls another workflow: the child run is linked and its output is the step output', async () => {
    const child = await createWorkflow({ name: 'child', steps: [{ id: 'pause', type: 'delay', duration: '300ms' }, transform('double', 'input.x * 2')], output: "{ 'doubled': steps.double, 'trigger': run.trigger }" });
    const parent = await createWorkflow({
      name: 'parent',
      steps: [{ id: 'sub', type: 'workflow', workflow: child.id, input: "{ 'x': input.n + 1 }" }, transform('after', 'steps.sub.doubled + 1')],
      output: "{ 'sub': steps.sub, 'after': steps.after }",
    });
    const res = await start(parent.id, { input: { n: 20 }, background: true });
    expect(res.status).toBe(202);
    const done = await runUntil(parent.id, res.body.id, finished);
    expect(done.status).toBe('completed');
    expect(done.output).toEqual({ sub: { doubled: 42, trigger: 'workflow' }, after: 43 });
    const sub = stepOf(done, 'sub');
    expect(sub).toMatchObject({ type: 'workflow', status: 'succeeded', input: { x: 21 }, output: { doubled: 42, trigger: 'workflow' } });
    expect(sub.child_run_id).toMatch(/^wfrun_/);

    const childRun = (await getRun(child.id, sub.child_run_id)).body;
    expect(childRun).toMatchObject({ status: 'completed', trigger: 'workflow', parent_run_id: res.body.id, input: { x: 21 }, output: { doubled: 42, trigger: 'workflow' } });
    const childRuns = await get(`/v1/workflows/${child.id}/runs?trigger=workflow`);
    expect(childRuns.body.data.map((r: any) => r.id)).toEqual([sub.child_run_id]);

    // In wait mode the caller gets the finished run too, not the moment it waits for its child.
    const waited = await start(parent.id, { input: { n: 1 } });
    expect(waited.status).toBe(200);
    expect(waited.body.status).toBe('completed');
    expect(waited.body.output).toEqual({ sub: { doubled: 4, trigger: 'workflow' }, after: 5 });
  });

  // ---- Retries

  it('retries an http step on 5xx under its retry policy, with one idempotency key', async () => {
    const wf = await createWorkflow({
      steps: [{ id: 'flaky', type: 'http', method: 'POST', url: `${recv.url}/flaky/{{ run.id }}?fail=2`, body: "{ 'n': 1 }", retry: { max_attempts: 3, backoff_ms: 50 } }],
    });
    const res = await start(wf.id, {});
    expect(res.body.status).toBe('completed');
    expect(stepOf(res.body, 'flaky')).toMatchObject({ status: 'succeeded', attempts: 3, error: null, output: { status: 200 } });
    const hits = recv.hits(`/flaky/${res.body.id}`);
    expect(hits).toHaveLength(3);
    expect(new Set(hits.map((h) => h.headers['idempotency-key']))).toEqual(new Set([`${res.body.id}:flaky`]));
    // Backoff: 50 ms, then 100 ms.
    expect(hits[1]!.start - hits[0]!.start).toBeGreaterThanOrEqual(45);
    expect(hits[2]!.start - hits[1]!.start).toBeGreaterThanOrEqual(95);
  });

  it('fails at once on a 4xx, naming the step', async () => {
    const wf = await createWorkflow({
      steps: [
        transform('prep', '1'),
        { id: 'refused', type: 'http', method: 'POST', url: `${recv.url}/refuse/{{ run.id }}?status=400`, body: '{}', retry: { max_attempts: 3, backoff_ms: 50 } },
        transform('after', '2'),
      ],
    });
    const res = await start(wf.id, {});
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('failed');
    expect(res.body.error).toMatchObject({ code: 'http_status', step: 'refused' });
    expect(res.body.error.message).toContain('refused');
    expect(stepOf(res.body, 'refused')).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'http_status' } });
    expect(stepOf(res.body, 'after').status).toBe('skipped');
    expect(recv.hits(`/refuse/${res.body.id}`)).toHaveLength(1);
  });

  it('fails the branch, parallel and map steps enclosing a failed step, and skips what did not run', async () => {
    const refused = (id: string) => ({ id, type: 'http', method: 'POST', url: `${recv.url}/enclosed/{{ run.id }}?status=400`, body: '{}' });
    const wf = await createWorkflow({
      steps: [
        {
          id: 'route', type: 'branch',
          cases: [{ when: 'true', steps: [transform('before', '1'), { id: 'inner', type: 'branch', cases: [{ when: 'true', steps: [refused('notify')] }] }, transform('after', '2')] }],
          default: [transform('later', "'nurture'")],
        },
        transform('last', '3'),
      ],
    });
    const res = await start(wf.id, {});
    expect(res.body.status).toBe('failed');
    expect(res.body.error).toMatchObject({ code: 'http_status', step: 'notify' });
    expect(stepOf(res.body, 'notify')).toMatchObject({ status: 'failed', error: { code: 'http_status' } });
    for (const key of ['inner', 'route']) {
      const step = stepOf(res.body, key);
      expect(step).toMatchObject({ status: 'failed', input: { case: 0 }, error: { code: 'http_status' } });
      expect(step.error.message).toContain("'notify'");
    }
    expect(stepOf(res.body, 'before').status).toBe('succeeded');
    for (const key of ['after', 'later', 'last']) expect(stepOf(res.body, key).status).toBe('skipped');

    const fan = await createWorkflow({
      steps: [
        { id: 'fan', type: 'parallel', branches: [{ name: 'ok', steps: [transform('fine', '1')] }, { name: 'bad', steps: [refused('boom')] }] },
        { id: 'each', type: 'map', items: '[1, 2]', steps: [transform('x', 'item')] },
      ],
    });
    const fanned = await start(fan.id, {});
    expect(fanned.body.error).toMatchObject({ code: 'http_status', step: 'boom' });
    expect(stepOf(fanned.body, 'fan')).toMatchObject({ status: 'failed', error: { code: 'http_status' } });
    expect(stepOf(fanned.body, 'fine').status).toBe('succeeded');
    expect(stepOf(fanned.body, 'each').status).toBe('skipped');

    const mapped = await createWorkflow({ steps: [{ id: 'each', type: 'map', items: '[1, 2]', concurrency: 1, steps: [refused('send')] }] });
    const ran = await start(mapped.id, {});
    expect(ran.body.error).toMatchObject({ code: 'http_status', step: 'each[0].send' });
    expect(stepOf(ran.body, 'each')).toMatchObject({ status: 'failed', input: { count: 2 }, error: { code: 'http_status' } });
  });

  it('fails the run when retries are exhausted', async () => {
    const wf = await createWorkflow({
      retry: { max_attempts: 2, backoff_ms: 20 },
      steps: [{ id: 'down', type: 'http', method: 'GET', url: `${recv.url}/down/{{ run.id }}?fail=10` }],
    });
    const res = await start(wf.id, {});
    expect(res.body.status).toBe('failed');
    expect(res.body.error).toMatchObject({ code: 'http_status', step: 'down' });
    expect(stepOf(res.body, 'down')).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'http_status' } });
    expect(recv.hits(`/down/${res.body.id}`)).toHaveLength(2);
  });

  // ---- Modes and idempotency

  it('runs in the background: 202 at once, then poll', async () => {
    const wf = await createWorkflow({ steps: [{ id: 'pause', type: 'delay', duration: '300ms' }, transform('t', "'bg ' & input.v")] });
    const res = await start(wf.id, { input: { v: 'ok' }, background: true });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'queued', mode: 'background', steps: [] });
    const done = await runUntil(wf.id, res.body.id, finished);
    expect(done).toMatchObject({ status: 'completed', output: 'bg ok', mode: 'background' });
    expect(done.started_at).not.toBeNull();
    expect(done.completed_at).not.toBeNull();
    const both = await post(`/v1/workflows/${wf.id}/runs`, { stream: true, background: true });
    expect(both.status).toBe(400);
    expect(both.body.error.param).toBe('stream');
  });

  it('streams run events and replays those after Last-Event-ID', async () => {
    const wf = await createWorkflow({ steps: [transform('one', '1'), transform('two', 'steps.one + 1')] });
    const stream = await readSse(`${server.url}/v1/workflows/${wf.id}/runs`, {
      method: 'POST', headers: { authorization: `Bearer ${ws.testKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ input: {}, stream: true }),
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const types = stream.events.map((e) => e.event);
    expect(types).toEqual(['run.created', 'run.started', 'step.completed', 'step.completed', 'run.completed']);
    expect(stream.events.filter((e) => e.event === 'step.completed').map((e) => [e.data.key, e.data.output])).toEqual([['one', 1], ['two', 2]]);
    const ids = stream.events.map((e) => e.id);
    expect(ids).toEqual([1, 2, 3, 4, 5]);
    expect(stream.events.at(-1)!.data).toMatchObject({ status: 'completed', output: 2 });
    const runId = stream.events[0]!.data.run_id;
    expect((await getRun(wf.id, runId)).body.status).toBe('completed');

    const replay = await readSse(`${server.url}/v1/workflows/${wf.id}/runs/${runId}`, {
      headers: { authorization: `Bearer ${ws.testKey}`, accept: 'text/event-stream', 'last-event-id': '3' },
    });
    expect(replay.status).toBe(200);
    expect(replay.events.map((e) => e.id)).toEqual([4, 5]);
    expect(replay.events.map((e) => e.event)).toEqual(['step.completed', 'run.completed']);

    // Reconnecting after the last event of a finished run ends at once, with nothing to send.
    const caughtUp = await readSse(`${server.url}/v1/workflows/${wf.id}/runs/${runId}`, {
      headers: { authorization: `Bearer ${ws.testKey}`, accept: 'text/event-stream', 'last-event-id': '5' },
      signal: AbortSignal.timeout(5_000),
    });
    expect(caughtUp.status).toBe(200);
    expect(caughtUp.events).toEqual([]);
  });

  it('ends a stream resumed at the last event of a run that waits for an approval', async () => {
    const wf = await createWorkflow({ steps: [{ id: 'gate', type: 'approval', prompt: 'ok?' }] });
    const run = await start(wf.id, {});
    expect(run.body.status).toBe('waiting');
    const all = await readSse(`${server.url}/v1/workflows/${wf.id}/runs/${run.body.id}`, {
      headers: { authorization: `Bearer ${ws.testKey}`, accept: 'text/event-stream' }, signal: AbortSignal.timeout(5_000),
    });
    expect(all.events.at(-1)!.event).toBe('run.waiting');
    expect(all.events.at(-1)!.data).toMatchObject({ waiting_for: 'approval', approvals: ['gate'] });
    const caughtUp = await readSse(`${server.url}/v1/workflows/${wf.id}/runs/${run.body.id}`, {
      headers: { authorization: `Bearer ${ws.testKey}`, accept: 'text/event-stream', 'last-event-id': String(all.events.at(-1)!.id) },
      signal: AbortSignal.timeout(5_000),
    });
    expect(caughtUp.status).toBe(200);
    expect(caughtUp.events).toEqual([]);
  });

  it('starts one run for two requests with the same Idempotency-Key', async () => {
    const wf = await createWorkflow({ steps: [{ id: 'call', type: 'http', method: 'POST', url: `${recv.url}/idem/{{ run.id }}`, body: '{}' }] });
    const key = `start-${Date.now()}`;
    const first = await start(wf.id, { input: { a: 1 } }, { headers: { 'idempotency-key': key } });
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const second = await start(wf.id, { input: { a: 1 } }, { headers: { 'idempotency-key': key } });
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.id).toBe(first.body.id);
    const runs = await get(`/v1/workflows/${wf.id}/runs`);
    expect(runs.body.data).toHaveLength(1);
    expect(recv.hits(`/idem/${first.body.id}`)).toHaveLength(1);
    const other = await start(wf.id, { input: { a: 2 } }, { headers: { 'idempotency-key': key } });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect((await get(`/v1/workflows/${wf.id}/runs`)).body.data).toHaveLength(1);
  });

  // ---- Versions, delete, cancel

  it('versions each replacement; a run keeps the version it started with', async () => {
    const wf = await createWorkflow({ steps: [{ id: 'gate', type: 'approval' }, transform('old_step', "'old ' & steps.gate")] });
    const run = await start(wf.id, {});
    expect(run.body).toMatchObject({ status: 'waiting', workflow_version: 1 });

    const replaced = await put(`/v1/workflows/${wf.id}`, { name: 'wf v2', steps: [{ id: 'gate', type: 'approval' }, transform('new_step', "'new ' & steps.gate")] });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id: wf.id, version: 2, name: 'wf v2' });
    expect(replaced.body.steps.map((s: any) => s.id)).toEqual(['gate', 'new_step']);
    const versions = await get(`/v1/workflows/${wf.id}/versions`);
    expect(versions.status).toBe(200);
    expect(versions.body.data.map((v: any) => v.version)).toEqual([2, 1]);
    expect(versions.body.data[1].definition.steps.map((s: any) => s.id)).toEqual(['gate', 'old_step']);
    expect((await get(`/v1/workflows/${wf.id}`)).body.version).toBe(2);

    expect((await post(`/v1/workflows/${wf.id}/runs/${run.body.id}/resume`, { data: 'yes' })).status).toBe(202);
    const done = await runUntil(wf.id, run.body.id, finished);
    expect(done).toMatchObject({ status: 'completed', workflow_version: 1, output: 'old yes' });
    expect(done.steps.map((s: any) => s.key)).toEqual(['gate', 'old_step']);

    const fresh = await start(wf.id, {});
    expect(fresh.body.workflow_version).toBe(2);
    await post(`/v1/workflows/${wf.id}/runs/${fresh.body.id}/resume`, { data: 'yes' });
    expect((await runUntil(wf.id, fresh.body.id, finished)).output).toBe('new yes');
  });

  it('refuses to delete a workflow with a waiting run until it is cancelled', async () => {
    const wf = await createWorkflow({ steps: [{ id: 'gate', type: 'approval' }] });
    const run = await start(wf.id, {});
    expect(run.body.status).toBe('waiting');
    const refused = await del(`/v1/workflows/${wf.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('workflow_has_active_runs');
    expect((await get(`/v1/workflows/${wf.id}`)).status).toBe(200);

    const cancelled = await post(`/v1/workflows/${wf.id}/runs/${run.body.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    const deleted = await del(`/v1/workflows/${wf.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ object: 'workflow', id: wf.id, deleted: true });
    const gone = await get(`/v1/workflows/${wf.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('resource_missing');
  });

  it('cancels a run waiting in a long delay, and refuses to cancel a finished run', async () => {
    const wf = await createWorkflow({ steps: [transform('first', '1'), { id: 'sleep', type: 'delay', duration: '1h' }, transform('later', '2'), { id: 'more', type: 'parallel', branches: [{ name: 'x', steps: [transform('inner', '3')] }] }] });
    const run = await start(wf.id, {});
    expect(run.body.status).toBe('waiting');
    expect(stepOf(run.body, 'sleep')).toMatchObject({ status: 'waiting' });
    expect(Date.parse(stepOf(run.body, 'sleep').wake_at)).toBeGreaterThan(Date.now() + 3_500_000);

    const cancelled = await post(`/v1/workflows/${wf.id}/runs/${run.body.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancel_requested: true, error: { code: 'cancelled' } });
    expect(stepOf(cancelled.body, 'first').status).toBe('succeeded');
    for (const key of ['sleep', 'later', 'more', 'inner']) expect(stepOf(cancelled.body, key).status).toBe('skipped');
    // It stays cancelled.
    await sleep(300);
    expect((await getRun(wf.id, run.body.id)).body.status).toBe('cancelled');

    const again = await post(`/v1/workflows/${wf.id}/runs/${run.body.id}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('run_not_cancellable');
    const quickWf = await createWorkflow({ steps: [transform('t', '1')] });
    const quick = await start(quickWf.id, {});
    expect(quick.body.status).toBe('completed');
    const late = await post(`/v1/workflows/${quick.body.workflow_id}/runs/${quick.body.id}/cancel`, {});
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('run_not_cancellable');
  });

  it('cancels a running run within moments, stopping its http call', async () => {
    const wf = await createWorkflow({
      steps: [{ id: 'slow', type: 'http', method: 'POST', url: `${recv.url}/slow/{{ run.id }}?delay=20000`, body: '{}', timeout_ms: 30_000 }, transform('after', '1')],
    });
    const run = await start(wf.id, { background: true });
    expect(run.status).toBe(202);
    const path = `/slow/${run.body.id}`;
    await waitFor(async () => recv.hits(path).length, (n) => n === 1, 10_000);
    expect(recv.hits(path)).toHaveLength(1);
    const running = await getRun(wf.id, run.body.id);
    expect(running.body.status).toBe('running');
    expect(stepOf(running.body, 'slow').status).toBe('running');

    const asked = Date.now();
    const cancel = await post(`/v1/workflows/${wf.id}/runs/${run.body.id}/cancel`, {});
    expect(cancel.status).toBe(200);
    const done = await runUntil(wf.id, run.body.id, finished, 5_000);
    expect(done.status).toBe('cancelled');
    expect(Date.now() - asked).toBeLessThan(5_000);
    expect(stepOf(done, 'slow').status).toBe('skipped');
    expect(stepOf(done, 'after').status).toBe('skipped');
    // The receiver saw the call end (aborted), long before its 20 s answer.
    await waitFor(async () => recv.hits(path)[0]!.end, (end) => end !== null, 3_000);
    expect(recv.hits(path)[0]!.end).not.toBeNull();
    expect(recv.hits(path)).toHaveLength(1);
  });

  it.runIf(backend !== 'sqlite')('cancels a run that another process is running, within moments', async () => {
    // An API-only process (no worker) takes the cancel; this server's worker runs the step.
    const api = await startTestServer(backend, { outboundAllowCidrs: '127.0.0.0/8', role: 'api' }, { schema: server.schema! });
    try {
      const wf = await createWorkflow({
        steps: [{ id: 'slow', type: 'http', method: 'POST', url: `${recv.url}/remote/{{ run.id }}?delay=20000`, body: '{}', timeout_ms: 30_000 }, transform('after', '1')],
      });
      const run = await start(wf.id, { background: true });
      const path = `/remote/${run.body.id}`;
      await waitFor(async () => recv.hits(path).length, (n) => n === 1, 10_000);
      expect(recv.hits(path)).toHaveLength(1);
      const asked = Date.now();
      const cancel = await call(api.url, 'POST', `/v1/workflows/${wf.id}/runs/${run.body.id}/cancel`, { key: ws.testKey, body: {} });
      expect(cancel.status).toBe(200);
      expect(cancel.body.cancel_requested).toBe(true);
      const done = await runUntil(wf.id, run.body.id, finished, 15_000);
      expect(done.status).toBe('cancelled');
      expect(Date.now() - asked).toBeLessThan(5_000);
      expect(stepOf(done, 'after').status).toBe('skipped');
      await waitFor(async () => recv.hits(path)[0]!.end, (end) => end !== null, 3_000);
      expect(recv.hits(path)[0]!.end).not.toBeNull();
    } finally {
      await api.close();
    }
  });

  // ---- Validation

  it('refuses invalid definitions, naming the field', async () => {
    const refused = async (body: Record<string, unknown>, param: string, code = 'parameter_invalid') => {
      const res = await post('/v1/workflows', { name: 'bad', ...body });
      expect(res.status, res.text).toBe(400);
      expect(res.body.error).toMatchObject({ code, param });
      return res.body.error;
    };
    const dup = await refused(
      { steps: [transform('a', '1'), { id: 'p', type: 'parallel', branches: [{ name: 'x', steps: [transform('b', '1')] }, { name: 'y', steps: [transform('a', '2')] }] }] },
      'steps[1].branches[1].steps[0].id',
    );
    expect(dup.message).toContain("'a'");
    await refused({ steps: [{ id: 'a', type: 'teleport' }] }, 'steps[0].type');
    const forward = await refused({ steps: [transform('a', 'steps.b + 1'), transform('b', '1')] }, 'steps[0].expression');
    expect(forward.message).toContain('steps.b');
    // An unknown agent or workflow is a reference to nothing: 400 resource_missing naming the field.
    const agent = await refused({ steps: [{ id: 'ask', type: 'agent', agent: newId('agent'), input: "'hi'" }] }, 'steps[0].agent', 'resource_missing');
    expect(agent.type).toBe('invalid_request_error');
    expect(agent.message).toContain('no agent');
    await refused({ steps: [transform('a', '1'), { id: 'b', type: 'branch', cases: [{ when: 'input.x >', steps: [transform('c', '1')] }] }] }, 'steps[1].cases[0].when');
    await refused({ steps: [transform('a', "{ 'x': }")] }, 'steps[0].expression');
    await refused({ steps: [transform('a', '1')], schedule: { cron: '61 * * * *' } }, 'schedule.cron');
    await refused({ steps: [transform('a', '1')], schedule: { cron: 'every day' } }, 'schedule.cron');
    await refused({ steps: [{ id: 'c', type: 'workflow', workflow: newId('wf') }] }, 'steps[0].workflow', 'resource_missing');
    // Nothing was created.
    const list = await get('/v1/workflows?limit=100');
    expect(list.body.data.some((w: any) => w.name === 'bad')).toBe(false);

    // Replacing is validated the same way, and a failed replace leaves the workflow as it was.
    const wf = await createWorkflow({ steps: [transform('a', '1')] });
    const badPut = await put(`/v1/workflows/${wf.id}`, { name: 'bad', steps: [transform('a', '1'), transform('a', '2')] });
    expect(badPut.status).toBe(400);
    expect(badPut.body.error.param).toBe('steps[1].id');
    expect((await get(`/v1/workflows/${wf.id}`)).body.version).toBe(1);
  });

  it('refuses a run whose input fails the input_schema', async () => {
    const wf = await createWorkflow({
      input_schema: { type: 'object', properties: { email: { type: 'string' } }, required: ['email'] },
      steps: [transform('echo', 'input.email')],
    });
    const missing = await start(wf.id, { input: { name: 'x' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'parameter_invalid', param: 'input' });
    const wrongType = await start(wf.id, { input: { email: 5 } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error.param).toBe('input');
    expect((await get(`/v1/workflows/${wf.id}/runs`)).body.data).toHaveLength(0);
    const ok = await start(wf.id, { input: { email: 'a@b.c' } });
    expect(ok.body).toMatchObject({ status: 'completed', output: 'a@b.c' });
  });

  // ---- Schedules

  it('fires a schedule once per due time, and stops when the schedule is removed', async () => {
    const wf = await createWorkflow({
      schedule: { cron: '* * * * * *', input: { from: 'cron' } },
      steps: [transform('echo', "'scheduled ' & input.from & ' ' & run.trigger")],
    });
    expect(wf.schedule).toMatchObject({ cron: '* * * * * *', timezone: 'UTC', input: { from: 'cron' } });
    expect(wf.next_run_at).not.toBeNull();
    const runs = await waitFor(
      () => get(`/v1/workflows/${wf.id}/runs?trigger=schedule&limit=100`),
      (r) => r.body.data.filter((run: any) => run.status === 'completed').length >= 3,
      8_000,
      100,
    );
    const data = runs.body.data as any[];
    expect(data.filter((r) => r.status === 'completed').length).toBeGreaterThanOrEqual(3);
    for (const run of data) {
      expect(run).toMatchObject({ trigger: 'schedule', mode: 'background', input: { from: 'cron' } });
      expect(run.scheduled_for).not.toBeNull();
      expect(Date.parse(run.scheduled_for) % 1000).toBe(0);
    }
    expect(new Set(data.map((r) => r.scheduled_for)).size).toBe(data.length);
    const completed = data.find((r) => r.status === 'completed');
    expect((await getRun(wf.id, completed.id)).body.output).toBe('scheduled cron schedule');
    expect((await get(`/v1/workflows/${wf.id}/runs?trigger=api`)).body.data).toHaveLength(0);

    const replaced = await put(`/v1/workflows/${wf.id}`, { name: 'unscheduled', steps: [transform('echo', '1')] });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ schedule: null, next_run_at: null });
    const cutoff = Date.now() + 1_000;
    await sleep(2_500);
    const after = (await get(`/v1/workflows/${wf.id}/runs?trigger=schedule&limit=100`)).body.data as any[];
    expect(after.filter((r) => Date.parse(r.scheduled_for) > cutoff)).toEqual([]);
    expect(new Set(after.map((r) => r.scheduled_for)).size).toBe(after.length);
  });

  it.runIf(backend !== 'sqlite')('fires each due time once when two servers share the database', async () => {
    const second = await startTestServer(backend, { outboundAllowCidrs: '127.0.0.0/8', workflowSchedulerIntervalMs: 100 }, { schema: server.schema! });
    try {
      const wf = await createWorkflow({ schedule: { cron: '* * * * * *', input: {} }, steps: [transform('t', 'run.trigger')] });
      // Both servers see it (the second reads the same database).
      expect((await call(second.url, 'GET', `/v1/workflows/${wf.id}`, { key: ws.testKey })).status).toBe(200);
      const runs = await waitFor(
        () => get(`/v1/workflows/${wf.id}/runs?trigger=schedule&limit=100`),
        (r) => r.body.data.length >= 4,
        10_000,
        100,
      );
      const stop = await put(`/v1/workflows/${wf.id}`, { name: 'stopped', steps: [transform('t', '1')] });
      expect(stop.status).toBe(200);
      const data = (await get(`/v1/workflows/${wf.id}/runs?trigger=schedule&limit=100`)).body.data as any[];
      expect(runs.body.data.length).toBeGreaterThanOrEqual(4);
      const times = data.map((r) => r.scheduled_for);
      expect(new Set(times).size).toBe(times.length);
      await waitFor(() => get(`/v1/workflows/${wf.id}/runs?trigger=schedule&limit=100`), (r) => r.body.data.every((run: any) => finished(run)), 8_000, 100);
      const final = (await get(`/v1/workflows/${wf.id}/runs?trigger=schedule&limit=100`)).body.data as any[];
      expect(final.every((r) => r.status === 'completed')).toBe(true);
    } finally {
      await second.close();
    }
  });

  // ---- Plan caps

  it("holds a free workspace's runs to its 5 concurrent-run cap, and finishes them all", async () => {
    const free = await server.workspace('free');
    // Wait-mode agent runs hold 3 of the 5 slots without a queue worker, so the cap, not the
    // job queue's own concurrency, is what limits the workflow runs while they last.
    const agent = await call(server.url, 'POST', '/v1/agents', { key: free.testKey, body: { name: 'Holder', model: 'auto' } });
    const holding = Array.from({ length: 3 }, () => call(server.url, 'POST', `/v1/agents/${agent.body.id}/runs`, { key: free.testKey, body: { input: 'slow 2500' } }));
    await waitFor(() => call(server.url, 'GET', `/v1/agents/${agent.body.id}/runs?limit=10`, { key: free.testKey }), (r) => r.body.data?.length === 3, 5_000, 100);
    const holdStart = Date.now();

    const wf = await createWorkflow({ steps: [{ id: 'work', type: 'http', method: 'POST', url: `${recv.url}/cap/${free.id}?delay=300`, body: "{ 'n': input.n }" }] }, free.testKey);
    const started = await Promise.all(Array.from({ length: 8 }, (_, n) => start(wf.id, { input: { n }, background: true }, { key: free.testKey })));
    expect(started.map((r) => r.status)).toEqual(Array(8).fill(202));
    const held = await Promise.all(holding);
    const holdEnd = Date.now();
    expect(held.map((r) => r.status)).toEqual([200, 200, 200]);

    const done = await waitFor(
      () => call(server.url, 'GET', `/v1/workflows/${wf.id}/runs?limit=20`, { key: free.testKey }),
      (r) => r.body.data.filter((run: any) => run.status === 'completed').length === 8,
      20_000,
      250,
    );
    expect(done.body.data.map((r: any) => r.status)).toEqual(Array(8).fill('completed'));
    const hits = recv.hits(`/cap/${free.id}`);
    expect(hits).toHaveLength(8);
    expect(new Set(hits.map((h) => JSON.parse(h.body).n))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7]));
    expect(recv.peak(`/cap/${free.id}`)).toBeLessThanOrEqual(5);
    // While the 3 agent runs held their slots, at most 2 workflow runs were in flight.
    const inFlightAt = (t: number) => hits.filter((h) => h.start <= t && (h.end ?? Infinity) > t).length;
    const during = hits.filter((h) => h.start >= holdStart && h.start < holdEnd - 50).map((h) => inFlightAt(h.start));
    expect(during.length).toBeGreaterThan(0);
    expect(Math.max(...during)).toBeLessThanOrEqual(2);
  });
});
