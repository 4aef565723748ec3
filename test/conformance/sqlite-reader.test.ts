/**
 * The SQLite store's two connections: reads outside a transaction are answered by the read-only
 * connection, even while a transaction holds the writer, and see only committed data; writes
 * outside a transaction wait for the open one and never become part of it.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type { ChunkInput, ContextDocument, ContextSource, Scope, Store, Workspace } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempDir } from '../support/services.js';

const workspace = (): Workspace => ({ id: newId('ws'), name: 'Reader', plan: 'free', createdAt: Date.now() });
const turnsOfTheEventLoop = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('SQLite reads beside a transaction', () => {
  let dir: string;
  let store: Store;
  let scope: Scope;

  beforeAll(async () => {
    dir = tempDir();
    store = await openSqliteStore({ dataDir: dir });
    const owner = await store.workspaces.create(workspace());
    scope = { workspaceId: owner.id, livemode: false };
  });

  afterAll(async () => {
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers a read outside an open transaction with the committed state only', async () => {
    const committed = await store.workspaces.create(workspace());
    const uncommitted = workspace();
    await store.transaction(async (tx) => {
      await tx.workspaces.create(uncommitted);
      await expect(tx.workspaces.get(uncommitted.id)).resolves.toEqual(uncommitted);
      // On one connection these reads would wait for this very transaction, which waits for them.
      await expect(store.workspaces.get(committed.id)).resolves.toEqual(committed);
      await expect(store.workspaces.get(uncommitted.id)).resolves.toBeUndefined();
      await expect(store.meta.get(`missing ${newId('ws')}`)).resolves.toBeUndefined();
    });
    await expect(store.workspaces.get(uncommitted.id)).resolves.toEqual(uncommitted);
  });

  it('holds a write outside a transaction until the transaction ends, and keeps it out of the transaction', async () => {
    const inside = workspace();
    const outside = workspace();
    let written = false;
    let write: Promise<unknown> | undefined;
    await expect(
      store.transaction(async (tx) => {
        await tx.workspaces.create(inside);
        write = store.workspaces.create(outside).then(() => (written = true));
        await turnsOfTheEventLoop(10);
        expect(written).toBe(false);
        // Neither the transaction nor a reader sees the waiting write.
        await expect(tx.workspaces.get(outside.id)).resolves.toBeUndefined();
        await expect(store.workspaces.get(outside.id)).resolves.toBeUndefined();
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await write;
    // The rollback took the transaction's write and left the other one, which ran after it.
    await expect(store.workspaces.get(inside.id)).resolves.toBeUndefined();
    await expect(store.workspaces.get(outside.id)).resolves.toEqual(outside);
  });

  it('reads its own writes as soon as they are committed', async () => {
    const created = await store.workspaces.create(workspace());
    await expect(store.workspaces.get(created.id)).resolves.toEqual(created);

    const key = `reader ${newId('ws')}`;
    await store.meta.set(key, 'first');
    await expect(store.meta.get(key)).resolves.toBe('first');
    await store.meta.set(key, 'second');
    await expect(store.meta.get(key)).resolves.toBe('second');

    const inTransaction = workspace();
    await store.transaction(async (tx) => {
      await tx.workspaces.create(inTransaction);
      await tx.meta.set(key, 'third');
    });
    await expect(store.workspaces.get(inTransaction.id)).resolves.toEqual(inTransaction);
    await expect(store.meta.get(key)).resolves.toBe('third');
  });

  it('answers reads while a large document is indexed, each with the old chunks or the new ones', async () => {
    const now = Date.now();
    const source: ContextSource = await store.contextSources.create({
      id: newId('src'), scope, name: 'reader', type: 'documents', description: null, embeddingModel: 'test/8', embeddingDimensions: 8,
      chunkMaxTokens: 256, chunkOverlapTokens: 32, config: {}, metadata: {}, refreshIntervalSeconds: null, lastRefreshAt: null,
      nextRefreshAt: null, lastRefreshError: null, refreshLockedUntil: null, createdAt: now, updatedAt: now,
    });
    const document: ContextDocument = await store.contextDocuments.upsert({
      id: newId('doc'), sourceId: source.id, scope, externalId: null, title: null, contentType: 'text/plain', text: 'x', contentHash: 'x',
      sizeBytes: 1, status: 'indexing', errorCode: null, errorMessage: null, metadata: {}, chunkCount: 0, tokenCount: 0, url: null,
      etag: null, lastModified: null, version: 1, createdAt: now, updatedAt: now, indexedAt: null,
    });
    const chunks = (version: string): ChunkInput[] =>
      Array.from({ length: 1000 }, (_, position) => ({
        id: newId('chunk'), sourceId: source.id, documentId: document.id, scope, position, text: `${version} piece ${position}`,
        tokenCount: 3, textHash: `${version}${position}`, heading: null, metadata: {},
        embedding: Float32Array.from({ length: 8 }, (_, i) => (i === position % 8 ? 1 : 0.5)), createdAt: now,
      }));
    await store.contextChunks.replaceForDocument(document.id, chunks('old'));

    const state = async () => {
      const listed = await store.contextChunks.listForDocument(document.id);
      return [...new Set(listed.map((chunk) => chunk.text.split(' ')[0]))].join(', ') + ` × ${listed.length}`;
    };
    // Reads taken while the replacement's transaction is open, one per turn of the event loop.
    const during: string[] = [];
    let open = false;
    let done = false;
    const reads = (async () => {
      while (!open && !done) await new Promise((resolve) => setImmediate(resolve));
      while (open) {
        const seen = await state();
        if (open) during.push(seen);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await store.transaction(async (tx) => {
      open = true;
      await tx.contextChunks.replaceForDocument(document.id, chunks('new'));
      await tx.contextDocuments.setStatus(document.id, { status: 'indexed', chunkCount: 1000, updatedAt: Date.now() });
      open = false;
    });
    done = true;
    await reads;

    // The write let reads run between its statements, and they saw the committed chunks, not part of the new ones.
    expect(during.length).toBeGreaterThan(0);
    expect(new Set(during)).toEqual(new Set(['old × 1000']));
    await expect(state()).resolves.toBe('new × 1000');
    const listed = await store.contextChunks.listForDocument(document.id);
    expect(listed.map((chunk) => chunk.text)).toEqual(chunks('new').map((chunk) => chunk.text));
  });
});
