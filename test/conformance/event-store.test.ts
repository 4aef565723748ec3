/**
 * Storage conformance for events: every operation of EventRepo (src/store/event-port.ts), and
 * events written in the transaction of the change they report, on every backend in
 * `storeBackends`, with real rows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { idMadeAt } from '../../src/ids.js';
import { recordEvents } from '../../src/events/events.js';
import type { Scope, Store, StoredEvent } from '../../src/store/port.js';
import { storeBackends } from '../support/services.js';
import { T0, workspace, storeWithTwoScopes } from '../support/store-fixtures.js';

const MINUTE = 60_000;

function event(scope: Scope, at: number, overrides: Partial<StoredEvent> = {}): StoredEvent {
  const objectId = idMadeAt('run', at);
  return {
    id: idMadeAt('evt', at), scope, type: 'agent.run.completed', createdAt: at, requestId: idMadeAt('req', at), objectId, relatedId: 'agent_x',
    payload: { object: { id: objectId, object: 'run', status: 'completed', usage: { total_tokens: 2 ** 40 } }, previous_attributes: { status: 'running' } },
    ...overrides,
  };
}

describe.each(storeBackends)('event store conformance: $name', (backend) => {
  let store: Store;
  let scope: Scope;
  let other: Scope;
  const opened = storeWithTwoScopes(backend);
  beforeAll(() => ({ store, scope, other } = opened));

  it('keeps every field, reads an event only in its own scope, and lists newest first with cursors both ways', async () => {
    const made = [0, 1, 2, 3, 4].map((i) => event(scope, T0 + i * MINUTE));
    await store.events.insert(made);
    await store.events.insert([event(other, T0 + 2 * MINUTE), event({ ...scope, livemode: true }, T0 + 2 * MINUTE)]);

    await expect(store.events.get(scope, made[2]!.id)).resolves.toEqual(made[2]);
    await expect(store.events.get(other, made[2]!.id)).resolves.toBeUndefined();

    const first = await store.events.list(scope, {}, { limit: 2 });
    expect(first.data.map((e) => e.id)).toEqual([made[4]!.id, made[3]!.id]);
    expect(first.hasMore).toBe(true);
    const second = await store.events.list(scope, {}, { limit: 10, after: made[3]!.id });
    expect(second.data.map((e) => e.id)).toEqual([made[2]!.id, made[1]!.id, made[0]!.id]);
    expect(second.hasMore).toBe(false);
    const back = await store.events.list(scope, {}, { limit: 2, before: made[1]!.id });
    expect(back.data.map((e) => e.id)).toEqual([made[3]!.id, made[2]!.id]);
  });

  it('filters by exact type or type prefix, by created time, and by the object or the object it belongs to', async () => {
    const s = { workspaceId: (await store.workspaces.create(workspace())).id, livemode: false };
    const completed = event(s, T0 + MINUTE, { type: 'agent.run.completed' });
    const failed = event(s, T0 + 2 * MINUTE, { type: 'agent.run.failed' });
    const key = event(s, T0 + 3 * MINUTE, { type: 'api_key.created', objectId: 'key_1', relatedId: null });
    // An underscore in a prefix is matched as itself, never as "any character".
    const lookalike = event(s, T0 + 4 * MINUTE, { type: 'apiXkey.created', objectId: 'key_2', relatedId: null });
    await store.events.insert([completed, failed, key, lookalike]);
    const ids = async (filter: Parameters<Store['events']['list']>[1]) => (await store.events.list(s, filter, { limit: 10 })).data.map((e) => e.id);

    expect(await ids({ types: [{ exact: 'agent.run.failed' }] })).toEqual([failed.id]);
    expect(await ids({ types: [{ prefix: 'agent.run.' }] })).toEqual([failed.id, completed.id]);
    expect(await ids({ types: [{ prefix: 'api_key.' }, { exact: 'agent.run.completed' }] })).toEqual([key.id, completed.id]);
    expect(await ids({ createdFrom: T0 + 2 * MINUTE, createdTo: T0 + 3 * MINUTE })).toEqual([failed.id]);
    expect(await ids({ objectId: 'key_1' })).toEqual([key.id]);
    expect(await ids({ objectId: 'agent_x' })).toEqual([failed.id, completed.id]);
    expect(await ids({ objectId: completed.objectId })).toEqual([completed.id]);
  });

  it('writes events with the change they report: none when the transaction rolls back', async () => {
    const s = { workspaceId: (await store.workspaces.create(workspace())).id, livemode: false };
    const object = { id: 'key_rolled_back', object: 'api_key' };
    await expect(store.transaction(async (tx) => {
      await recordEvents(tx, s, [{ type: 'api_key.created', object }]);
      throw new Error('the change fails');
    })).rejects.toThrow('the change fails');
    expect((await store.events.list(s, {}, { limit: 10 })).data).toEqual([]);

    const [written] = await store.transaction((tx) => recordEvents(tx, s, [{ type: 'api_key.created', object, requestId: 'req_1' }], T0));
    await expect(store.events.get(s, written!.id)).resolves.toMatchObject({ type: 'api_key.created', requestId: 'req_1', objectId: object.id, payload: { object } });
  });

  it('purges events created before a time, in batches', async () => {
    const s = { workspaceId: (await store.workspaces.create(workspace())).id, livemode: false };
    const old = [1, 2, 3].map((i) => event(s, T0 - 100 * MINUTE + i));
    const recent = event(s, T0 + 100 * MINUTE);
    await store.events.insert([...old, recent]);
    let purged = 0;
    for (let n = -1; n !== 0; purged += n) n = await store.events.purge(T0 - 50 * MINUTE, 2);
    expect(purged).toBe(3);
    expect((await store.events.list(s, {}, { limit: 10 })).data.map((e) => e.id)).toEqual([recent.id]);
  });
});
