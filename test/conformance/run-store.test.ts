/**
 * Storage conformance for agent runs and their spans: every operation of RunRepo and SpanRepo
 * (src/store/run-port.ts), run against every backend in `storeBackends` (SQLite in a temp dir,
 * PostgreSQL in a fresh schema), with real rows. The event logs are in run-events-store.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idMadeAt, newId } from '../../src/ids.js';
import type { PageRequest, Run, RunFilter, Scope, Store, Workspace } from '../../src/store/port.js';
import { storeBackends, type StoreHandle } from '../support/services.js';
import { ids, run, span, T0, withFreshStore, workspace } from '../support/store-fixtures.js';

const MINUTE = 60_000;

describe.each(storeBackends)('run store conformance: $name', (backend) => {
  let handle: StoreHandle;
  let store: Store;
  let wsA: Workspace;
  let wsB: Workspace;
  const agentId = newId('agent');
  const liveA = (): Scope => ({ workspaceId: wsA.id, livemode: true });
  const testA = (): Scope => ({ workspaceId: wsA.id, livemode: false });
  const liveB = (): Scope => ({ workspaceId: wsB.id, livemode: true });

  beforeAll(async () => {
    handle = await backend.open();
    store = handle.store;
    wsA = await store.workspaces.create(workspace({ name: 'A', plan: 'pro' }));
    wsB = await store.workspaces.create(workspace({ name: 'B' }));
  });

  afterAll(async () => {
    await handle?.dispose();
  });

  async function freshScope(): Promise<{ live: Scope; test: Scope }> {
    const ws = await store.workspaces.create(workspace());
    return { live: { workspaceId: ws.id, livemode: true }, test: { workspaceId: ws.id, livemode: false } };
  }

  /** A finished run of `scope` created at T0 + `minute` minutes, its id made at that time (as time filters need). */
  const finishedAt = (scope: Scope, minute: number, overrides: Partial<Run> = {}): Run => {
    const createdAt = T0 + minute * MINUTE;
    return run(scope, agentId, {
      id: idMadeAt('run', createdAt), status: 'completed', createdAt, startedAt: createdAt, completedAt: createdAt + 1_000, updatedAt: createdAt + 1_000,
      ...overrides,
    });
  };

  it('creates a run and gets it back whole, in its own scope only', async () => {
    const full = run(liveA(), agentId, {
      agentVersion: 7,
      threadId: newId('thread'),
      status: 'requires_action',
      mode: 'stream',
      input: { text: 'quote " and ✓', n: 1.5, flag: false, none: null, list: [{ a: 1 }] },
      state: { messages: [{ role: 'assistant', content: 'thinking' }], steps: 2 },
      output: 'partial answer',
      errorCode: 'model_error',
      errorMessage: 'upstream said no',
      model: 'openai/gpt-4o-mini',
      routing: { requested: 'auto', chosen: 'openai/gpt-4o-mini', fallbacks: [] },
      usage: { input_tokens: 120, output_tokens: 30, cached_input_tokens: 20, reasoning_tokens: 5, total_tokens: 150 },
      costUsd: 0.000_123_5,
      latency: { queue_ms: 3, model_ms: 850, total_ms: 900 },
      requiredAction: { type: 'submit_tool_outputs', tool_calls: [{ id: 'call_1', name: 'lookup', arguments: { q: 'x' } }] },
      cancelRequested: true,
      metadata: { source: 'test', 'ünïcode': 'värde' },
      startedAt: T0 + 10,
      completedAt: T0 + 20,
      updatedAt: T0 + 20,
      apiKeyId: newId('key'),
      parentRunId: newId('wfrun'),
      parentSpanId: 'each[2].ask',
      workflowId: newId('wf'),
      workflowVersion: 3,
    });
    await expect(store.runs.create(full)).resolves.toEqual(full);
    await expect(store.runs.get(liveA(), full.id)).resolves.toEqual(full);
    await expect(store.runs.getById(full.id)).resolves.toEqual(full);
    await expect(store.runs.get(testA(), full.id)).resolves.toBeUndefined();
    await expect(store.runs.get(liveB(), full.id)).resolves.toBeUndefined();
    await expect(store.runs.get(liveA(), newId('run'))).resolves.toBeUndefined();
    await expect(store.runs.getById(newId('run'))).resolves.toBeUndefined();

    // The plain shape: nulls everywhere, in the test mode.
    const plain = run(testA(), agentId);
    await store.runs.create(plain);
    await expect(store.runs.get(testA(), plain.id)).resolves.toEqual(plain);
  });

  it('round-trips JSON inputs: null, strings (even "null"), numbers, arrays; an undefined input reads as null', async () => {
    for (const input of [null, 'a string', 'null', '', 0, 42, [1, 'two', null], { deep: { er: [true] } }]) {
      const created = await store.runs.create(run(liveA(), agentId, { input }));
      await expect(store.runs.getById(created.id).then((got) => got?.input)).resolves.toStrictEqual(input);
    }
    // As a workflow run's input does.
    const created = await store.runs.create(run(liveA(), agentId, { input: undefined }));
    await expect(store.runs.getById(created.id)).resolves.toEqual({ ...created, input: null });
  });

  it('rejects a second run with the same id, and one for a workspace that does not exist', async () => {
    const created = await store.runs.create(run(liveA(), agentId));
    await expect(store.runs.create({ ...created, status: 'running' })).rejects.toThrow();
    await expect(store.runs.getById(created.id)).resolves.toEqual(created);
    const orphan = run({ workspaceId: newId('ws'), livemode: true }, agentId);
    await expect(store.runs.create(orphan)).rejects.toThrow();
    await expect(store.runs.getById(orphan.id)).resolves.toBeUndefined();
  });

  it('creates many runs at once, across statement batches; none is a no-op', async () => {
    const { live } = await freshScope();
    const many = Array.from({ length: 450 }, (_, i) => finishedAt(live, i, { output: `answer ${i}`, costUsd: i / 1000 }));
    await expect(store.runs.createMany(many)).resolves.toBeUndefined();
    const listed = await store.runs.list(live, {}, { limit: 500 });
    expect(listed).toEqual({ data: [...many].reverse(), hasMore: false });
    await expect(store.runs.createMany([])).resolves.toBeUndefined();
    // A batch holding a run already stored is refused.
    await expect(store.runs.createMany([finishedAt(live, 1_000), many[0]!])).rejects.toThrow();
  });

  it('lists one workspace and mode newest first with after/before cursors', async () => {
    const { live, test } = await freshScope();
    const created: Run[] = [];
    for (let i = 0; i < 5; i++) {
      created.push(await store.runs.create(run(live, agentId)));
      await store.runs.create(run(test, agentId));
      await store.runs.create(run(liveB(), agentId));
    }
    const [r0, r1, r2, r3, r4] = ids(created) as [string, string, string, string, string];
    const list = async (page: PageRequest) => {
      const result = await store.runs.list(live, {}, page);
      return { ids: ids(result.data), hasMore: result.hasMore };
    };

    await expect(store.runs.list(live, {}, { limit: 10 })).resolves.toEqual({ data: [...created].reverse(), hasMore: false });
    await expect(list({ limit: 4 })).resolves.toEqual({ ids: [r4, r3, r2, r1], hasMore: true });
    await expect(list({ limit: 2, after: r3 })).resolves.toEqual({ ids: [r2, r1], hasMore: true });
    await expect(list({ limit: 2, after: r1 })).resolves.toEqual({ ids: [r0], hasMore: false });
    await expect(list({ limit: 2, after: r0 })).resolves.toEqual({ ids: [], hasMore: false });
    await expect(list({ limit: 2, before: r0 })).resolves.toEqual({ ids: [r2, r1], hasMore: true });
    await expect(list({ limit: 2, before: r2 })).resolves.toEqual({ ids: [r4, r3], hasMore: false });
    await expect(list({ limit: 2, before: r4 })).resolves.toEqual({ ids: [], hasMore: false });

    const testRuns = await store.runs.list(test, {}, { limit: 10 });
    expect(testRuns.data).toHaveLength(5);
    expect(testRuns.data.every((r) => r.scope.workspaceId === test.workspaceId && !r.scope.livemode)).toBe(true);
    const empty = await freshScope();
    await expect(store.runs.list(empty.live, {}, { limit: 10 })).resolves.toEqual({ data: [], hasMore: false });
  });

  it('filters the list by agent, workflow, key, status, model, cost, latency and creation time', async () => {
    const { live } = await freshScope();
    const [otherAgent, wf, key] = [newId('agent'), newId('wf'), newId('key')];
    const runs = [
      finishedAt(live, 0, { model: 'openai/gpt-4o-mini', costUsd: 0.5, completedAt: T0 + 5_000 }),
      finishedAt(live, 1, { agentId: otherAgent, status: 'failed', model: 'anthropic/claude-sonnet-4', costUsd: 0.25 }),
      finishedAt(live, 2, { workflowId: wf, workflowVersion: 2, apiKeyId: key, costUsd: 0.125, completedAt: T0 + 2 * MINUTE + 30_000 }),
      finishedAt(live, 3, { apiKeyId: key, status: 'running', completedAt: null, model: 'openai/gpt-4o-mini' }),
      finishedAt(live, 4, { agentId: otherAgent, workflowId: wf, costUsd: 1 }),
    ];
    for (const r of runs) await store.runs.create(r);
    const [r0, r1, r2, r3, r4] = ids(runs) as [string, string, string, string, string];
    const list = async (filter: RunFilter, page: PageRequest = { limit: 10 }) => ids((await store.runs.list(live, filter, page)).data);

    await expect(list({ agentId })).resolves.toEqual([r3, r2, r0]);
    await expect(list({ agentId: otherAgent })).resolves.toEqual([r4, r1]);
    await expect(list({ workflowId: wf })).resolves.toEqual([r4, r2]);
    await expect(list({ apiKeyId: key })).resolves.toEqual([r3, r2]);
    await expect(list({ status: 'completed' })).resolves.toEqual([r4, r2, r0]);
    await expect(list({ status: 'cancelled' })).resolves.toEqual([]);
    await expect(list({ model: 'openai/gpt-4o-mini' })).resolves.toEqual([r3, r0]);
    await expect(list({ minCostUsd: 0.25 })).resolves.toEqual([r4, r1, r0]);
    await expect(list({ minCostUsd: 2 })).resolves.toEqual([]);
    // Latency counts finished runs only: from creation to completion.
    await expect(list({ minLatencyMs: 1_000 })).resolves.toEqual([r4, r2, r1, r0]);
    await expect(list({ minLatencyMs: 5_000 })).resolves.toEqual([r2, r0]);
    await expect(list({ minLatencyMs: 5_001 })).resolves.toEqual([r2]);
    // Created in [createdFrom, createdTo).
    await expect(list({ createdFrom: T0 + MINUTE })).resolves.toEqual([r4, r3, r2, r1]);
    await expect(list({ createdFrom: T0 + MINUTE + 1 })).resolves.toEqual([r4, r3, r2]);
    await expect(list({ createdTo: T0 + 2 * MINUTE })).resolves.toEqual([r1, r0]);
    await expect(list({ createdFrom: T0 + MINUTE, createdTo: T0 + 4 * MINUTE })).resolves.toEqual([r3, r2, r1]);
    await expect(list({ createdFrom: T0 + 9 * MINUTE })).resolves.toEqual([]);
    // Filters combine, and page with cursors.
    await expect(list({ agentId, status: 'completed', minCostUsd: 0.2 })).resolves.toEqual([r0]);
    await expect(list({ apiKeyId: key, createdTo: T0 + 3 * MINUTE })).resolves.toEqual([r2]);
    await expect(store.runs.list(live, { status: 'completed' }, { limit: 1, after: r4 }).then((p) => ({ ids: ids(p.data), hasMore: p.hasMore })))
      .resolves.toEqual({ ids: [r2], hasMore: true });
    await expect(list({ status: 'completed' }, { limit: 10, before: r0 })).resolves.toEqual([r4, r2]);
  });

  it('lists the runs another run started, oldest first', async () => {
    const parent = newId('wfrun');
    const children = [];
    for (let i = 0; i < 3; i++) {
      children.push(await store.runs.create(run(i === 1 ? testA() : liveA(), agentId, { parentRunId: parent, parentSpanId: `step${i}` })));
      await store.runs.create(run(liveA(), agentId, { parentRunId: newId('run') }));
    }
    await expect(store.runs.children(parent)).resolves.toEqual(children);
    await expect(store.runs.children(newId('run'))).resolves.toEqual([]);
  });

  it('saves every column but identity, scope, creation time and the cancel flag', async () => {
    const created = await store.runs.create(run(liveA(), agentId, { threadId: newId('thread') }));
    await store.runs.requestCancel(created.id, T0 + 5);
    const saved: Run = {
      ...created,
      agentVersion: 2, threadId: null, status: 'completed', mode: 'wait', input: ['changed'], state: { steps: 4 }, output: 'done',
      errorCode: 'x', errorMessage: 'y', model: 'openai/gpt-4o', routing: { chosen: 'openai/gpt-4o' },
      usage: { input_tokens: 1, output_tokens: 2, cached_input_tokens: 0, reasoning_tokens: 1, total_tokens: 3 }, costUsd: 0.75,
      latency: { total_ms: 12 }, requiredAction: { type: 'x' }, metadata: { k: 'v' }, startedAt: T0 + 1, completedAt: T0 + 9,
      updatedAt: T0 + 9, apiKeyId: newId('key'), parentRunId: newId('run'), parentSpanId: newId('span'), workflowId: newId('wf'), workflowVersion: 1,
    };
    // The caller's copy says cancelRequested: false and another scope and creation time: the stored ones stay.
    await expect(store.runs.save({ ...saved, scope: liveB(), createdAt: T0 + 99 })).resolves.toBe(true);
    await expect(store.runs.get(liveA(), created.id)).resolves.toEqual({ ...saved, cancelRequested: true });

    // And back to nulls.
    const cleared: Run = { ...saved, errorCode: null, errorMessage: null, routing: null, requiredAction: null, output: null, completedAt: null, workflowId: null, workflowVersion: null };
    await expect(store.runs.save(cleared)).resolves.toBe(true);
    await expect(store.runs.getById(created.id)).resolves.toEqual({ ...cleared, cancelRequested: true });

    await expect(store.runs.save(run(liveA(), agentId))).resolves.toBe(false);
  });

  it('saves with expectStatus only while the status is still one of those; an empty list matches nothing', async () => {
    const created = await store.runs.create(run(liveA(), agentId, { status: 'running' }));
    const completed: Run = { ...created, status: 'completed', completedAt: T0 + 9, updatedAt: T0 + 9 };
    await expect(store.runs.save(completed, ['queued'])).resolves.toBe(false);
    await expect(store.runs.getById(created.id)).resolves.toEqual(created);
    await expect(store.runs.save(completed, ['queued', 'running', 'requires_action'])).resolves.toBe(true);
    await expect(store.runs.getById(created.id)).resolves.toEqual(completed);
    await expect(store.runs.save({ ...completed, status: 'cancelled' }, ['running'])).resolves.toBe(false);
    await expect(store.runs.save(run(liveA(), agentId), ['queued'])).resolves.toBe(false);
    // No status expected: nothing matches (and no `in ()` reaches the database).
    await expect(store.runs.save({ ...completed, status: 'failed' }, [])).resolves.toBe(false);
    await expect(store.runs.getById(created.id)).resolves.toEqual(completed);
  });

  it('lets exactly one of many concurrent guarded saves win', async () => {
    const created = await store.runs.create(run(liveA(), agentId, { status: 'running' }));
    const statuses = ['completed', 'failed', 'cancelled', 'completed', 'failed'] as const;
    const results = await Promise.all(statuses.map((status) => store.runs.save({ ...created, status }, ['running'])));
    expect(results.filter(Boolean)).toHaveLength(1);
    await expect(store.runs.getById(created.id)).resolves.toMatchObject({ status: statuses[results.indexOf(true)] });
  });

  it('requests cancellation and records the engine alive, changing nothing else', async () => {
    const created = await store.runs.create(run(liveA(), agentId, { status: 'running', mode: 'stream' }));
    await store.runs.touch(created.id, T0 + 3);
    await expect(store.runs.getById(created.id)).resolves.toEqual({ ...created, updatedAt: T0 + 3 });
    await store.runs.requestCancel(created.id, T0 + 7);
    await expect(store.runs.getById(created.id)).resolves.toEqual({ ...created, cancelRequested: true, updatedAt: T0 + 7 });
    // Idempotent, and harmless for an unknown run.
    await store.runs.requestCancel(created.id, T0 + 8);
    await expect(store.runs.getById(created.id)).resolves.toMatchObject({ cancelRequested: true, updatedAt: T0 + 8 });
    await expect(store.runs.requestCancel(newId('run'), T0)).resolves.toBeUndefined();
    await expect(store.runs.touch(newId('run'), T0)).resolves.toBeUndefined();
  });

  it('lists wait and stream runs, queued or running, not touched since a time, up to a limit', async () => {
    await withFreshStore(backend.open, async (fresh) => {
      const ws = await fresh.workspaces.create(workspace());
      const other = await fresh.workspaces.create(workspace());
      const at = (offset: number) => T0 + offset;
      const abandoned = [
        run({ workspaceId: ws.id, livemode: true }, agentId, { status: 'running', mode: 'stream', updatedAt: at(10) }),
        run({ workspaceId: other.id, livemode: false }, agentId, { status: 'queued', mode: 'wait', updatedAt: at(20) }),
        run({ workspaceId: ws.id, livemode: true }, agentId, { status: 'running', mode: 'wait', updatedAt: at(99) }),
      ];
      const kept = [
        run({ workspaceId: ws.id, livemode: true }, agentId, { status: 'running', mode: 'background', updatedAt: at(10) }),
        run({ workspaceId: ws.id, livemode: true }, agentId, { status: 'requires_action', mode: 'stream', updatedAt: at(10) }),
        run({ workspaceId: ws.id, livemode: true }, agentId, { status: 'completed', mode: 'wait', updatedAt: at(10) }),
        run({ workspaceId: ws.id, livemode: true }, agentId, { status: 'running', mode: 'stream', updatedAt: at(100) }),
      ];
      for (const r of [...abandoned, ...kept]) await fresh.runs.create(r);
      const sorted = (runs: Run[]) => ids(runs).sort();

      await expect(fresh.runs.listAbandoned(at(100), 10).then(sorted)).resolves.toEqual(sorted(abandoned));
      await expect(fresh.runs.listAbandoned(at(100), 2)).resolves.toHaveLength(2);
      await expect(fresh.runs.listAbandoned(at(20), 10)).resolves.toEqual([abandoned[0]]);
      await expect(fresh.runs.listAbandoned(at(10), 10)).resolves.toEqual([]);
      // A touch keeps a run alive.
      await fresh.runs.touch(abandoned[0]!.id, at(200));
      await expect(fresh.runs.listAbandoned(at(100), 10).then(sorted)).resolves.toEqual(sorted(abandoned.slice(1)));
    });
  });

  it('rolls back runs created in a transaction that throws, and commits them together', async () => {
    const created = run(liveA(), agentId);
    const failure = new Error('boom');
    await expect(
      store.transaction(async (tx) => {
        await tx.runs.create(created);
        await tx.runs.createMany([finishedAt(liveA(), 1)]);
        await expect(tx.runs.getById(created.id)).resolves.toEqual(created);
        throw failure;
      }),
    ).rejects.toBe(failure);
    await expect(store.runs.getById(created.id)).resolves.toBeUndefined();

    await store.transaction(async (tx) => {
      await tx.runs.create(created);
      await tx.runs.save({ ...created, status: 'running' }, ['queued']);
    });
    await expect(store.runs.getById(created.id)).resolves.toEqual({ ...created, status: 'running' });
  });

  describe('spans', () => {
    it('saves a span and replaces it when saved again; lists a run\'s spans by start time', async () => {
      const runId = newId('run');
      const first = span(runId, { startedAt: T0 + 5 });
      const child = span(runId, { parentId: first.id, kind: 'tool_call', name: 'lookup', startedAt: T0 + 6, attributes: {} });
      const early = span(runId, { kind: 'queue_wait', name: 'queue', status: 'ok', startedAt: T0, endedAt: T0 + 4 });
      for (const s of [first, child, early]) await store.spans.save(s);
      await store.spans.save(span(newId('run')));
      await expect(store.spans.forRun(runId)).resolves.toEqual([early, first, child]);

      const ended = { ...first, status: 'error' as const, attributes: { error: 'timeout' }, endedAt: T0 + 50 };
      await store.spans.save(ended);
      await expect(store.spans.forRun(runId)).resolves.toEqual([early, ended, child]);
      await expect(store.spans.forRun(newId('run'))).resolves.toEqual([]);
    });

    it('saves many spans at once (none is a no-op); a span of a workflow run alike', async () => {
      const runId = newId('wfrun');
      const many = Array.from({ length: 300 }, (_, i) => span(runId, { startedAt: T0 + i, status: 'ok', endedAt: T0 + i + 1 }));
      await store.spans.saveMany(many);
      await store.spans.saveMany([]);
      await expect(store.spans.forRun(runId)).resolves.toEqual(many);
      // Spans of equal start time by id.
      const tied = [span(runId, { startedAt: T0 - 1 }), span(runId, { startedAt: T0 - 1 })];
      await store.spans.saveMany([tied[1]!, tied[0]!]);
      await expect(store.spans.forRun(runId).then((spans) => ids(spans.slice(0, 2)))).resolves.toEqual(ids(tied));
    });

    it('purges up to a limit of spans started before a time (by their ids), oldest first', async () => {
      await withFreshStore(backend.open, async (fresh) => {
        const runId = newId('run');
        const old = [1, 2, 3].map((i) => span(runId, { id: idMadeAt('span', T0 - 10 * MINUTE + i), startedAt: T0 - 10 * MINUTE + i }));
        const recent = span(runId, { id: idMadeAt('span', T0), startedAt: T0 });
        await fresh.spans.saveMany([...old, recent]);
        await expect(fresh.spans.purge(T0 - MINUTE, 2)).resolves.toBe(2);
        await expect(fresh.spans.forRun(runId)).resolves.toEqual([old[2], recent]);
        await expect(fresh.spans.purge(T0 - MINUTE, 2)).resolves.toBe(1);
        await expect(fresh.spans.purge(T0 - MINUTE, 2)).resolves.toBe(0);
        await expect(fresh.spans.forRun(runId)).resolves.toEqual([recent]);
      });
    });
  });
});
