/**
 * Analytics storage on every backend: rollup rows merge in the database (counts summed, sketch
 * bins merged), hour and day rows derived from minutes answer every query exactly as the minutes
 * did, deriving again changes nothing, and retention deletes only what has expired.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idAtTime, idMadeAt, newId } from '../../src/ids.js';
import { emptyUsage, type RequestRecord, type Run, type RollupRow, type Scope, type Span, type Store } from '../../src/store/port.js';
import { loadConfig } from '../../src/config.js';
import { createModelCatalogue } from '../../src/models/catalogue.js';
import { agentRunRow, DAY_MS, HOUR_MS, MINUTE_MS, minuteRow, modelCallRow, workflowRunRow } from '../../src/analytics/rollup-writer.js';
import { combineRows } from '../../src/analytics/groupings.js';
import { COMPACTED_UNTIL_KEY, RollupCompactor } from '../../src/analytics/compaction.js';
import { RollupQueries } from '../../src/analytics/queries.js';
import { AnalyticsReports, LATENCY_METRICS, type LatencyMetric } from '../../src/analytics/reports.js';
import { bucketQuery, type BucketParams } from '../../src/analytics/buckets.js';
import { purgeExpired } from '../../src/analytics/maintenance.js';
import { addValue } from '../../src/analytics/sketch.js';
import { storeBackends, type StoreHandle } from '../support/services.js';

const catalogue = createModelCatalogue(loadConfig({}, {}));
/** Mid-afternoon UTC, so that the last three days hold whole and partial days and hours. */
const NOW = Date.UTC(2026, 5, 10, 14, 37, 12);

/** A deterministic pseudo-random sequence (mulberry32), so every backend gets the same data. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(next: () => number, items: readonly T[]): T => items[Math.floor(next() * items.length)]!;

/** Minute rows of `n` agent runs (with their model calls), workflow runs and requests over the three days before NOW. */
function syntheticRows(scope: Scope, n: number): RollupRow[] {
  const next = random(42);
  const rows: RollupRow[] = [];
  const agents = ['agent_01m8y0pykne15b1msptqw0q28g', 'agent_01m8y0pykne15b1msptqw0q28h', 'agent_01m8y0pykne15b1msptqw0q28j'];
  const keys = ['key_01m8y0pykne15b1msptqw0q28g', 'key_01m8y0pykne15b1msptqw0q28h'];
  const models = ['openai/gpt-4o-mini', 'anthropic/claude-sonnet-4', 'google/gemini-2.5-flash'];
  for (let i = 0; i < n; i++) {
    const completedAt = NOW - Math.floor(next() * 3 * DAY_MS);
    const model = pick(next, models);
    const status = next() < 0.9 ? 'completed' : pick(next, ['failed', 'cancelled'] as const);
    const inWorkflow = next() < 0.3;
    const total = Math.round(5 + next() ** 2 * 5000);
    const run = {
      id: newId('run'), scope, agentId: pick(next, agents), agentVersion: 1 + Math.floor(next() * 2), apiKeyId: pick(next, keys),
      workflowId: inWorkflow ? 'wf_01m8y0pykne15b1msptqw0q28g' : null, workflowVersion: inWorkflow ? 3 : null, model, status,
      usage: { ...emptyUsage(), input_tokens: 10 + Math.floor(next() * 500), output_tokens: Math.floor(next() * 300), cached_input_tokens: Math.floor(next() * 10) },
      costUsd: next() / 1000, completedAt, updatedAt: completedAt,
      latency: { queue_ms: Math.floor(next() * 20), retrieval_ms: next() < 0.5 ? Math.floor(next() * 40) : 0, model_ms: Math.floor(total * 0.8), time_to_first_token_ms: Math.floor(total * 0.2), tools_ms: 0, total_ms: total },
    } as unknown as Run;
    rows.push(agentRunRow(run, catalogue));
    rows.push(modelCallRow({
      run, model, provider: catalogue.get(model)!.provider, ok: status !== 'failed', startedAt: completedAt - total, endedAt: completedAt,
      timeToFirstTokenMs: run.latency.time_to_first_token_ms!, inputTokens: run.usage.input_tokens, cachedInputTokens: run.usage.cached_input_tokens,
      outputTokens: run.usage.output_tokens, reasoningTokens: 0, costUsd: run.costUsd, autoChosen: next() < 0.5, fellBack: next() < 0.1,
    }));
    if (inWorkflow && next() < 0.5) {
      rows.push(workflowRunRow({
        scope, workflowId: 'wf_01m8y0pykne15b1msptqw0q28g', workflowVersion: 3, apiKeyId: run.apiKeyId, status, completedAt, updatedAt: completedAt,
        latency: { queue_ms: 3, total_ms: total + 10 },
      } as never, 1 + Math.floor(next() * 5)));
    }
    const sketches = {};
    addValue(sketches, 'latency', next() * 30);
    rows.push(minuteRow(scope, 'request', completedAt, { apiKeyId: run.apiKeyId, route: 'POST /v1/agents/{id}/runs', status: next() < 0.95 ? '200' : '429' }, { count: 1, sketches }));
  }
  return rows;
}

