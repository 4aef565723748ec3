/**
 * Storage conformance for agents: every operation of AgentRepo (src/store/agent-port.ts), run
 * against every backend in `storeBackends` (SQLite in a temp dir, PostgreSQL in a fresh schema),
 * with real rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type { Agent, AgentStatus, PageRequest, Scope, Store, Workspace } from '../../src/store/port.js';
import { storeBackends, type StoreHandle } from '../support/services.js';
import { agent, ids, T0, workspace } from '../support/store-fixtures.js';

describe.each(storeBackends)('agent store conformance: $name', (backend) => {
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

  /** A workspace of its own with its scopes, so that lists see only this test's rows. */
  async function freshScope(): Promise<{ live: Scope; test: Scope }> {
    const ws = await store.workspaces.create(workspace());
    return { live: { workspaceId: ws.id, livemode: true }, test: { workspaceId: ws.id, livemode: false } };
  }

  it('creates an agent with its first version and gets it back whole', async () => {
    const created = agent(liveA(), { status: 'paused', version: 3, createdAt: T0 + 1, updatedAt: T0 + 2 });
    await expect(store.agents.create(created)).resolves.toEqual(created);
    await expect(store.agents.get(liveA(), created.id)).resolves.toEqual(created);
    await expect(store.agents.getVersion(created.id, 3)).resolves.toEqual({ agentId: created.id, version: 3, config: created.config, createdAt: T0 + 1 });
    await expect(store.agents.versions(created.id, { limit: 10 })).resolves.toEqual({
      data: [{ agentId: created.id, version: 3, config: created.config, createdAt: T0 + 1 }],
      hasMore: false,
    });

    // Empty configuration and metadata, in the test mode.
    const plain = agent(testA(), { config: {}, metadata: {} });
    await store.agents.create(plain);
    await expect(store.agents.get(testA(), plain.id)).resolves.toEqual(plain);
  });

  it('gets an agent only in its own workspace and mode', async () => {
    const created = await store.agents.create(agent(liveA()));
    await expect(store.agents.get(testA(), created.id)).resolves.toBeUndefined();
    await expect(store.agents.get(liveB(), created.id)).resolves.toBeUndefined();
    await expect(store.agents.get(liveA(), newId('agent'))).resolves.toBeUndefined();
    await expect(store.agents.getVersion(newId('agent'), 1)).resolves.toBeUndefined();
    await expect(store.agents.getVersion(created.id, 2)).resolves.toBeUndefined();
  });

  it('finds agents by exact name in their own workspace and mode, newest first, deleted ones hidden', async () => {
    const { live, test } = await freshScope();
    const older = await store.agents.create(agent(live, { name: 'Desk' }));
    const newer = await store.agents.create(agent(live, { name: 'Desk' }));
    const gone = await store.agents.create(agent(live, { name: 'Desk' }));
    await store.agents.create(agent(live, { name: 'desk' }));
    await store.agents.create(agent(test, { name: 'Desk' }));
    await store.agents.delete(live, gone.id, T0 + 1);
    await expect(store.agents.named(live, 'Desk', 5)).resolves.toEqual([newer, older]);
    await expect(store.agents.named(live, 'Desk', 1)).resolves.toEqual([newer]);
    await expect(store.agents.named(live, 'Nobody', 5)).resolves.toEqual([]);
    await expect(store.agents.named(liveB(), 'Desk', 5)).resolves.toEqual([]);
  });

  it('rejects a second agent with the same id, and one for a workspace that does not exist', async () => {
    const created = await store.agents.create(agent(liveA()));
    await expect(store.agents.create({ ...created, name: 'other' })).rejects.toThrow();
    await expect(store.agents.get(liveA(), created.id)).resolves.toEqual(created);
    const orphan = agent({ workspaceId: newId('ws'), livemode: true });
    await expect(store.agents.create(orphan)).rejects.toThrow();
    await expect(store.agents.get(orphan.scope, orphan.id)).resolves.toBeUndefined();
  });

  it('lists one workspace and mode newest first with after/before cursors, deleted ones hidden', async () => {
    const { live, test } = await freshScope();
    const created: Agent[] = [];
    for (let i = 0; i < 5; i++) {
      created.push(await store.agents.create(agent(live, { name: `agent ${i}`, createdAt: T0 + i, updatedAt: T0 + i })));
      await store.agents.create(agent(test, { name: `test ${i}` }));
      await store.agents.create(agent(liveB(), { name: `other ${i}` }));
    }
    const [a0, a1, a2, a3, a4] = ids(created) as [string, string, string, string, string];
    const list = async (page: PageRequest, filter: { status?: AgentStatus } = {}) => {
      const result = await store.agents.list(live, page, filter);
      return { ids: ids(result.data), hasMore: result.hasMore };
    };

    await expect(store.agents.list(live, { limit: 10 })).resolves.toEqual({ data: [...created].reverse(), hasMore: false });
    await expect(list({ limit: 5 })).resolves.toEqual({ ids: [a4, a3, a2, a1, a0], hasMore: false });
    await expect(list({ limit: 4 })).resolves.toEqual({ ids: [a4, a3, a2, a1], hasMore: true });
    await expect(list({ limit: 2, after: a3 })).resolves.toEqual({ ids: [a2, a1], hasMore: true });
    await expect(list({ limit: 2, after: a1 })).resolves.toEqual({ ids: [a0], hasMore: false });
    await expect(list({ limit: 2, after: a0 })).resolves.toEqual({ ids: [], hasMore: false });
    await expect(list({ limit: 2, before: a0 })).resolves.toEqual({ ids: [a2, a1], hasMore: true });
    await expect(list({ limit: 2, before: a2 })).resolves.toEqual({ ids: [a4, a3], hasMore: false });
    await expect(list({ limit: 2, before: a4 })).resolves.toEqual({ ids: [], hasMore: false });

    // The other mode sees only its own; a workspace without agents an empty page.
    const testPage = await store.agents.list(test, { limit: 10 });
    expect(testPage.data.map((a) => a.name)).toEqual(['test 4', 'test 3', 'test 2', 'test 1', 'test 0']);
    const empty = await freshScope();
    await expect(store.agents.list(empty.live, { limit: 10 })).resolves.toEqual({ data: [], hasMore: false });

    // Deleted agents leave the list; a deleted id still works as a cursor.
    await expect(store.agents.delete(live, a3, T0 + 100)).resolves.toBe(true);
    await expect(list({ limit: 10 })).resolves.toEqual({ ids: [a4, a2, a1, a0], hasMore: false });
    await expect(list({ limit: 1, after: a3 })).resolves.toEqual({ ids: [a2], hasMore: true });
    await expect(list({ limit: 1, before: a3 })).resolves.toEqual({ ids: [a4], hasMore: false });
  });

  it('filters the list by status, with cursors', async () => {
    const { live } = await freshScope();
    const statuses: AgentStatus[] = ['active', 'paused', 'active', 'archived', 'active'];
    const created: Agent[] = [];
    for (const status of statuses) created.push(await store.agents.create(agent(live, { status })));
    const [a0, a1, a2, a3, a4] = ids(created) as [string, string, string, string, string];
    const list = async (status: AgentStatus, page: PageRequest) => ids((await store.agents.list(live, page, { status })).data);

    await expect(list('active', { limit: 10 })).resolves.toEqual([a4, a2, a0]);
    await expect(store.agents.list(live, { limit: 1 }, { status: 'active' })).resolves.toEqual({ data: [created[4]], hasMore: true });
    await expect(list('active', { limit: 10, after: a4 })).resolves.toEqual([a2, a0]);
    await expect(list('active', { limit: 10, before: a0 })).resolves.toEqual([a4, a2]);
    await expect(list('paused', { limit: 10 })).resolves.toEqual([a1]);
    await expect(list('archived', { limit: 10 })).resolves.toEqual([a3]);
    // No filter (or an empty one) lists every status.
    await expect(store.agents.list(live, { limit: 10 }, {}).then((page) => ids(page.data))).resolves.toEqual([a4, a3, a2, a1, a0]);

    // A deleted agent is archived but no longer listed, not even as archived.
    await store.agents.delete(live, a1, T0 + 5);
    await expect(list('paused', { limit: 10 })).resolves.toEqual([]);
    await expect(list('archived', { limit: 10 })).resolves.toEqual([a3]);
  });

  it('updates an agent in place, or as a new version that keeps the old ones readable', async () => {
    const v1 = await store.agents.create(agent(liveA(), { createdAt: T0, updatedAt: T0 }));

    // In place: the same version, its stored configuration unchanged.
    const renamed: Agent = { ...v1, name: 'renamed', status: 'paused', metadata: { owner: 'ops' }, updatedAt: T0 + 10 };
    await expect(store.agents.update(renamed, false)).resolves.toEqual(renamed);
    await expect(store.agents.get(liveA(), v1.id)).resolves.toEqual(renamed);
    await expect(store.agents.versions(v1.id, { limit: 10 }).then((page) => page.data.map((v) => v.version))).resolves.toEqual([1]);

    // A new version: the agent and a version row.
    const v2: Agent = { ...renamed, version: 2, config: { model: 'anthropic/claude-sonnet-4', tools: [] }, updatedAt: T0 + 20 };
    await expect(store.agents.update(v2, true)).resolves.toEqual(v2);
    await expect(store.agents.get(liveA(), v1.id)).resolves.toEqual(v2);
    await expect(store.agents.getVersion(v1.id, 1)).resolves.toEqual({ agentId: v1.id, version: 1, config: v1.config, createdAt: T0 });
    await expect(store.agents.getVersion(v1.id, 2)).resolves.toEqual({ agentId: v1.id, version: 2, config: v2.config, createdAt: T0 + 20 });

    // A version that is already stored is refused.
    await expect(store.agents.update({ ...v2, config: { changed: true } }, true)).rejects.toThrow();
    await expect(store.agents.getVersion(v1.id, 2)).resolves.toMatchObject({ config: v2.config });
  });

  it('pages versions newest first with after/before cursors, one agent only', async () => {
    const first = await store.agents.create(agent(liveA()));
    const other = await store.agents.create(agent(liveA()));
    let current = first;
    for (let v = 2; v <= 5; v++) {
      current = await store.agents.update({ ...current, version: v, config: { v }, updatedAt: T0 + v }, true);
      await store.agents.update({ ...other, version: v, config: { other: v }, updatedAt: T0 + v }, true);
    }
    const versions = async (page: PageRequest) => {
      const result = await store.agents.versions(first.id, page);
      return { versions: result.data.map((v) => v.version), hasMore: result.hasMore };
    };

    const all = await store.agents.versions(first.id, { limit: 10 });
    expect(all.data.map((v) => v.version)).toEqual([5, 4, 3, 2, 1]);
    expect(all.data.every((v) => v.agentId === first.id)).toBe(true);
    expect(all.data[0]).toEqual({ agentId: first.id, version: 5, config: { v: 5 }, createdAt: T0 + 5 });

    await expect(versions({ limit: 2 })).resolves.toEqual({ versions: [5, 4], hasMore: true });
    await expect(versions({ limit: 2, after: '4' })).resolves.toEqual({ versions: [3, 2], hasMore: true });
    await expect(versions({ limit: 2, after: '2' })).resolves.toEqual({ versions: [1], hasMore: false });
    await expect(versions({ limit: 2, after: '1' })).resolves.toEqual({ versions: [], hasMore: false });
    await expect(versions({ limit: 2, before: '1' })).resolves.toEqual({ versions: [3, 2], hasMore: true });
    await expect(versions({ limit: 2, before: '3' })).resolves.toEqual({ versions: [5, 4], hasMore: false });
    await expect(versions({ limit: 2, before: '5' })).resolves.toEqual({ versions: [], hasMore: false });
    // A version's id as the cursor, as `last_id` gives it.
    await expect(versions({ limit: 2, after: `${first.id}@4` })).resolves.toEqual({ versions: [3, 2], hasMore: true });
    await expect(versions({ limit: 10, before: `${first.id}@3` })).resolves.toEqual({ versions: [5, 4], hasMore: false });

    await expect(store.agents.versions(newId('agent'), { limit: 10 })).resolves.toEqual({ data: [], hasMore: false });
  });

  it('answers version cursors that are not stored versions alike on every backend', async () => {
    let current = await store.agents.create(agent(liveA()));
    for (let v = 2; v <= 4; v++) current = await store.agents.update({ ...current, version: v, config: { v }, updatedAt: T0 + v }, true);
    const versions = async (page: PageRequest) => (await store.agents.versions(current.id, page)).data.map((v) => v.version);
    // Between two versions: splits where it sorts.
    await expect(versions({ limit: 10, after: '2.5' })).resolves.toEqual([2, 1]);
    await expect(versions({ limit: 10, before: '2.5' })).resolves.toEqual([4, 3]);
    // Beyond every version (and beyond 32 bits).
    await expect(versions({ limit: 10, after: '1e12' })).resolves.toEqual([4, 3, 2, 1]);
    await expect(versions({ limit: 10, before: '-1e12' })).resolves.toEqual([4, 3, 2, 1]);
    await expect(versions({ limit: 10, before: '1e12' })).resolves.toEqual([]);
    // Not a number: an empty page, not an error.
    await expect(versions({ limit: 10, after: 'agent_abc' })).resolves.toEqual([]);
    await expect(versions({ limit: 10, before: `${current.id}@` })).resolves.toEqual([]);
  });

  it('deletes softly, in its own scope only, once', async () => {
    const created = await store.agents.create(agent(liveA()));
    await expect(store.agents.delete(testA(), created.id, T0 + 1)).resolves.toBe(false);
    await expect(store.agents.delete(liveB(), created.id, T0 + 1)).resolves.toBe(false);
    await expect(store.agents.get(liveA(), created.id)).resolves.toEqual(created);

    await expect(store.agents.delete(liveA(), created.id, T0 + 2)).resolves.toBe(true);
    await expect(store.agents.get(liveA(), created.id)).resolves.toBeUndefined();
    await expect(store.agents.delete(liveA(), created.id, T0 + 3)).resolves.toBe(false);
    await expect(store.agents.delete(liveA(), newId('agent'), T0 + 3)).resolves.toBe(false);
    // Its versions stay readable, for the runs that used them.
    await expect(store.agents.getVersion(created.id, 1)).resolves.toEqual({ agentId: created.id, version: 1, config: created.config, createdAt: T0 });
  });

  it('rolls back an agent and its versions created in a transaction that throws', async () => {
    const created = agent(liveA());
    const failure = new Error('boom');
    await expect(
      store.transaction(async (tx) => {
        await tx.agents.create(created);
        await tx.agents.update({ ...created, version: 2, config: { in: 'tx' } }, true);
        await expect(tx.agents.get(liveA(), created.id)).resolves.toMatchObject({ version: 2 });
        throw failure;
      }),
    ).rejects.toBe(failure);
    await expect(store.agents.get(liveA(), created.id)).resolves.toBeUndefined();
    await expect(store.agents.versions(created.id, { limit: 10 })).resolves.toEqual({ data: [], hasMore: false });

    await store.transaction(async (tx) => {
      await tx.agents.create(created);
      await tx.agents.update({ ...created, version: 2, updatedAt: T0 + 1 }, true);
    });
    await expect(store.agents.versions(created.id, { limit: 10 }).then((page) => page.data.map((v) => v.version))).resolves.toEqual([2, 1]);
  });
});
