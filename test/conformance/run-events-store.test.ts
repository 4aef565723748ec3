/**
 * Storage conformance for run event logs: every operation of RunEventRepo (src/store/run-port.ts)
 * on the log of each kind of run (agent runs and workflow runs keep one each, with the same
 * contract), run against every backend in `storeBackends`, with real rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idMadeAt, newId } from '../../src/ids.js';
import type { Repos, RunEventRepo, Scope, Store } from '../../src/store/port.js';
import { storeBackends, type StoreHandle } from '../support/services.js';
import { run, runEvent, T0, withFreshStore, workflow, workflowRun, workspace } from '../support/store-fixtures.js';

interface RunKind {
  name: string;
  prefix: 'run' | 'wfrun';
  log(repos: Repos): RunEventRepo;
  /** Creates a run of this kind in the scope, with this id when given; its id. */
  createRun(repos: Repos, scope: Scope, id?: string): Promise<string>;
}

const kinds: RunKind[] = [
  {
    name: 'agent runs',
    prefix: 'run',
    log: (repos) => repos.runEvents,
    createRun: async (repos, scope, id = newId('run')) => (await repos.runs.create(run(scope, newId('agent'), { id }))).id,
  },
  {
    name: 'workflow runs',
    prefix: 'wfrun',
    log: (repos) => repos.workflowRunEvents,
    async createRun(repos, scope, id = newId('wfrun')) {
      const flow = await repos.workflows.create(workflow(scope));
      return (await repos.workflowRuns.create(workflowRun(scope, flow.id, { id }))).id;
    },
  },
];