/** Every report, for a spread of widths, groupings and filters. */
async function everyReport(reports: AnalyticsReports, scope: Scope): Promise<unknown[]> {
  const start = new Date(NOW - 3 * DAY_MS).toISOString();
  const end = new Date(NOW).toISOString();
  const cases: BucketParams[] = [
    { bucket_width: '1d', start, end },
    { bucket_width: '1d', start, end, group_by: 'model' },
    { bucket_width: '1d', start, end, group_by: 'agent_version' },
    { bucket_width: '1d', start, end, group_by: 'agent', model: 'openai/gpt-4o-mini' },
    { bucket_width: '1d', start, end, group_by: 'status,api_key' },
    { bucket_width: '1d', start, end, workflow_id: 'wf_01m8y0pykne15b1msptqw0q28g', group_by: 'workflow_version' },
    { bucket_width: '1h', start, end, group_by: 'provider' },
    { bucket_width: '1h', start, end, agent_id: 'agent_01m8y0pykne15b1msptqw0q28h', agent_version: 2 },
    { bucket_width: '1m', start: new Date(NOW - 3 * HOUR_MS).toISOString(), end, group_by: 'model' },
  ];
  const metrics = Object.keys(LATENCY_METRICS) as LatencyMetric[];
  const out: unknown[] = [];
  for (const params of cases) {
    const query = bucketQuery(scope, params, NOW);
    out.push(await reports.usage(query), await reports.costs(query), await reports.latency(query, metrics, [50, 90, 99]), await reports.models(query, [50, 95]));
  }
  return out;
}

/** Costs summed in a different order differ in their last bits: compare them rounded. */
const rounded = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (_key, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(12)) : v)));

