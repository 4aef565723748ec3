/**
 * Storage conformance for model responses (src/store/model-response-port.ts) on every backend in
 * `storeBackends`, with real rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idMadeAt, newId } from '../../src/ids.js';
import type { Scope, Store, StoredModelResponse } from '../../src/store/port.js';
import { storeBackends, type StoreHandle } from '../support/services.js';
import { T0, workspace } from '../support/store-fixtures.js';

describe.each(storeBackends)('model response store conformance: $name', (backend) => {
  let handle: StoreHandle;
  let store: Store;
  let live: Scope;
  let test: Scope;
  let other: Scope;

  beforeAll(async () => {
    handle = await backend.open();
    store = handle.store;
    const ws = await store.workspaces.create(workspace());
    const ws2 = await store.workspaces.create(workspace());
    live = { workspaceId: ws.id, livemode: true };
    test = { workspaceId: ws.id, livemode: false };
    other = { workspaceId: ws2.id, livemode: true };
  });
  afterAll(async () => {
    await handle?.dispose();
  });

  const response = (scope: Scope, createdAt = T0): StoredModelResponse => ({
    id: idMadeAt('resp', createdAt), scope, createdAt,
    body: { object: 'response', status: 'completed', output_text: 'Grüße ✓', usage: { total_tokens: 12 }, metadata: {} },
  });

  it('stores a response and reads it back whole, only in its own workspace and mode', async () => {
    const stored = response(live);
    await store.modelResponses.create(stored);
    await expect(store.modelResponses.get(live, stored.id)).resolves.toEqual(stored);
    await expect(store.modelResponses.get(test, stored.id)).resolves.toBeUndefined();
    await expect(store.modelResponses.get(other, stored.id)).resolves.toBeUndefined();
    await expect(store.modelResponses.get(live, newId('resp'))).resolves.toBeUndefined();
  });

  it('purges responses created before the cutoff, in batches', async () => {
    const cutoff = T0 + 1_000_000;
    const old = [response(live, cutoff - 3000), response(test, cutoff - 2000), response(other, cutoff - 1000)];
    const kept = response(live, cutoff + 1000);
    for (const r of [...old, kept]) await store.modelResponses.create(r);
    let purged = 0;
    for (let batch = await store.modelResponses.purge(cutoff, 2); batch > 0; batch = await store.modelResponses.purge(cutoff, 2)) purged += batch;
    // The first test's response (made at T0) is older too.
    expect(purged).toBe(old.length + 1);
    for (const r of old) await expect(store.modelResponses.get(r.scope, r.id)).resolves.toBeUndefined();
    await expect(store.modelResponses.get(live, kept.id)).resolves.toEqual(kept);
  });
});
