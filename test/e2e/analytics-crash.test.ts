import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/server.js';
import { tempDir } from '../support/services.js';
import { freePort, killAllCli, spawnCli, type CliProcess } from '../support/cli.js';

const RUNS = 30;
const TERMINAL = ['completed', 'failed', 'cancelled'];

/** Polls until `done`, or returns the last value at the deadline (the caller's expect fails then). */
async function poll<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

const sum = (items: any[], pick: (item: any) => number): number => items.reduce((total, item) => total + pick(item), 0);

/**
 * Rollups are written in the transaction that records what they count, so a kill -9 while runs
 * are finishing loses no count and doubles none: after the restart (which runs the interrupted
 * background runs again), the analytics totals equal the runs and their spans exactly.
 */
describe('analytics survive kill -9 while runs finish', { timeout: 120_000 }, () => {
  let dir: string;
  let port: number;
  let base: string;
  let server: CliProcess | undefined;

  const start = async (): Promise<CliProcess> => {
    // A short job lease: the interrupted background runs are taken up again two seconds after the kill.
    const proc = spawnCli(['serve', '--data', dir, '--port', String(port), '--log-level', 'warn', '--job-lease', '2000']);
    await proc.waitFor(/listening on (\S+)/);
    return proc;
  };

  beforeAll(async () => {
    dir = tempDir('kairo-analytics-crash-');
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await killAllCli();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('counts every finished run, token, cost and model call exactly once after a restart', async () => {
    server = await start();
    const key = (await server.waitFor(/^ {2}test key: (sk_test_\S+)$/m))[1]!;
    const get = (path: string) => call(base, 'GET', path, { key });
    const agent = await call(base, 'POST', '/v1/agents', { key, body: { name: 'Counted', model: 'auto' } });
    expect(agent.status).toBe(201);
    const listRuns = async () => {
      const runs: any[] = [];
      for (let after: string | undefined; ;) {
        const page = await get(`/v1/agents/${agent.body.id}/runs?limit=100${after ? `&after=${after}` : ''}`);
        runs.push(...page.body.data);
        if (!page.body.has_more) return runs;
        after = page.body.last_id;
      }
    };
    // Background runs, a few at a time (the free plan runs 5 at once), some failing.
    for (let i = 0; i < RUNS; i++) {
      const input = i % 7 === 3 ? 'fail 400' : `slow 40\nTell me about item ${i}`;
      expect((await call(base, 'POST', `/v1/agents/${agent.body.id}/runs`, { key, body: { input, background: true } })).status).toBe(202);
    }
    // Kill while runs are finishing: some done, some in flight.
    // Polled gently: the free plan's bucket (burst 200, 100 a minute) must last the whole test, however slow the machine.
    const before = await poll(listRuns, (runs) => runs.filter((r) => TERMINAL.includes(r.status)).length >= 8, 20_000, 50);
    await server.kill9();
    expect(before.filter((r) => TERMINAL.includes(r.status)).length).toBeLessThan(RUNS);

    server = await start();
    const runs = await poll(listRuns, (all) => all.length === RUNS && all.every((r) => TERMINAL.includes(r.status)), 60_000, 500);
    expect(runs.filter((r) => !TERMINAL.includes(r.status))).toEqual([]);

    const usage = (await get('/v1/analytics/usage?bucket_width=1h')).body.totals[0];
    expect(usage).toMatchObject({
      runs: RUNS,
      run_errors: runs.filter((r) => r.status === 'failed').length,
      input_tokens: sum(runs, (r) => r.usage.input_tokens),
      output_tokens: sum(runs, (r) => r.usage.output_tokens),
    });
    const costs = (await get('/v1/analytics/costs')).body;
    expect(costs.total_cost_usd).toBeCloseTo(sum(runs, (r) => r.cost_usd), 12);
    // Every model call span (those of an interrupted attempt included) is counted once.
    const spans = (await Promise.all(runs.map((r) => get(`/v1/analytics/traces/${r.id}`)))).flatMap((t) => t.body.spans.filter((s: any) => s.type === 'model_call'));
    const modelsReport = await get('/v1/analytics/models');
    expect(modelsReport.status, JSON.stringify(modelsReport.body)).toBe(200);
    const models = modelsReport.body.totals;
    expect(sum(models, (m) => m.calls)).toBe(spans.length);
    expect(sum(models, (m) => m.errors)).toBe(spans.filter((s) => s.status === 'error').length);
    expect(sum(models, (m) => m.output_tokens)).toBe(sum(spans, (s) => s.attributes.output_tokens ?? 0));
    expect((await get('/v1/analytics/latency?bucket_width=1h&metrics=total')).body.totals[0].total_ms.count).toBe(RUNS);
  });
});
