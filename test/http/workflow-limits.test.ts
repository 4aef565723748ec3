import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';

const transform = (id: string, expression: string) => ({ id, type: 'transform', expression });

/**
 * What one workflow run may cost, through the real server with small limits: map size, step
 * output and run input size, and expressions that could hold the event loop (ranges, regular
 * expressions) run in a worker process under their timeout — each fails with a clear code
 * while the server keeps answering.
 */
describe('workflow data limits', () => {
  let server: TestServer;
  let ws: TestWorkspace;
  const post = (path: string, body: unknown) => call(server.url, 'POST', path, { key: ws.testKey, body });

  /** Creates a workflow of `steps` and runs it to its end (wait mode). */
  async function run(steps: unknown[], input: unknown = {}): Promise<any> {
    const wf = await post('/v1/workflows', { name: 'limits', steps });
    expect(wf.status, JSON.stringify(wf.body)).toBe(201);
    const res = await post(`/v1/workflows/${wf.body.id}/runs`, { input });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  }
  const stepOf = (run: any, key: string) => run.steps.find((s: any) => s.key === key);

  beforeAll(async () => {
    server = await startTestServer('sqlite', { maxMapItems: 100, maxWorkflowDataBytes: 10_000 });
    ws = await server.workspace('enterprise');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('fails a map step over the item limit, naming the setting', async () => {
    const ok = await run([{ id: 'each', type: 'map', items: '[1..100]', steps: [transform('double', 'item * 2')] }]);
    expect(ok.status).toBe('completed');
    const over = await run([{ id: 'each', type: 'map', items: '[1..101]', steps: [transform('double', 'item * 2')] }]);
    expect(over.status).toBe('failed');
    expect(over.error).toMatchObject({ code: 'map_too_large', step: 'each' });
    expect(stepOf(over, 'each')).toMatchObject({ status: 'failed', error: { code: 'map_too_large' } });
    expect(over.error.message).toContain('--max-map-items');
  });

  it('fails a step whose output is over the data limit, and refuses an input over it', async () => {
    const over = await run([transform('big', '$pad("", 20000, "x")'), transform('after', '1')]);
    expect(over.status).toBe('failed');
    expect(over.error).toMatchObject({ code: 'step_output_too_large', step: 'big' });
    expect(over.error.message).toContain('--max-workflow-data-bytes');
    expect(stepOf(over, 'big').output).toBeNull();
    expect(stepOf(over, 'after').status).toBe('skipped');

    const wf = await post('/v1/workflows', { name: 'input', steps: [transform('echo', 'input')] });
    const refused = await post(`/v1/workflows/${wf.body.id}/runs`, { input: { text: 'y'.repeat(20_000) } });
    expect(refused.status).toBe(413);
    expect(refused.body.error).toMatchObject({ code: 'body_too_large', param: 'input' });
  });

  it('ends an expression that holds its worker past the timeout, while the server answers', async () => {
    let slowest = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const t0 = performance.now();
        expect((await call(server.url, 'GET', '/v1/status')).status).toBe(200);
        slowest = Math.max(slowest, performance.now() - t0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    try {
      // Ten million numbers are built in one native step of JSONata, between two looks at its clock:
      // in a worker it finishes, or is ended at its timeout, depending on the machine — the server is not held either way.
      const range = await run([transform('sum', '$sum([1..10000000])')]);
      if (range.status === 'failed') expect(range.error).toMatchObject({ code: 'expression_error', step: 'sum' });
      else expect(stepOf(range, 'sum').output).toBe(50000005000000);
      // Catastrophic backtracking: one regular-expression match that never ends.
      const regex = await run([transform('match', '$contains("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /^(a+)+$/)')]);
      expect(regex.status).toBe('failed');
      expect(regex.error).toMatchObject({ code: 'expression_error', step: 'match' });
      // A small range or regular expression runs as usual.
      const small = await run([transform('ok', '{ "sum": $sum([1..10]), "match": $contains("abc", /b/) }')]);
      expect(small.status).toBe('completed');
      expect(stepOf(small, 'ok').output).toEqual({ sum: 55, match: true });
    } finally {
      polling = false;
      await poll;
    }
    // Generous for a loaded test machine; an expression on the event loop holds it for seconds.
    expect(slowest).toBeLessThan(1_000);
  }, 60_000);
});