describe.each(storeBackends)('analytics storage on $name', (backend) => {
  let handle: StoreHandle;
  let store: Store;
  const scope = (): Scope => ({ workspaceId: newId('ws'), livemode: false });

  beforeAll(async () => {
    handle = await backend.open();
    store = handle.store;
  });
  afterAll(async () => {
    await handle?.dispose();
  });

  it('adds rows to their buckets: measures summed, sketch bins merged, series kept apart', async () => {
    const s = scope();
    const at = NOW - HOUR_MS;
    const row = (status: string, latency: number) => {
      const sketches = {};
      addValue(sketches, 'latency', latency);
      addValue(sketches, 'ttft', latency / 2);
      return minuteRow(s, 'model_call', at, { model: 'openai/gpt-4o', provider: 'openai', status }, { count: 1, inputTokens: 10, costUsd: 0.25, sketches });
    };
    await store.rollups.add([row('ok', 100), row('error', 5)]);
    await store.transaction((tx) => tx.rollups.add([row('ok', 100)]));
    await store.rollups.add([row('ok', 2000)]);
    const rows = await store.rollups.measureRows({ scope: s, subjects: ['model_call'], width: 'minute', grouping: '*', from: at - MINUTE_MS, to: at + MINUTE_MS, filters: {} }, ['status']);
    const ok = rows.find((r) => r.dims.status === 'ok')!;
    expect(rows).toHaveLength(2);
    expect(ok.sums).toMatchObject({ count: 3, inputTokens: 30, costUsd: 0.75 });
    const expected = {};
    for (const v of [100, 100, 2000]) {
      addValue(expected, 'latency', v);
      addValue(expected, 'ttft', v / 2);
    }
    expect(JSON.parse(ok.sketches)).toEqual(expected);
    const sums = await store.rollups.sums({ scope: s, subjects: ['model_call'], width: 'minute', grouping: '*', from: 0, to: NOW, filters: {} }, ['model']);
    expect(sums).toEqual([{ subject: 'model_call', bucketStart: Math.floor(at / MINUTE_MS) * MINUTE_MS, dims: { model: 'openai/gpt-4o' }, sums: expect.objectContaining({ count: 4, inputTokens: 40, costUsd: 1 }) }]);
  });

  it('answers every report from derived hour and day rows exactly as from minute rows, and deriving again changes nothing', async () => {
    const fresh = await backend.open();
    try {
      const s = scope();
      const rows = syntheticRows(s, 600);
      // Rows arrive as runs finish: some in separate calls, so buckets are added to, not only created.
      const combined = combineRows(rows);
      for (let i = 0; i < combined.length; i += 150) await fresh.store.rollups.add(combined.slice(i, i + 150));
      const compactor = new RollupCompactor(fresh.store, () => NOW);
      const reports = new AnalyticsReports(new RollupQueries(fresh.store, compactor));
      const fromMinutes = rounded(await everyReport(reports, s));

      let hours = 0;
      for (let done = -1; done !== 0; hours += done) done = await compactor.compact(24);
      expect(hours).toBeGreaterThanOrEqual(3 * 24);
      expect(await compactor.compactedUntil()).toBe(Math.floor((NOW - 5 * MINUTE_MS) / HOUR_MS) * HOUR_MS);
      const dayRows = await fresh.store.rollups.rowsBetween('day', NOW - 3 * DAY_MS, NOW, 'model');
      expect(dayRows.length).toBeGreaterThan(0);
      expect(rounded(await everyReport(reports, s))).toEqual(fromMinutes);

      // Derived again from the start: the same rows, the same answers.
      const hourRows = (await fresh.store.rollups.rowsBetween('hour', 0, NOW, '*')).length;
      await fresh.store.meta.set(COMPACTED_UNTIL_KEY, String((await fresh.store.rollups.firstMinute())! - ((await fresh.store.rollups.firstMinute())! % HOUR_MS)));
      for (let done = -1; done !== 0; ) done = await compactor.compact(100);
      expect((await fresh.store.rollups.rowsBetween('hour', 0, NOW, '*')).length).toBe(hourRows);
      expect(rounded(await everyReport(reports, s))).toEqual(fromMinutes);
    } finally {
      await fresh.dispose();
    }
  });

  it('keeps the request log in segments: by id, newest first, filtered, both ways, with overlapping writers', async () => {
    const s = scope();
    const other = scope();
    const next = random(7);
    const made: RequestRecord[] = [];
    // Two processes writing segments whose id ranges overlap, and another scope's requests between.
    for (let second = 0; second < 12; second++) {
      for (const writer of [0, 1]) {
        const batch: RequestRecord[] = [];
        for (let i = 0; i < 1 + Math.floor(next() * 40); i++) {
          const at = NOW - DAY_MS + second * 1000 + Math.floor(next() * 1500);
          batch.push({
            id: idMadeAt('req', at), scope: s, createdAt: at, apiKeyId: writer === 0 ? 'key_a' : 'key_b', method: next() < 0.5 ? 'GET' : 'POST',
            route: next() < 0.5 ? '/v1/agents' : '/v1/api_keys', path: '/v1/x', status: pick(next, [200, 200, 201, 404, 429]), latencyMs: next() * 10,
            errorCode: null, idempotencyKey: next() < 0.1 ? 'idem' : null, runId: null,
          });
        }
        made.push(...batch);
        await store.requestLog.insert(batch);
      }
      await store.requestLog.insert([{ ...made.at(-1)!, id: idMadeAt('req', NOW - DAY_MS + second * 1000), scope: other }]);
    }
    const newestFirst = [...made].sort((a, b) => (a.id < b.id ? 1 : -1));
    const walk = async (filter: Parameters<Store['requestLog']['list']>[1], limit: number) => {
      const seen: RequestRecord[] = [];
      for (let after: string | undefined; ;) {
        const page = await store.requestLog.list(s, filter, { limit, ...(after ? { after } : {}) });
        seen.push(...page.data);
        if (!page.hasMore) return seen;
        after = page.data.at(-1)!.id;
      }
    };
    expect((await walk({}, 7)).map((r) => r.id)).toEqual(newestFirst.map((r) => r.id));
    const only = (f: (r: RequestRecord) => boolean) => newestFirst.filter(f).map((r) => r.id);
    expect((await walk({ status: 404 }, 5)).map((r) => r.id)).toEqual(only((r) => r.status === 404));
    expect((await walk({ route: '/v1/api_keys', method: 'POST' }, 9)).map((r) => r.id)).toEqual(only((r) => r.route === '/v1/api_keys' && r.method === 'POST'));
    expect((await walk({ apiKeyId: 'key_b' }, 50)).map((r) => r.id)).toEqual(only((r) => r.apiKeyId === 'key_b'));
    const from = NOW - DAY_MS + 3000;
    const to = NOW - DAY_MS + 6000;
    expect((await walk({ from, to }, 10)).map((r) => r.id)).toEqual(only((r) => r.id >= idAtTime('req', from) && r.id < idAtTime('req', to)));
    // Walking back to newer requests from a cursor gives the same page as walking forward to it.
    const middle = newestFirst[40]!.id;
    const back = await store.requestLog.list(s, {}, { limit: 10, before: middle });
    expect(back.data.map((r) => r.id)).toEqual(newestFirst.slice(30, 40).map((r) => r.id));
    expect(back.hasMore).toBe(true);
    expect((await store.requestLog.list(s, {}, { limit: 100, before: newestFirst[2]!.id })).data.map((r) => r.id)).toEqual(newestFirst.slice(0, 2).map((r) => r.id));
    // By id, whole; not from the other scope.
    const one = made[17]!;
    expect(await store.requestLog.get(s, one.id)).toEqual(one);
    expect(await store.requestLog.get(other, one.id)).toBeUndefined();
    expect(await store.requestLog.get(s, newId('req'))).toBeUndefined();
    expect((await store.requestLog.list(other, {}, { limit: 100 })).data).toHaveLength(12);
  });

  it('purges what outlived its retention, and never minute rows that are not derived yet', async () => {
    const fresh = await backend.open();
    try {
      const st = fresh.store;
      const ws = await st.workspaces.create({ id: newId('ws'), name: 'old', plan: 'free', createdAt: NOW - 90 * DAY_MS });
      const s: Scope = { workspaceId: ws.id, livemode: true };
      const old = NOW - 40 * DAY_MS;
      const recent = NOW - DAY_MS;
      const run = (at: number): Run => ({
        id: idMadeAt('run', at), scope: s, agentId: 'agent_x', agentVersion: 1, threadId: null, status: 'completed', mode: 'wait', input: 'x', state: {}, output: 'y',
        errorCode: null, errorMessage: null, model: null, routing: null, usage: emptyUsage(), costUsd: 0, latency: {}, requiredAction: null,
        cancelRequested: false, metadata: {}, createdAt: at, startedAt: at, completedAt: at, updatedAt: at, apiKeyId: null, parentRunId: null,
        parentSpanId: null, workflowId: null, workflowVersion: null,
      });
      const runs = [run(old), run(old + 1), run(recent)];
      await st.runs.createMany(runs);
      const span = (runId: string, at: number): Span => ({ id: idMadeAt('span', at), runId, parentId: null, kind: 'model_call', name: 'm', status: 'ok', attributes: {}, startedAt: at, endedAt: at + 1 });
      await st.spans.saveMany([span(runs[0]!.id, old), span(runs[1]!.id, old), span(runs[2]!.id, recent)]);
      for (const r of runs) await st.runEvents.appendEvents([1, 2].map((seq) => ({ runId: r.id, seq, type: 'run.created', data: {}, createdAt: r.createdAt })));
      const request = (at: number): RequestRecord => ({
        id: idMadeAt('req', at), scope: s, createdAt: at, apiKeyId: 'key_x', method: 'GET', route: '/v1/workspace', path: '/v1/workspace', status: 200,
        latencyMs: 1, errorCode: null, idempotencyKey: null, runId: null,
      });
      // Written a second apart in life: one segment each.
      for (const at of [NOW - 10 * DAY_MS, NOW - 8 * DAY_MS, recent]) await st.requestLog.insert([request(at)]);
      const minute = (at: number) => minuteRow(s, 'request', at, { status: '200' }, { count: 1 });
      await st.rollups.add([minute(old), minute(recent)]);
      const compactor = new RollupCompactor(st, () => NOW);
      // Nothing derived yet: the old minute rows stay, though their trace retention is over.
      const first = await purgeExpired(st, compactor, { traceRetentionDays: 30, requestLogRetentionDays: 7, rollupRetentionDays: 395 }, NOW);
      expect(first).toMatchObject({ spans: 2, run_events: 4, workflow_run_events: 0, minute_rollups: 0, request_log: 2 });
      expect((await st.spans.forRun(runs[2]!.id))).toHaveLength(1);
      expect(await st.runEvents.events(runs[2]!.id, 0, 10)).toHaveLength(2);
      expect(await st.runEvents.events(runs[0]!.id, 0, 10)).toHaveLength(0);
      expect((await st.requestLog.list(s, {}, { limit: 10 })).data).toHaveLength(1);
      // Once derived into hours, the old minutes go; the hours stay for the rollup retention.
      for (let done = -1; done !== 0; ) done = await compactor.compact(2000);
      const second = await purgeExpired(st, compactor, { traceRetentionDays: 30, requestLogRetentionDays: 7, rollupRetentionDays: 395 }, NOW);
      expect(second).toMatchObject({ minute_rollups: 1, hour_rollups: 0, day_rollups: 0 });
      expect(await st.rollups.rowsBetween('hour', old - HOUR_MS, old + HOUR_MS, '*')).toHaveLength(1);
      const third = await purgeExpired(st, compactor, { traceRetentionDays: 30, requestLogRetentionDays: 7, rollupRetentionDays: 30 }, NOW);
      expect(third.hour_rollups).toBeGreaterThan(0);
      expect(third.day_rollups).toBeGreaterThan(0);
      expect(await st.rollups.rowsBetween('hour', old - HOUR_MS, old + HOUR_MS, '*')).toHaveLength(0);
      expect(await st.rollups.rowsBetween('hour', recent - HOUR_MS, recent + HOUR_MS, '*')).toHaveLength(1);
    } finally {
      await fresh.dispose();
    }
  });
});
