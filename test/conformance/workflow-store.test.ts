/**
 * Storage conformance for workflows: every operation of WorkflowRepo and WorkflowRunRepo
 * (src/store/port.ts), run against every backend in `storeBackends` (SQLite in a temp dir,
 * PostgreSQL in a fresh schema), with real rows.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type {
  PageRequest, RunEvent, Scope, Store, Workflow, WorkflowRun, WorkflowStepState, Workspace,
} from '../../src/store/port.js';
import { emptyUsage } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { dropPostgresSchema, openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { postgresUrl, storeBackends, tempDir, uniqueName, type StoreHandle } from '../support/services.js';

type BackendName = (typeof storeBackends)[number]['name'];

/** One database location that can be opened twice at a time: a directory for SQLite, a schema for PostgreSQL. */
function sharedLocation(name: BackendName): { open(): Promise<Store>; dispose(): Promise<void> } {
  if (name === 'sqlite') {
    const dir = tempDir();
    return {
      open: () => openSqliteStore({ dataDir: dir }),
      async dispose() {
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = uniqueName('kairo_test');
  return {
    open: () => openPostgresStore({ url: postgresUrl, schema, poolSize: 5 }),
    dispose: () => dropPostgresSchema(postgresUrl, schema),
  };
}

/** Times above 2^32, so that bigint columns are really exercised. */
const T0 = 1_750_000_000_000;

function workspace(overrides: Partial<Workspace> = {}): Workspace {
  return { id: newId('ws'), name: 'Acme', plan: 'free', createdAt: T0, ...overrides };
}

function workflow(scope: Scope, overrides: Partial<Workflow> = {}): Workflow {
  return {
    id: newId('wf'),
    scope,
    name: 'nightly report',
    version: 1,
    definition: { steps: [{ id: 'fetch', type: 'http', url: 'https://example.com', retry: { attempts: 3 } }], inputs: null },
    metadata: { team: 'data', 'ünïcode': 'värde' },
    nextFireAt: null,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

function workflowRun(scope: Scope, workflowId: string, overrides: Partial<WorkflowRun> = {}): WorkflowRun {
  return {
    id: newId('wfrun'),
    scope,
    workflowId,
    workflowVersion: 1,
    status: 'queued',
    mode: 'background',
    trigger: 'api',
    scheduledFor: null,
    parentRunId: null,
    parentStepKey: null,
    input: { customer: 'cus_1', items: [1, 2, 3] },
    output: null,
    errorCode: null,
    errorMessage: null,
    errorStep: null,
    cancelRequested: false,
    metadata: {},
    createdAt: T0,
    startedAt: null,
    completedAt: null,
    updatedAt: T0,
    apiKeyId: null,
    usage: emptyUsage(),
    costUsd: 0,
    latency: {},
    ...overrides,
  };
}

function step(runId: string, key: string, overrides: Partial<WorkflowStepState> = {}): WorkflowStepState {
  return {
    runId,
    key,
    stepId: key.split('.').pop()!,
    type: 'http',
    status: 'pending',
    position: 0,
    input: null,
    output: null,
    state: {},
    errorCode: null,
    errorMessage: null,
    attempts: 0,
    wakeAt: null,
    startedAt: null,
    completedAt: null,
    updatedAt: T0,
    ...overrides,
  };
}

function event(runId: string, seq: number, overrides: Partial<RunEvent> = {}): RunEvent {
  return { runId, seq, type: 'step.completed', data: { seq, step: `s${seq}`, nested: { ok: true, list: [seq, null] } }, createdAt: T0 + seq, ...overrides };
}

const ids = (items: Array<{ id: string }>): string[] => items.map((item) => item.id);

describe.each(storeBackends)('workflow store conformance: $name', (backend) => {
  let handle: StoreHandle;
  let store: Store;
  let wsA: Workspace;
  let wsB: Workspace;
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

  /** Runs `body` on a store of its own, for operations that read across all workspaces. */
  async function withFreshStore(body: (fresh: Store) => Promise<void>): Promise<void> {
    const own = await backend.open();
    try {
      await body(own.store);
    } finally {
      await own.dispose();
    }
  }

  /** A workspace of its own with its live scope, so that lists see only this test's rows. */
  async function freshScope(): Promise<{ ws: Workspace; live: Scope; test: Scope }> {
    const ws = await store.workspaces.create(workspace());
    return { ws, live: { workspaceId: ws.id, livemode: true }, test: { workspaceId: ws.id, livemode: false } };
  }

  describe('workflows', () => {
    it('creates a workflow with its first version and gets it back whole', async () => {
      const wf = workflow(liveA(), { nextFireAt: T0 + 60_000, createdAt: T0 + 1, updatedAt: T0 + 2 });
      await expect(store.workflows.create(wf)).resolves.toEqual(wf);
      await expect(store.workflows.get(liveA(), wf.id)).resolves.toEqual(wf);
      await expect(store.workflows.getById(wf.id)).resolves.toEqual(wf);
      await expect(store.workflows.getVersion(wf.id, 1)).resolves.toEqual({
        workflowId: wf.id, version: 1, definition: wf.definition, createdAt: wf.updatedAt,
      });
      await expect(store.workflows.versions(wf.id, { limit: 10 })).resolves.toEqual({
        data: [{ workflowId: wf.id, version: 1, definition: wf.definition, createdAt: wf.updatedAt }],
        hasMore: false,
      });

      // Without a schedule and with empty metadata.
      const plain = workflow(testA(), { metadata: {}, definition: {} });
      await store.workflows.create(plain);
      await expect(store.workflows.get(testA(), plain.id)).resolves.toEqual(plain);
    });

    it('gets a workflow only in its own workspace and mode; getById ignores scope', async () => {
      const wf = await store.workflows.create(workflow(liveA()));
      await expect(store.workflows.get(testA(), wf.id)).resolves.toBeUndefined();
      await expect(store.workflows.get(liveB(), wf.id)).resolves.toBeUndefined();
      await expect(store.workflows.get(liveA(), newId('wf'))).resolves.toBeUndefined();
      await expect(store.workflows.getById(wf.id)).resolves.toEqual(wf);
      await expect(store.workflows.getById(newId('wf'))).resolves.toBeUndefined();
      await expect(store.workflows.getVersion(newId('wf'), 1)).resolves.toBeUndefined();
    });

    it('rejects a second workflow with the same id, and one for a workspace that does not exist', async () => {
      const wf = await store.workflows.create(workflow(liveA()));
      await expect(store.workflows.create({ ...wf, name: 'other' })).rejects.toThrow();
      await expect(store.workflows.get(liveA(), wf.id)).resolves.toEqual(wf);
      const orphan = workflow({ workspaceId: newId('ws'), livemode: true });
      await expect(store.workflows.create(orphan)).rejects.toThrow();
      await expect(store.workflows.getById(orphan.id)).resolves.toBeUndefined();
    });

    it('lists one workspace and mode newest first with after/before cursors, deleted ones hidden', async () => {
      const { ws, live, test } = await freshScope();
      const other = await store.workspaces.create(workspace());
      const created: Workflow[] = [];
      for (let i = 0; i < 5; i++) {
        created.push(await store.workflows.create(workflow(live, { name: `wf ${i}`, createdAt: T0 + i, updatedAt: T0 + i })));
        await store.workflows.create(workflow(test, { name: `test ${i}` }));
        await store.workflows.create(workflow({ workspaceId: other.id, livemode: true }, { name: `other ${i}` }));
      }
      const [w0, w1, w2, w3, w4] = ids(created) as [string, string, string, string, string];
      const list = async (page: PageRequest) => {
        const result = await store.workflows.list(live, page);
        return { ids: ids(result.data), hasMore: result.hasMore };
      };

      await expect(store.workflows.list(live, { limit: 10 })).resolves.toEqual({ data: [...created].reverse(), hasMore: false });
      await expect(list({ limit: 5 })).resolves.toEqual({ ids: [w4, w3, w2, w1, w0], hasMore: false });
      await expect(list({ limit: 4 })).resolves.toEqual({ ids: [w4, w3, w2, w1], hasMore: true });
      await expect(list({ limit: 2, after: w3 })).resolves.toEqual({ ids: [w2, w1], hasMore: true });
      await expect(list({ limit: 2, after: w1 })).resolves.toEqual({ ids: [w0], hasMore: false });
      await expect(list({ limit: 2, after: w0 })).resolves.toEqual({ ids: [], hasMore: false });
      await expect(list({ limit: 2, before: w0 })).resolves.toEqual({ ids: [w2, w1], hasMore: true });
      await expect(list({ limit: 2, before: w2 })).resolves.toEqual({ ids: [w4, w3], hasMore: false });
      await expect(list({ limit: 2, before: w4 })).resolves.toEqual({ ids: [], hasMore: false });

      // The other mode and the other workspace see only their own.
      const testPage = await store.workflows.list(test, { limit: 10 });
      expect(testPage.data.map((w) => w.name)).toEqual(['test 4', 'test 3', 'test 2', 'test 1', 'test 0']);
      expect(testPage.data.every((w) => w.scope.workspaceId === ws.id && !w.scope.livemode)).toBe(true);
      const otherPage = await store.workflows.list({ workspaceId: other.id, livemode: true }, { limit: 10 });
      expect(otherPage.data.map((w) => w.name)).toEqual(['other 4', 'other 3', 'other 2', 'other 1', 'other 0']);
      await expect(store.workflows.list({ workspaceId: other.id, livemode: false }, { limit: 10 })).resolves.toEqual({ data: [], hasMore: false });

      // Deleted workflows leave the list; a deleted id still works as a cursor.
      await expect(store.workflows.delete(live, w3, T0 + 100)).resolves.toBe(true);
      await expect(list({ limit: 10 })).resolves.toEqual({ ids: [w4, w2, w1, w0], hasMore: false });
      await expect(list({ limit: 1, after: w3 })).resolves.toEqual({ ids: [w2], hasMore: true });
      await expect(list({ limit: 1, before: w2 })).resolves.toEqual({ ids: [w4], hasMore: false });
      await expect(list({ limit: 3 })).resolves.toEqual({ ids: [w4, w2, w1], hasMore: true });
    });

    it('replaces a workflow with a new version and keeps every version readable', async () => {
      const v1 = await store.workflows.create(workflow(liveA(), { createdAt: T0, updatedAt: T0 }));
      const v2: Workflow = {
        ...v1,
        name: 'renamed',
        version: 2,
        definition: { steps: [{ id: 'notify', type: 'email' }], note: 'v2' },
        metadata: { owner: 'ops' },
        nextFireAt: T0 + 3_600_000,
        updatedAt: T0 + 50,
      };
      await expect(store.workflows.replace(v2)).resolves.toBeUndefined();
      await expect(store.workflows.get(liveA(), v1.id)).resolves.toEqual(v2);
      await expect(store.workflows.getById(v1.id)).resolves.toEqual(v2);
      await expect(store.workflows.getVersion(v1.id, 1)).resolves.toEqual({
        workflowId: v1.id, version: 1, definition: v1.definition, createdAt: T0,
      });
      await expect(store.workflows.getVersion(v1.id, 2)).resolves.toEqual({
        workflowId: v1.id, version: 2, definition: v2.definition, createdAt: T0 + 50,
      });
      await expect(store.workflows.getVersion(v1.id, 3)).resolves.toBeUndefined();

      // A second replace back to no schedule.
      const v3: Workflow = { ...v2, version: 3, definition: { steps: [] }, nextFireAt: null, updatedAt: T0 + 60 };
      await store.workflows.replace(v3);
      await expect(store.workflows.get(liveA(), v1.id)).resolves.toEqual(v3);
      await expect(store.workflows.getVersion(v1.id, 2)).resolves.toMatchObject({ version: 2, definition: v2.definition });
    });

    it('rejects a replace that repeats a stored version', async () => {
      const wf = await store.workflows.create(workflow(liveA()));
      await expect(store.workflows.replace({ ...wf, definition: { changed: true } })).rejects.toThrow();
      await expect(store.workflows.getVersion(wf.id, 1)).resolves.toMatchObject({ definition: wf.definition });
    });

    it('pages versions newest first with after/before cursors, one workflow only', async () => {
      const wf = await store.workflows.create(workflow(liveA()));
      const other = await store.workflows.create(workflow(liveA()));
      for (let v = 2; v <= 5; v++) {
        await store.workflows.replace({ ...wf, version: v, definition: { v }, updatedAt: T0 + v });
        await store.workflows.replace({ ...other, version: v, definition: { other: v }, updatedAt: T0 + v });
      }
      const versions = async (page: PageRequest) => {
        const result = await store.workflows.versions(wf.id, page);
        return { versions: result.data.map((v) => v.version), hasMore: result.hasMore };
      };

      const all = await store.workflows.versions(wf.id, { limit: 10 });
      expect(all.hasMore).toBe(false);
      expect(all.data.map((v) => v.version)).toEqual([5, 4, 3, 2, 1]);
      expect(all.data.every((v) => v.workflowId === wf.id)).toBe(true);
      expect(all.data[0]).toEqual({ workflowId: wf.id, version: 5, definition: { v: 5 }, createdAt: T0 + 5 });
      expect(all.data[4]).toEqual({ workflowId: wf.id, version: 1, definition: wf.definition, createdAt: wf.updatedAt });

      await expect(versions({ limit: 5 })).resolves.toEqual({ versions: [5, 4, 3, 2, 1], hasMore: false });
      await expect(versions({ limit: 2 })).resolves.toEqual({ versions: [5, 4], hasMore: true });
      await expect(versions({ limit: 2, after: '4' })).resolves.toEqual({ versions: [3, 2], hasMore: true });
      await expect(versions({ limit: 2, after: '2' })).resolves.toEqual({ versions: [1], hasMore: false });
      await expect(versions({ limit: 2, after: '1' })).resolves.toEqual({ versions: [], hasMore: false });
      await expect(versions({ limit: 2, before: '1' })).resolves.toEqual({ versions: [3, 2], hasMore: true });
      await expect(versions({ limit: 2, before: '3' })).resolves.toEqual({ versions: [5, 4], hasMore: false });
      await expect(versions({ limit: 2, before: '5' })).resolves.toEqual({ versions: [], hasMore: false });
      await expect(versions({ limit: 10, before: '1' })).resolves.toEqual({ versions: [5, 4, 3, 2], hasMore: false });

      await expect(store.workflows.versions(newId('wf'), { limit: 10 })).resolves.toEqual({ data: [], hasMore: false });
    });

    it('answers version cursors that are not stored versions alike on every backend', async () => {
      const wf = await store.workflows.create(workflow(liveA()));
      for (let v = 2; v <= 4; v++) await store.workflows.replace({ ...wf, version: v, definition: { v }, updatedAt: T0 + v });
      const versions = async (page: PageRequest) => {
        const result = await store.workflows.versions(wf.id, page);
        return { versions: result.data.map((v) => v.version), hasMore: result.hasMore };
      };
      // Between two versions: splits where it sorts.
      await expect(versions({ limit: 10, after: '2.5' })).resolves.toEqual({ versions: [2, 1], hasMore: false });
      await expect(versions({ limit: 10, before: '2.5' })).resolves.toEqual({ versions: [4, 3], hasMore: false });
      // Beyond every version (and beyond 32 bits).
      await expect(versions({ limit: 10, after: '99' })).resolves.toEqual({ versions: [4, 3, 2, 1], hasMore: false });
      await expect(versions({ limit: 10, after: '1e12' })).resolves.toEqual({ versions: [4, 3, 2, 1], hasMore: false });
      await expect(versions({ limit: 10, before: '-1e12' })).resolves.toEqual({ versions: [4, 3, 2, 1], hasMore: false });
      await expect(versions({ limit: 10, before: '1e12' })).resolves.toEqual({ versions: [], hasMore: false });
      // Not a number: an empty page, not an error.
      await expect(versions({ limit: 10, after: 'wf_abc' })).resolves.toEqual({ versions: [], hasMore: false });
      await expect(versions({ limit: 10, before: 'abc' })).resolves.toEqual({ versions: [], hasMore: false });
    });

    it('deletes softly, in its own scope only, once', async () => {
      const wf = await store.workflows.create(workflow(liveA(), { nextFireAt: T0 }));
      // Another scope cannot delete it.
      await expect(store.workflows.delete(testA(), wf.id, T0 + 1)).resolves.toBe(false);
      await expect(store.workflows.delete(liveB(), wf.id, T0 + 1)).resolves.toBe(false);
      await expect(store.workflows.get(liveA(), wf.id)).resolves.toEqual(wf);

      await expect(store.workflows.delete(liveA(), wf.id, T0 + 2)).resolves.toBe(true);
      await expect(store.workflows.get(liveA(), wf.id)).resolves.toBeUndefined();
      await expect(store.workflows.getById(wf.id)).resolves.toBeUndefined();
      await expect(store.workflows.delete(liveA(), wf.id, T0 + 3)).resolves.toBe(false);
      await expect(store.workflows.delete(liveA(), newId('wf'), T0 + 3)).resolves.toBe(false);
      // Its schedule no longer advances.
      await expect(store.workflows.advanceSchedule(wf.id, T0, T0 + 10)).resolves.toBe(false);
    });

    it('lists due schedules: only next_fire_at <= now, not deleted, soonest first, up to the limit', async () => {
      await withFreshStore(async (fresh) => {
        const ws = await fresh.workspaces.create(workspace());
        const other = await fresh.workspaces.create(workspace());
        const live: Scope = { workspaceId: ws.id, livemode: true };
        const at = (offset: number) => T0 + offset;
        const w300 = await fresh.workflows.create(workflow(live, { nextFireAt: at(300) }));
        const w100 = await fresh.workflows.create(workflow({ workspaceId: other.id, livemode: false }, { nextFireAt: at(100) }));
        const w200 = await fresh.workflows.create(workflow(live, { nextFireAt: at(200) }));
        const w500 = await fresh.workflows.create(workflow(live, { nextFireAt: at(500) }));
        await fresh.workflows.create(workflow(live, { nextFireAt: null }));
        const deleted = await fresh.workflows.create(workflow(live, { nextFireAt: at(50) }));
        await fresh.workflows.delete(live, deleted.id, at(60));

        await expect(fresh.workflows.dueSchedules(at(300), 10)).resolves.toEqual([w100, w200, w300]);
        await expect(fresh.workflows.dueSchedules(at(299), 10).then(ids)).resolves.toEqual([w100.id, w200.id]);
        await expect(fresh.workflows.dueSchedules(at(300), 2).then(ids)).resolves.toEqual([w100.id, w200.id]);
        await expect(fresh.workflows.dueSchedules(at(99), 10)).resolves.toEqual([]);
        await expect(fresh.workflows.dueSchedules(at(10_000), 10).then(ids)).resolves.toEqual([w100.id, w200.id, w300.id, w500.id]);

        // Advancing a schedule moves it out of (or later in) the due list.
        await expect(fresh.workflows.advanceSchedule(w100.id, at(100), at(400))).resolves.toBe(true);
        await expect(fresh.workflows.dueSchedules(at(400), 10).then(ids)).resolves.toEqual([w200.id, w300.id, w100.id]);
        await expect(fresh.workflows.advanceSchedule(w200.id, at(200), null)).resolves.toBe(true);
        await expect(fresh.workflows.dueSchedules(at(400), 10).then(ids)).resolves.toEqual([w300.id, w100.id]);

        // A replace racing the delete may set the deleted workflow's schedule again: still not due.
        await fresh.workflows.replace({ ...deleted, version: 2, nextFireAt: at(40), updatedAt: at(70) });
        await expect(fresh.workflows.dueSchedules(at(400), 10).then(ids)).resolves.toEqual([w300.id, w100.id]);
      });
    });

    it('advances a schedule by compare-and-set', async () => {
      const wf = await store.workflows.create(workflow(liveA(), { nextFireAt: T0 + 100 }));
      await expect(store.workflows.advanceSchedule(wf.id, T0 + 100, T0 + 200)).resolves.toBe(true);
      await expect(store.workflows.getById(wf.id)).resolves.toMatchObject({ nextFireAt: T0 + 200 });
      // A second call with the old expected value lost the race.
      await expect(store.workflows.advanceSchedule(wf.id, T0 + 100, T0 + 300)).resolves.toBe(false);
      await expect(store.workflows.getById(wf.id)).resolves.toMatchObject({ nextFireAt: T0 + 200 });
      // To no schedule, after which nothing matches.
      await expect(store.workflows.advanceSchedule(wf.id, T0 + 200, null)).resolves.toBe(true);
      await expect(store.workflows.getById(wf.id)).resolves.toMatchObject({ nextFireAt: null });
      await expect(store.workflows.advanceSchedule(wf.id, T0 + 200, T0 + 400)).resolves.toBe(false);
      await expect(store.workflows.advanceSchedule(newId('wf'), T0, T0 + 1)).resolves.toBe(false);
    });

    it('lets exactly one of many concurrent advances win', async () => {
      const wf = await store.workflows.create(workflow(liveA(), { nextFireAt: T0 + 1_000 }));
      const attempts = Array.from({ length: 5 }, (_, i) => store.workflows.advanceSchedule(wf.id, T0 + 1_000, T0 + 2_000 + i));
      const results = await Promise.all(attempts);
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      await expect(store.workflows.getById(wf.id)).resolves.toMatchObject({ nextFireAt: T0 + 2_000 + winner });
    });
  });

  describe('workflow runs', () => {
    let wf: Workflow;

    beforeAll(async () => {
      wf = await store.workflows.create(workflow(liveA()));
    });

    it('creates a run and gets it back whole, in its own scope only', async () => {
      const run = workflowRun(liveA(), wf.id, {
        status: 'failed',
        mode: 'stream',
        trigger: 'workflow',
        scheduledFor: T0 + 5,
        parentRunId: newId('wfrun'),
        parentStepKey: 'each[2].call',
        input: { text: 'quote " and ✓', n: 1.5, flag: false, none: null, list: [{ a: 1 }] },
        output: ['partial', 2],
        errorCode: 'step_failed',
        errorMessage: 'HTTP 500 from upstream',
        errorStep: 'fetch',
        cancelRequested: true,
        metadata: { source: 'test' },
        startedAt: T0 + 10,
        completedAt: T0 + 20,
        updatedAt: T0 + 20,
      });
      await expect(store.workflowRuns.create(run)).resolves.toEqual(run);
      await expect(store.workflowRuns.get(liveA(), run.id)).resolves.toEqual(run);
      await expect(store.workflowRuns.getById(run.id)).resolves.toEqual(run);
      await expect(store.workflowRuns.get(testA(), run.id)).resolves.toBeUndefined();
      await expect(store.workflowRuns.get(liveB(), run.id)).resolves.toBeUndefined();
      await expect(store.workflowRuns.get(liveA(), newId('wfrun'))).resolves.toBeUndefined();
      await expect(store.workflowRuns.getById(newId('wfrun'))).resolves.toBeUndefined();

      // The plain shape: nulls everywhere, in the test mode.
      const plain = workflowRun(testA(), wf.id);
      await store.workflowRuns.create(plain);
      await expect(store.workflowRuns.get(testA(), plain.id)).resolves.toEqual(plain);
      await expect(store.workflowRuns.get(liveA(), plain.id)).resolves.toBeUndefined();
    });

    it('round-trips JSON inputs: null, strings (even "null"), numbers, arrays', async () => {
      for (const input of [null, 'a string', 'null', '', 0, 42, [1, 'two', null], { deep: { er: [true] } }]) {
        const run = await store.workflowRuns.create(workflowRun(liveA(), wf.id, { input, output: input }));
        const got = await store.workflowRuns.getById(run.id);
        expect(got?.input).toEqual(input);
        expect(got?.output).toEqual(input);
      }
    });

    it('rejects a second run with the same id', async () => {
      const run = await store.workflowRuns.create(workflowRun(liveA(), wf.id));
      await expect(store.workflowRuns.create({ ...run, status: 'running' })).rejects.toThrow();
      await expect(store.workflowRuns.getById(run.id)).resolves.toEqual(run);
    });

    it('lists one workflow\'s runs newest first with cursors, scope and status/trigger filters', async () => {
      const { live, test } = await freshScope();
      const flow = await store.workflows.create(workflow(live));
      const otherFlow = await store.workflows.create(workflow(live));
      const shapes: Array<Pick<WorkflowRun, 'status' | 'trigger'>> = [
        { status: 'completed', trigger: 'api' },
        { status: 'failed', trigger: 'schedule' },
        { status: 'completed', trigger: 'schedule' },
        { status: 'running', trigger: 'api' },
        { status: 'completed', trigger: 'workflow' },
      ];
      const runs: WorkflowRun[] = [];
      for (const shape of shapes) {
        runs.push(await store.workflowRuns.create(workflowRun(live, flow.id, shape)));
        await store.workflowRuns.create(workflowRun(live, otherFlow.id, shape));
        await store.workflowRuns.create(workflowRun(test, flow.id, shape));
        await store.workflowRuns.create(workflowRun(liveB(), flow.id, shape));
      }
      const [r0, r1, r2, r3, r4] = ids(runs) as [string, string, string, string, string];
      const list = async (page: PageRequest, filter: { status?: WorkflowRun['status']; trigger?: WorkflowRun['trigger'] } = {}) => {
        const result = await store.workflowRuns.list(live, { workflowId: flow.id, ...filter }, page);
        return { ids: ids(result.data), hasMore: result.hasMore };
      };

      await expect(store.workflowRuns.list(live, { workflowId: flow.id }, { limit: 10 })).resolves.toEqual({
        data: [...runs].reverse(),
        hasMore: false,
      });
      await expect(list({ limit: 2 })).resolves.toEqual({ ids: [r4, r3], hasMore: true });
      await expect(list({ limit: 2, after: r3 })).resolves.toEqual({ ids: [r2, r1], hasMore: true });
      await expect(list({ limit: 2, after: r1 })).resolves.toEqual({ ids: [r0], hasMore: false });
      await expect(list({ limit: 2, before: r0 })).resolves.toEqual({ ids: [r2, r1], hasMore: true });
      await expect(list({ limit: 2, before: r2 })).resolves.toEqual({ ids: [r4, r3], hasMore: false });
      await expect(list({ limit: 2, before: r4 })).resolves.toEqual({ ids: [], hasMore: false });

      // Filters.
      await expect(list({ limit: 10 }, { status: 'completed' })).resolves.toEqual({ ids: [r4, r2, r0], hasMore: false });
      await expect(list({ limit: 1 }, { status: 'completed' })).resolves.toEqual({ ids: [r4], hasMore: true });
      await expect(list({ limit: 1, after: r4 }, { status: 'completed' })).resolves.toEqual({ ids: [r2], hasMore: true });
      await expect(list({ limit: 10, before: r0 }, { status: 'completed' })).resolves.toEqual({ ids: [r4, r2], hasMore: false });
      await expect(list({ limit: 10 }, { trigger: 'schedule' })).resolves.toEqual({ ids: [r2, r1], hasMore: false });
      await expect(list({ limit: 10 }, { trigger: 'api' })).resolves.toEqual({ ids: [r3, r0], hasMore: false });
      await expect(list({ limit: 10 }, { status: 'completed', trigger: 'schedule' })).resolves.toEqual({ ids: [r2], hasMore: false });
      await expect(list({ limit: 10 }, { status: 'cancelled' })).resolves.toEqual({ ids: [], hasMore: false });

      // Each scope and workflow sees only its own.
      const testRuns = await store.workflowRuns.list(test, { workflowId: flow.id }, { limit: 10 });
      expect(testRuns.data).toHaveLength(5);
      expect(testRuns.data.every((r) => !r.scope.livemode && r.workflowId === flow.id)).toBe(true);
      const otherRuns = await store.workflowRuns.list(live, { workflowId: otherFlow.id }, { limit: 10 });
      expect(otherRuns.data).toHaveLength(5);
      expect(otherRuns.data.every((r) => r.workflowId === otherFlow.id)).toBe(true);
      await expect(store.workflowRuns.list(live, { workflowId: newId('wf') }, { limit: 10 })).resolves.toEqual({ data: [], hasMore: false });
    });

    it('saves a run without touching its lease or cancel flag', async () => {
      const run = await store.workflowRuns.create(workflowRun(liveA(), wf.id));
      await expect(store.workflowRuns.claim(run.id, 'engine-1', T0 + 30_000, T0)).resolves.toBe(true);
      await store.workflowRuns.requestCancel(run.id, T0 + 5);

      const running: WorkflowRun = {
        ...run,
        status: 'running',
        output: { progress: 0.5 },
        metadata: { attempt: '1' },
        startedAt: T0 + 10,
        updatedAt: T0 + 10,
      };
      // The caller's copy says cancelRequested: false; the stored flag must survive.
      expect(running.cancelRequested).toBe(false);
      await expect(store.workflowRuns.save(running)).resolves.toBe(true);
      await expect(store.workflowRuns.getById(run.id)).resolves.toEqual({ ...running, cancelRequested: true });
      await expect(store.workflowRuns.leaseUntil(run.id)).resolves.toBe(T0 + 30_000);
      // The lease is still engine-1's.
      await expect(store.workflowRuns.renew(run.id, 'engine-1', T0 + 40_000)).resolves.toEqual({ cancelRequested: true });

      const failed: WorkflowRun = {
        ...running,
        status: 'failed',
        output: null,
        errorCode: 'step_failed',
        errorMessage: 'boom',
        errorStep: 'fetch',
        completedAt: T0 + 20,
        updatedAt: T0 + 20,
      };
      await expect(store.workflowRuns.save(failed)).resolves.toBe(true);
      await expect(store.workflowRuns.get(liveA(), run.id)).resolves.toEqual({ ...failed, cancelRequested: true });

      // And back: errors cleared to null are stored as null.
      const cleared: WorkflowRun = { ...failed, status: 'completed', errorCode: null, errorMessage: null, errorStep: null, output: 'done' };
      await expect(store.workflowRuns.save(cleared)).resolves.toBe(true);
      await expect(store.workflowRuns.getById(run.id)).resolves.toEqual({ ...cleared, cancelRequested: true });
      await expect(store.workflowRuns.leaseUntil(run.id)).resolves.toBe(T0 + 40_000);

      await expect(store.workflowRuns.save(workflowRun(liveA(), wf.id))).resolves.toBe(false);
    });

    it('saves with expectStatus only while the status is still one of those', async () => {
      const run = await store.workflowRuns.create(workflowRun(liveA(), wf.id, { status: 'running' }));
      const completed: WorkflowRun = { ...run, status: 'completed', completedAt: T0 + 9, updatedAt: T0 + 9 };
      await expect(store.workflowRuns.save(completed, ['queued'])).resolves.toBe(false);
      await expect(store.workflowRuns.getById(run.id)).resolves.toEqual(run);
      await expect(store.workflowRuns.save(completed, ['queued', 'running', 'waiting'])).resolves.toBe(true);
      await expect(store.workflowRuns.getById(run.id)).resolves.toEqual(completed);
      // A terminal run cannot be moved on by an engine that expected it active.
      const cancelled: WorkflowRun = { ...completed, status: 'cancelled', updatedAt: T0 + 10 };
      await expect(store.workflowRuns.save(cancelled, ['running'])).resolves.toBe(false);
      await expect(store.workflowRuns.getById(run.id)).resolves.toEqual(completed);
      await expect(store.workflowRuns.save(workflowRun(liveA(), wf.id), ['queued'])).resolves.toBe(false);
      // No status expected: nothing matches.
      await expect(store.workflowRuns.save({ ...completed, status: 'failed' }, [])).resolves.toBe(false);
      await expect(store.workflowRuns.getById(run.id)).resolves.toEqual(completed);
    });

    it('lets exactly one of many concurrent guarded saves win', async () => {
      const run = await store.workflowRuns.create(workflowRun(liveA(), wf.id, { status: 'running' }));
      const statuses = ['completed', 'failed', 'cancelled', 'completed', 'failed'] as const;
      const results = await Promise.all(statuses.map((status) => store.workflowRuns.save({ ...run, status }, ['running'])));
      expect(results.filter(Boolean)).toHaveLength(1);
      await expect(store.workflowRuns.getById(run.id)).resolves.toMatchObject({ status: statuses[results.indexOf(true)] });
    });

    it('requests cancellation', async () => {
      const run = await store.workflowRuns.create(workflowRun(liveA(), wf.id, { status: 'running' }));
      await store.workflowRuns.requestCancel(run.id, T0 + 7);
      await expect(store.workflowRuns.getById(run.id)).resolves.toMatchObject({ cancelRequested: true, status: 'running' });
      // Idempotent, and harmless for an unknown run.
      await store.workflowRuns.requestCancel(run.id, T0 + 8);
      await expect(store.workflowRuns.getById(run.id)).resolves.toMatchObject({ cancelRequested: true });
      await expect(store.workflowRuns.requestCancel(newId('wfrun'), T0)).resolves.toBeUndefined();
    });

    it('counts queued, running and waiting runs of one workflow as active', async () => {
      const flow = await store.workflows.create(workflow(liveA()));
      const other = await store.workflows.create(workflow(liveA()));
      await expect(store.workflowRuns.countActive(flow.id)).resolves.toBe(0);
      const byStatus = new Map<WorkflowRun['status'], WorkflowRun>();
      for (const status of ['queued', 'running', 'waiting', 'completed', 'failed', 'cancelled'] as const) {
        byStatus.set(status, await store.workflowRuns.create(workflowRun(liveA(), flow.id, { status })));
        await store.workflowRuns.create(workflowRun(liveA(), other.id, { status: 'running' }));
      }
      // Runs of the workflow in the other mode count too: the limit is per workflow.
      await store.workflowRuns.create(workflowRun(testA(), flow.id, { status: 'waiting' }));
      await expect(store.workflowRuns.countActive(flow.id)).resolves.toBe(4);
      await expect(store.workflowRuns.countActive(other.id)).resolves.toBe(6);

      await store.workflowRuns.save({ ...byStatus.get('running')!, status: 'completed' });
      await expect(store.workflowRuns.countActive(flow.id)).resolves.toBe(3);
      await store.workflowRuns.save({ ...byStatus.get('failed')!, status: 'queued' });
      await expect(store.workflowRuns.countActive(flow.id)).resolves.toBe(4);
      await expect(store.workflowRuns.countActive(newId('wf'))).resolves.toBe(0);
    });

    it('claims, renews and releases the execution lease', async () => {
      const run = await store.workflowRuns.create(workflowRun(liveA(), wf.id));
      const runs = store.workflowRuns;
      await expect(runs.leaseUntil(run.id)).resolves.toBeNull();

      // Free: claimed.
      await expect(runs.claim(run.id, 'a', T0 + 1_000, T0)).resolves.toBe(true);
      await expect(runs.leaseUntil(run.id)).resolves.toBe(T0 + 1_000);
      // Another owner while it is unexpired (and at its very end): refused.
      await expect(runs.claim(run.id, 'b', T0 + 2_000, T0 + 900)).resolves.toBe(false);
      await expect(runs.claim(run.id, 'b', T0 + 2_000, T0 + 1_000)).resolves.toBe(false);
      await expect(runs.leaseUntil(run.id)).resolves.toBe(T0 + 1_000);
      // The same owner re-claims.
      await expect(runs.claim(run.id, 'a', T0 + 1_500, T0 + 900)).resolves.toBe(true);
      await expect(runs.leaseUntil(run.id)).resolves.toBe(T0 + 1_500);

      // Renew: not by another owner; by the owner, reporting the cancel flag.
      await expect(runs.renew(run.id, 'b', T0 + 9_000)).resolves.toBeUndefined();
      await expect(runs.leaseUntil(run.id)).resolves.toBe(T0 + 1_500);
      await expect(runs.renew(run.id, 'a', T0 + 3_000)).resolves.toEqual({ cancelRequested: false });
      await expect(runs.leaseUntil(run.id)).resolves.toBe(T0 + 3_000);
      await runs.requestCancel(run.id, T0 + 100);
      await expect(runs.renew(run.id, 'a', T0 + 3_000)).resolves.toEqual({ cancelRequested: true });

      // Expired: another owner takes it over, and the old owner has lost it.
      await expect(runs.claim(run.id, 'b', T0 + 5_000, T0 + 3_001)).resolves.toBe(true);
      await expect(runs.leaseUntil(run.id)).resolves.toBe(T0 + 5_000);
      await expect(runs.renew(run.id, 'a', T0 + 9_000)).resolves.toBeUndefined();
      await expect(runs.claim(run.id, 'a', T0 + 6_000, T0 + 4_000)).resolves.toBe(false);
      // Release by a non-owner does nothing.
      await runs.release(run.id, 'a');
      await expect(runs.leaseUntil(run.id)).resolves.toBe(T0 + 5_000);
      await expect(runs.renew(run.id, 'b', T0 + 5_500)).resolves.toEqual({ cancelRequested: true });
      // Release by the owner frees it for anyone, at any time.
      await runs.release(run.id, 'b');
      await expect(runs.leaseUntil(run.id)).resolves.toBeNull();
      await expect(runs.renew(run.id, 'b', T0 + 9_000)).resolves.toBeUndefined();
      await expect(runs.claim(run.id, 'a', T0 + 7_000, T0)).resolves.toBe(true);
      await expect(runs.leaseUntil(run.id)).resolves.toBe(T0 + 7_000);

      // The lease does not show in the run, and the run's other columns are untouched.
      await expect(runs.getById(run.id)).resolves.toEqual({ ...run, cancelRequested: true, updatedAt: expect.any(Number) });

      // Unknown runs.
      const unknown = newId('wfrun');
      await expect(runs.claim(unknown, 'a', T0 + 1, T0)).resolves.toBe(false);
      await expect(runs.renew(unknown, 'a', T0 + 1)).resolves.toBeUndefined();
      await expect(runs.release(unknown, 'a')).resolves.toBeUndefined();
      await expect(runs.leaseUntil(unknown)).resolves.toBeNull();
    });

    it('hands a free lease to exactly one of many concurrent claimers', async () => {
      const run = await store.workflowRuns.create(workflowRun(liveA(), wf.id));
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => store.workflowRuns.claim(run.id, `owner-${i}`, T0 + 1_000 + i, T0)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      await expect(store.workflowRuns.leaseUntil(run.id)).resolves.toBe(T0 + 1_000 + winner);
      await expect(store.workflowRuns.renew(run.id, `owner-${winner}`, T0 + 2_000)).resolves.toEqual({ cancelRequested: false });
    });

    it('inserts and upserts step state, listed by position then key', async () => {
      const run = await store.workflowRuns.create(workflowRun(liveA(), wf.id, { status: 'running' }));
      const other = await store.workflowRuns.create(workflowRun(liveA(), wf.id, { status: 'running' }));
      const fetch = step(run.id, 'fetch', { position: 1, type: 'http', status: 'running', input: { url: 'https://x' }, startedAt: T0 + 1, attempts: 1 });
      const each1 = step(run.id, 'each[1].fetch', { stepId: 'fetch', position: 2, status: 'pending' });
      const each0 = step(run.id, 'each[0].fetch', { stepId: 'fetch', position: 2, status: 'pending' });
      const start = step(run.id, 'start', { position: 0, type: 'transform', status: 'succeeded', output: 'ok', completedAt: T0 });
      const wait = step(run.id, 'wait', { position: 3, type: 'delay', status: 'waiting', wakeAt: T0 + 86_400_000 });
      for (const s of [wait, each1, fetch, start, each0]) await store.workflowRuns.saveStep(s);
      await store.workflowRuns.saveStep(step(other.id, 'fetch', { position: 1 }));

      await expect(store.workflowRuns.steps(run.id)).resolves.toEqual([start, fetch, each0, each1, wait]);

      // Upsert: every changed column is replaced, nulls included, no row is added.
      const failed: WorkflowStepState = {
        ...fetch,
        status: 'failed',
        output: { status: 500, body: 'oops' },
        state: { retries: [T0 + 2, T0 + 3] },
        errorCode: 'http_error',
        errorMessage: 'HTTP 500',
        attempts: 3,
        wakeAt: T0 + 500,
        completedAt: T0 + 4,
        updatedAt: T0 + 4,
      };
      await store.workflowRuns.saveStep(failed);
      await expect(store.workflowRuns.steps(run.id)).resolves.toEqual([start, failed, each0, each1, wait]);
      const retried: WorkflowStepState = {
        ...failed,
        status: 'succeeded',
        input: null,
        output: 'plain text',
        state: {},
        errorCode: null,
        errorMessage: null,
        attempts: 4,
        wakeAt: null,
        updatedAt: T0 + 6,
      };
      await store.workflowRuns.saveStep(retried);
      await expect(store.workflowRuns.steps(run.id)).resolves.toEqual([start, retried, each0, each1, wait]);

      // The other run's steps are its own; an unknown run has none.
      await expect(store.workflowRuns.steps(other.id)).resolves.toEqual([step(other.id, 'fetch', { position: 1 })]);
      await expect(store.workflowRuns.steps(newId('wfrun'))).resolves.toEqual([]);
    });

    it('round-trips step JSON values: null, objects, strings (even "null"), numbers', async () => {
      const run = await store.workflowRuns.create(workflowRun(liveA(), wf.id));
      const values: unknown[] = [null, { a: { b: [1, null, 'c'] } }, 'a string', 'null', '', 0, -1.25, true, [], ['x', { y: 'z' }]];
      const saved = values.map((value, i) =>
        step(run.id, `k${String(i).padStart(2, '0')}`, { position: i, input: value, output: value, state: { value } }),
      );
      for (const s of saved) await store.workflowRuns.saveStep(s);
      const got = await store.workflowRuns.steps(run.id);
      expect(got).toEqual(saved);
      for (const [i, s] of got.entries()) {
        expect(s.input).toStrictEqual(values[i]);
        expect(s.output).toStrictEqual(values[i]);
      }
    });

    it('rejects a step of a run that does not exist', async () => {
      const runId = newId('wfrun');
      await expect(store.workflowRuns.saveStep(step(runId, 'fetch'))).rejects.toThrow();
      await expect(store.workflowRuns.steps(runId)).resolves.toEqual([]);
    });

    it('appends events and reads them in seq order after a seq, up to a limit', async () => {
      const run = await store.workflowRuns.create(workflowRun(liveA(), wf.id));
      const other = await store.workflowRuns.create(workflowRun(liveA(), wf.id));
      await expect(store.workflowRunEvents.lastEventSeq(run.id)).resolves.toBe(0);
      const e = [1, 2, 3, 4, 5].map((seq) => event(run.id, seq));
      // Appended out of order: read back in seq order.
      for (const i of [0, 2, 1, 4, 3]) await store.workflowRunEvents.appendEvent(e[i]!);
      await store.workflowRunEvents.appendEvent(event(other.id, 1, { type: 'run.started', data: {} }));

      await expect(store.workflowRunEvents.events(run.id, 0, 100)).resolves.toEqual(e);
      await expect(store.workflowRunEvents.events(run.id, 2, 100)).resolves.toEqual(e.slice(2));
      await expect(store.workflowRunEvents.events(run.id, 0, 2)).resolves.toEqual(e.slice(0, 2));
      await expect(store.workflowRunEvents.events(run.id, 2, 2)).resolves.toEqual(e.slice(2, 4));
      await expect(store.workflowRunEvents.events(run.id, 5, 100)).resolves.toEqual([]);
      await expect(store.workflowRunEvents.events(other.id, 0, 100)).resolves.toEqual([event(other.id, 1, { type: 'run.started', data: {} })]);
      await expect(store.workflowRunEvents.events(newId('wfrun'), 0, 100)).resolves.toEqual([]);
      await expect(store.workflowRunEvents.lastEventSeq(run.id)).resolves.toBe(5);
      await expect(store.workflowRunEvents.lastEventSeq(other.id)).resolves.toBe(1);
      await expect(store.workflowRunEvents.lastEventSeq(newId('wfrun'))).resolves.toBe(0);

      // A duplicate seq is rejected and changes nothing.
      await expect(store.workflowRunEvents.appendEvent(event(run.id, 3, { type: 'dup', data: { dup: true } }))).rejects.toThrow();
      await expect(store.workflowRunEvents.events(run.id, 2, 1)).resolves.toEqual([e[2]]);
      // An event of a run that does not exist is rejected.
      await expect(store.workflowRunEvents.appendEvent(event(newId('wfrun'), 1))).rejects.toThrow();
    });

    it('records a schedule fire once per (workflow, due time)', async () => {
      const flow = await store.workflows.create(workflow(liveA(), { nextFireAt: T0 }));
      const other = await store.workflows.create(workflow(liveA(), { nextFireAt: T0 }));
      await expect(store.workflowRuns.recordFire(flow.id, T0, newId('wfrun'), T0 + 1)).resolves.toBe(true);
      await expect(store.workflowRuns.recordFire(flow.id, T0, newId('wfrun'), T0 + 2)).resolves.toBe(false);
      await expect(store.workflowRuns.recordFire(flow.id, T0 + 60_000, newId('wfrun'), T0 + 60_001)).resolves.toBe(true);
      await expect(store.workflowRuns.recordFire(other.id, T0, newId('wfrun'), T0 + 1)).resolves.toBe(true);
      await expect(store.workflowRuns.recordFire(flow.id, T0 + 60_000, newId('wfrun'), T0 + 60_002)).resolves.toBe(false);
      // A fire of a workflow that does not exist is rejected.
      await expect(store.workflowRuns.recordFire(newId('wf'), T0, newId('wfrun'), T0)).rejects.toThrow();
    });

    it('records a due time for exactly one of many concurrent fires', async () => {
      const flow = await store.workflows.create(workflow(liveA(), { nextFireAt: T0 }));
      for (const dueAt of [T0 + 1_000, T0 + 2_000, T0 + 3_000]) {
        // Separate promises, started together: concurrent on PostgreSQL's pool, serialized on SQLite.
        const fires: Array<Promise<boolean>> = [];
        for (let i = 0; i < 5; i++) fires.push(store.workflowRuns.recordFire(flow.id, dueAt, newId('wfrun'), dueAt + i));
        const results = await Promise.all(fires);
        expect(results.filter(Boolean)).toHaveLength(1);
      }
    });

    it('records a due time once across two store instances firing at once', async () => {
      const location = sharedLocation(backend.name);
      const first = await location.open();
      const second = await location.open();
      try {
        const ws = await first.workspaces.create(workspace());
        const flow = await first.workflows.create(workflow({ workspaceId: ws.id, livemode: true }, { nextFireAt: T0 }));
        for (let round = 0; round < 5; round++) {
          const dueAt = T0 + round * 60_000;
          const results = await Promise.all(
            Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? first : second).workflowRuns.recordFire(flow.id, dueAt, newId('wfrun'), dueAt)),
          );
          expect(results.filter(Boolean)).toHaveLength(1);
        }
      } finally {
        await first.close();
        await second.close();
        await location.dispose();
      }
    });
  });

  describe('transactions', () => {
    it('rolls back a run and its step created in a transaction that throws', async () => {
      const flow = await store.workflows.create(workflow(liveA()));
      const run = workflowRun(liveA(), flow.id);
      const s = step(run.id, 'fetch', { status: 'running' });
      const e = event(run.id, 1);
      const failure = new Error('boom');
      await expect(
        store.transaction(async (tx) => {
          await tx.workflowRuns.create(run);
          await tx.workflowRuns.saveStep(s);
          await tx.workflowRunEvents.appendEvent(e);
          await tx.workflowRuns.recordFire(flow.id, T0, run.id, T0);
          await tx.workflows.replace({ ...flow, version: 2, definition: { in: 'tx' } });
          // Visible inside the transaction.
          await expect(tx.workflowRuns.getById(run.id)).resolves.toEqual(run);
          await expect(tx.workflowRuns.steps(run.id)).resolves.toEqual([s]);
          throw failure;
        }),
      ).rejects.toBe(failure);

      await expect(store.workflowRuns.getById(run.id)).resolves.toBeUndefined();
      await expect(store.workflowRuns.steps(run.id)).resolves.toEqual([]);
      await expect(store.workflowRunEvents.events(run.id, 0, 10)).resolves.toEqual([]);
      await expect(store.workflows.getVersion(flow.id, 2)).resolves.toBeUndefined();
      await expect(store.workflows.getById(flow.id)).resolves.toEqual(flow);
      // The fire was rolled back too: the due time can still fire.
      await expect(store.workflowRuns.recordFire(flow.id, T0, newId('wfrun'), T0)).resolves.toBe(true);
    });

    it('commits a run, its step and a workflow together', async () => {
      const ws = workspace();
      const scope: Scope = { workspaceId: ws.id, livemode: true };
      const flow = workflow(scope);
      const run = workflowRun(scope, flow.id);
      const s = step(run.id, 'fetch');
      await store.transaction(async (tx) => {
        await tx.workspaces.create(ws);
        await tx.workflows.create(flow);
        await tx.workflowRuns.create(run);
        await tx.workflowRuns.saveStep(s);
      });
      await expect(store.workflows.get(scope, flow.id)).resolves.toEqual(flow);
      await expect(store.workflowRuns.get(scope, run.id)).resolves.toEqual(run);
      await expect(store.workflowRuns.steps(run.id)).resolves.toEqual([s]);
    });
  });
});