describe.each(storeBackends)('run event log conformance: $name', (backend) => {
  let handle: StoreHandle;
  let store: Store;
  let scope: Scope;

  beforeAll(async () => {
    handle = await backend.open();
    store = handle.store;
    const ws = await store.workspaces.create(workspace());
    scope = { workspaceId: ws.id, livemode: true };
  });

  afterAll(async () => {
    await handle?.dispose();
  });

  describe.each(kinds)('$name', (kind) => {
    const log = () => kind.log(store);

    it('appends events and reads them in seq order after a seq, up to a limit', async () => {
      const runId = await kind.createRun(store, scope);
      const other = await kind.createRun(store, scope);
      await expect(log().lastEventSeq(runId)).resolves.toBe(0);
      await expect(log().events(runId, 0, 100)).resolves.toEqual([]);
      const e = [1, 2, 3, 4, 5].map((seq) => runEvent(runId, seq));
      // Appended out of order: read back in seq order.
      for (const i of [0, 2, 1, 4, 3]) await log().appendEvent(e[i]!);
      const otherEvent = runEvent(other, 1, { type: 'run.created', data: {} });
      await log().appendEvent(otherEvent);

      await expect(log().events(runId, 0, 100)).resolves.toEqual(e);
      await expect(log().events(runId, 2, 100)).resolves.toEqual(e.slice(2));
      await expect(log().events(runId, 0, 2)).resolves.toEqual(e.slice(0, 2));
      await expect(log().events(runId, 2, 2)).resolves.toEqual(e.slice(2, 4));
      await expect(log().events(runId, 5, 100)).resolves.toEqual([]);
      await expect(log().events(other, 0, 100)).resolves.toEqual([otherEvent]);
      await expect(log().events(newId(kind.prefix), 0, 100)).resolves.toEqual([]);
      await expect(log().lastEventSeq(runId)).resolves.toBe(5);
      await expect(log().lastEventSeq(other)).resolves.toBe(1);
      await expect(log().lastEventSeq(newId(kind.prefix))).resolves.toBe(0);
    });

    it('round-trips event data: unicode, nesting, empty objects', async () => {
      const runId = await kind.createRun(store, scope);
      const events = [
        runEvent(runId, 1, { data: {} }),
        runEvent(runId, 2, { type: 'run.completed', data: { text: 'quote " and ✓ and ünïcode', n: -1.25, list: [{ a: [null, true] }], empty: '' } }),
      ];
      await log().appendEvents(events);
      await expect(log().events(runId, 0, 10)).resolves.toEqual(events);
    });

    it('refuses a sequence number the run already has, and an event of a run that does not exist', async () => {
      const runId = await kind.createRun(store, scope);
      const first = runEvent(runId, 1);
      await log().appendEvent(first);
      await expect(log().appendEvent(runEvent(runId, 1, { type: 'dup', data: { dup: true } }))).rejects.toThrow();
      await expect(log().appendEvents([runEvent(runId, 1, { type: 'dup' })])).rejects.toThrow();
      await expect(log().events(runId, 0, 10)).resolves.toEqual([first]);
      await expect(log().appendEvent(runEvent(newId(kind.prefix), 1))).rejects.toThrow();
      await expect(log().appendEvents([runEvent(newId(kind.prefix), 1)])).rejects.toThrow();
    });

    it('appends a burst of events across statement batches; an empty burst is a no-op', async () => {
      const runId = await kind.createRun(store, scope);
      const burst = Array.from({ length: 450 }, (_, i) => runEvent(runId, i + 1));
      await expect(log().appendEvents(burst)).resolves.toBeUndefined();
      await expect(log().appendEvents([])).resolves.toBeUndefined();
      await expect(log().lastEventSeq(runId)).resolves.toBe(450);
      await expect(log().events(runId, 0, 1000)).resolves.toEqual(burst);
      await expect(log().events(runId, 199, 3)).resolves.toEqual(burst.slice(199, 202));
      // Single appends go on after a burst.
      await log().appendEvent(runEvent(runId, 451));
      await expect(log().lastEventSeq(runId)).resolves.toBe(451);
    });

    it('purges up to a limit of events of runs created before a time (by their ids), oldest runs first', async () => {
      await withFreshStore(backend.open, async (fresh) => {
        const ws = await fresh.workspaces.create(workspace());
        const own: Scope = { workspaceId: ws.id, livemode: false };
        const old1 = await kind.createRun(fresh, own, idMadeAt(kind.prefix, T0 - 60_000));
        const old2 = await kind.createRun(fresh, own, idMadeAt(kind.prefix, T0 - 30_000));
        const recent = await kind.createRun(fresh, own, idMadeAt(kind.prefix, T0));
        for (const runId of [old2, old1]) await kind.log(fresh).appendEvents([1, 2, 3].map((seq) => runEvent(runId, seq)));
        await kind.log(fresh).appendEvents([1, 2].map((seq) => runEvent(recent, seq)));

        await expect(kind.log(fresh).purge(T0 - 1_000, 4)).resolves.toBe(4);
        await expect(kind.log(fresh).events(old1, 0, 10)).resolves.toEqual([]);
        await expect(kind.log(fresh).events(old2, 0, 10)).resolves.toEqual([runEvent(old2, 2), runEvent(old2, 3)]);
        await expect(kind.log(fresh).purge(T0 - 1_000, 4)).resolves.toBe(2);
        await expect(kind.log(fresh).purge(T0 - 1_000, 4)).resolves.toBe(0);
        await expect(kind.log(fresh).lastEventSeq(old2)).resolves.toBe(0);
        await expect(kind.log(fresh).events(recent, 0, 10)).resolves.toEqual([runEvent(recent, 1), runEvent(recent, 2)]);
        // The other kind of run's log is another table: untouched.
        const otherKind = kinds.find((k) => k !== kind)!;
        const otherRun = await otherKind.createRun(fresh, own, idMadeAt(otherKind.prefix, T0 - 60_000));
        await otherKind.log(fresh).appendEvent(runEvent(otherRun, 1));
        await expect(kind.log(fresh).purge(T0, 10)).resolves.toBe(0);
        await expect(otherKind.log(fresh).lastEventSeq(otherRun)).resolves.toBe(1);
      });
    });

    it('writes events with the transaction: gone when it rolls back, kept when it commits', async () => {
      const failure = new Error('boom');
      let lostRun = '';
      await expect(
        store.transaction(async (tx) => {
          lostRun = await kind.createRun(tx, scope);
          await kind.log(tx).appendEvent(runEvent(lostRun, 1));
          await kind.log(tx).appendEvents([runEvent(lostRun, 2), runEvent(lostRun, 3)]);
          await expect(kind.log(tx).lastEventSeq(lostRun)).resolves.toBe(3);
          throw failure;
        }),
      ).rejects.toBe(failure);
      await expect(log().events(lostRun, 0, 10)).resolves.toEqual([]);

      const runId = await kind.createRun(store, scope);
      await store.transaction(async (tx) => {
        await kind.log(tx).appendEvents([runEvent(runId, 1), runEvent(runId, 2)]);
      });
      await expect(log().lastEventSeq(runId)).resolves.toBe(2);
    });
  });
});
