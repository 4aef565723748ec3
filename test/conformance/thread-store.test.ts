/**
 * Storage conformance for threads: every operation of ThreadRepo (src/store/agent-port.ts), run
 * against every backend in `storeBackends` (SQLite in a temp dir, PostgreSQL in a fresh schema),
 * with real rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type { PageRequest, Scope, Store, ThreadMessage, Workspace } from '../../src/store/port.js';
import { storeBackends, type StoreHandle } from '../support/services.js';
import { ids, message, T0, workspace } from '../support/store-fixtures.js';

describe.each(storeBackends)('thread store conformance: $name', (backend) => {
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
    wsA = await store.workspaces.create(workspace({ name: 'A' }));
    wsB = await store.workspaces.create(workspace({ name: 'B' }));
  });

  afterAll(async () => {
    await handle?.dispose();
  });

  async function thread(scope: Scope = liveA()): Promise<string> {
    const id = newId('thread');
    await store.threads.create({ id, scope, createdAt: T0 });
    return id;
  }

  it('creates a thread that exists in its own workspace and mode only', async () => {
    const id = await thread(liveA());
    await expect(store.threads.exists(liveA(), id)).resolves.toBe(true);
    await expect(store.threads.exists(testA(), id)).resolves.toBe(false);
    await expect(store.threads.exists(liveB(), id)).resolves.toBe(false);
    await expect(store.threads.exists(liveA(), newId('thread'))).resolves.toBe(false);
    const inTest = await thread(testA());
    await expect(store.threads.exists(testA(), inTest)).resolves.toBe(true);
    await expect(store.threads.exists(liveA(), inTest)).resolves.toBe(false);
  });

  it('rejects a second thread with the same id, and one for a workspace that does not exist', async () => {
    const id = await thread();
    await expect(store.threads.create({ id, scope: liveB(), createdAt: T0 + 1 })).rejects.toThrow();
    await expect(store.threads.exists(liveB(), id)).resolves.toBe(false);
    const orphan = { id: newId('thread'), scope: { workspaceId: newId('ws'), livemode: true }, createdAt: T0 };
    await expect(store.threads.create(orphan)).rejects.toThrow();
    await expect(store.threads.exists(orphan.scope, orphan.id)).resolves.toBe(false);
  });

  it('adds messages and gives the whole history oldest first', async () => {
    const id = await thread();
    const other = await thread();
    const runId = newId('run');
    const first: ThreadMessage[] = [
      message(id, { content: 'What is the weather?', createdAt: T0 + 1 }),
      message(id, { role: 'assistant', runId, content: [{ type: 'tool-call', toolCallId: 'call_1', toolName: 'weather', input: { city: 'Zürich' } }], createdAt: T0 + 2 }),
    ];
    const second: ThreadMessage[] = [
      message(id, { role: 'tool', runId, content: [{ type: 'tool-result', toolCallId: 'call_1', output: { value: 21.5, unit: '°C' } }], createdAt: T0 + 3 }),
      message(id, { role: 'assistant', runId, content: 'It is 21.5 °C ✓', createdAt: T0 + 4 }),
    ];
    await store.threads.addMessages(first);
    await store.threads.addMessages([message(other, { content: 'elsewhere' })]);
    await store.threads.addMessages(second);

    await expect(store.threads.history(id)).resolves.toEqual([...first, ...second]);
    await expect(store.threads.history(other).then((messages) => messages.map((m) => m.content))).resolves.toEqual(['elsewhere']);
    await expect(store.threads.history(newId('thread'))).resolves.toEqual([]);
  });

  it('round-trips message content: strings (even "null"), null, numbers, arrays, objects', async () => {
    const id = await thread();
    const contents: unknown[] = ['plain', 'null', '', null, 0, -1.5, true, [], [{ type: 'text', text: 'a' }, { type: 'image', url: 'https://x' }], { deep: { er: [null] } }];
    const messages = contents.map((content) => message(id, { content }));
    await store.threads.addMessages(messages);
    const got = await store.threads.history(id);
    expect(got).toEqual(messages);
    for (const [i, m] of got.entries()) expect(m.content).toStrictEqual(contents[i]);
  });

  it('adds no messages for an empty list; refuses a message of an unknown thread or a repeated id', async () => {
    const id = await thread();
    await expect(store.threads.addMessages([])).resolves.toBeUndefined();
    await expect(store.threads.history(id)).resolves.toEqual([]);

    await expect(store.threads.addMessages([message(newId('thread'))])).rejects.toThrow();
    const kept = message(id);
    await store.threads.addMessages([kept]);
    await expect(store.threads.addMessages([{ ...kept, content: 'again' }])).rejects.toThrow();
    // A batch with one bad message adds none of them.
    await expect(store.threads.addMessages([message(id, { content: 'lost' }), { ...kept, content: 'again' }])).rejects.toThrow();
    await expect(store.threads.history(id)).resolves.toEqual([kept]);
  });

  it('pages a thread\'s messages newest first with after/before cursors', async () => {
    const id = await thread();
    const other = await thread();
    const messages: ThreadMessage[] = [];
    for (let i = 0; i < 5; i++) {
      messages.push(message(id, { content: `m${i}`, createdAt: T0 + i }));
      await store.threads.addMessages([messages[i]!, message(other, { content: `other ${i}` })]);
    }
    const [m0, m1, m2, m3, m4] = ids(messages) as [string, string, string, string, string];
    const page = async (request: PageRequest) => {
      const result = await store.threads.messages(id, request);
      return { ids: ids(result.data), hasMore: result.hasMore };
    };

    await expect(store.threads.messages(id, { limit: 10 })).resolves.toEqual({ data: [...messages].reverse(), hasMore: false });
    await expect(page({ limit: 5 })).resolves.toEqual({ ids: [m4, m3, m2, m1, m0], hasMore: false });
    await expect(page({ limit: 4 })).resolves.toEqual({ ids: [m4, m3, m2, m1], hasMore: true });
    await expect(page({ limit: 2, after: m3 })).resolves.toEqual({ ids: [m2, m1], hasMore: true });
    await expect(page({ limit: 2, after: m1 })).resolves.toEqual({ ids: [m0], hasMore: false });
    await expect(page({ limit: 2, after: m0 })).resolves.toEqual({ ids: [], hasMore: false });
    await expect(page({ limit: 2, before: m0 })).resolves.toEqual({ ids: [m2, m1], hasMore: true });
    await expect(page({ limit: 2, before: m2 })).resolves.toEqual({ ids: [m4, m3], hasMore: false });
    await expect(page({ limit: 2, before: m4 })).resolves.toEqual({ ids: [], hasMore: false });
    await expect(store.threads.messages(newId('thread'), { limit: 10 })).resolves.toEqual({ data: [], hasMore: false });
  });

  it('rolls back a thread and its messages created in a transaction that throws, and commits them together', async () => {
    const id = newId('thread');
    const messages = [message(id, { content: 'hi' }), message(id, { role: 'assistant', content: 'hello' })];
    const failure = new Error('boom');
    await expect(
      store.transaction(async (tx) => {
        await tx.threads.create({ id, scope: liveA(), createdAt: T0 });
        await tx.threads.addMessages(messages);
        await expect(tx.threads.history(id)).resolves.toEqual(messages);
        throw failure;
      }),
    ).rejects.toBe(failure);
    await expect(store.threads.exists(liveA(), id)).resolves.toBe(false);
    await expect(store.threads.history(id)).resolves.toEqual([]);

    await store.transaction(async (tx) => {
      await tx.threads.create({ id, scope: liveA(), createdAt: T0 });
      await tx.threads.addMessages(messages);
    });
    await expect(store.threads.exists(liveA(), id)).resolves.toBe(true);
    await expect(store.threads.history(id)).resolves.toEqual(messages);
  });
});
