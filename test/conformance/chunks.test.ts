/**
 * Chunk storage conformance: the ContextChunkRepo port (src/store/port.ts) — chunk rows, their
 * embeddings, the vector index and the full-text index — run against every backend in
 * `storeBackends` (SQLite: sqlite-vec + FTS5; PostgreSQL here: exact scan + tsvector, since the
 * server has no pgvector — the pgvector SQL is covered on PGlite in pgvector.test.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type {
  ChunkInput, ChunkRecord, ContextDocument, ContextSource, Scope, Store, Workspace,
} from '../../src/store/port.js';
import pg from 'pg';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { dropPostgresSchema, openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { postgresUrl, storeBackends, tempDir, uniqueName, type StoreHandle } from '../support/services.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A deterministic pseudo-random generator, so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function unit(values: number[]): Float32Array {
  const norm = Math.sqrt(values.reduce((sum, v) => sum + v * v, 0));
  return Float32Array.from(values.map((v) => v / norm));
}

function randomUnit(dimensions: number, random: () => number): Float32Array {
  return unit(Array.from({ length: dimensions }, () => random() * 2 - 1));
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** A vector near `base`: base plus a little noise, normalised. */
function near(base: Float32Array, amount: number, random: () => number): Float32Array {
  return unit(Array.from(base, (v) => v + (random() * 2 - 1) * amount));
}

const HOSTILE_QUERIES = [
  '', '   ', '"', '""', "'", "''", '*', 'zebra*', '*zebra', 'NEAR(', 'NEAR(zebra giraffe, 2)', 'AND OR', 'a AND OR NOT b',
  'AND', 'OR', 'NOT', '((', ')', '^zebra', 'text: zebra', 'heading:zebra', 'zebra:A', ':*', "'zebra':*", '-zebra', '+', '\\',
  '\\"', '\u0000', 'zebra\u0000giraffe', '🦓 zebra', '日本語のテキスト', 'Ünïcödé', '\u0301', '\uD800', '!!!', '{}[]<>',
  "o'reilly", '& | ! <->', 'zebra | giraffe & !lion', 'x'.repeat(10_000), Array.from({ length: 500 }, (_, i) => `w${i}`).join(' '),
  '"unterminated', 'zebra"', 'col1 : col2', '{text heading}: zebra', 'zebra OR', 'OR zebra', '%', '_', '; drop table context_chunks; --',
];

describe.each(storeBackends)('chunk conformance: $name', (backend) => {
  let handle: StoreHandle;
  let store: Store;
  let ws: Workspace;
  let scope: Scope;

  beforeAll(async () => {
    handle = await backend.open();
    store = handle.store;
    ws = { id: newId('ws'), name: 'Chunks', plan: 'free', createdAt: Date.now() };
    await store.workspaces.create(ws);
    scope = { workspaceId: ws.id, livemode: false };
  });

  afterAll(async () => {
    await handle?.dispose();
  });

  async function source(dimensions: number, db: Pick<Store, 'contextSources'> = store): Promise<ContextSource> {
    const now = Date.now();
    return db.contextSources.create({
      id: newId('src'), scope, name: `source ${newId('src')}`, type: 'documents', description: null,
      embeddingModel: `test/${dimensions}`, embeddingDimensions: dimensions, chunkMaxTokens: 256, chunkOverlapTokens: 32,
      config: {}, metadata: {}, refreshIntervalSeconds: null, lastRefreshAt: null, nextRefreshAt: null,
      lastRefreshError: null, refreshLockedUntil: null, createdAt: now, updatedAt: now,
    });
  }

  async function document(src: ContextSource, db: Pick<Store, 'contextDocuments'> = store): Promise<ContextDocument> {
    const now = Date.now();
    return db.contextDocuments.upsert({
      id: newId('doc'), sourceId: src.id, scope, externalId: null, title: null, contentType: 'text/plain', text: 'x',
      contentHash: sha256('x'), sizeBytes: 1, status: 'indexing', errorCode: null, errorMessage: null, metadata: {},
      chunkCount: 0, tokenCount: 0, url: null, etag: null, lastModified: null, version: 1, createdAt: now, updatedAt: now,
      indexedAt: null,
    });
  }

  function chunk(doc: ContextDocument, position: number, text: string, embedding: Float32Array, overrides: Partial<ChunkInput> = {}): ChunkInput {
    return {
      id: newId('chunk'), sourceId: doc.sourceId, documentId: doc.id, scope, position, text,
      tokenCount: text.split(/\s+/).length, textHash: sha256(text), heading: null, metadata: {}, embedding,
      createdAt: Date.now(), ...overrides,
    };
  }

  const record = ({ embedding, ...rest }: ChunkInput): ChunkRecord => rest;
  const chunkIds = (hits: Array<{ chunkId: string }>): string[] => hits.map((hit) => hit.chunkId);

  it('counts the documents and chunks of many sources at once, by status', async () => {
    const [a, b, empty] = [await source(4), await source(4), await source(4)];
    const [one, two] = [await document(a), await document(a)];
    await document(b);
    await store.contextDocuments.setStatus(one.id, { status: 'indexed', chunkCount: 3, updatedAt: Date.now() });
    await store.contextDocuments.setStatus(two.id, { status: 'failed', updatedAt: Date.now() });
    const counts = await store.contextDocuments.countBySources([a.id, b.id, empty.id]);
    expect(counts.get(a.id)).toEqual({ documents: 2, chunks: 3, byStatus: { queued: 0, indexing: 0, indexed: 1, failed: 1 } });
    expect(counts.get(b.id)).toEqual({ documents: 1, chunks: 0, byStatus: { queued: 0, indexing: 1, indexed: 0, failed: 0 } });
    expect(counts.get(empty.id)).toEqual({ documents: 0, chunks: 0, byStatus: { queued: 0, indexing: 0, indexed: 0, failed: 0 } });
    expect(await store.contextDocuments.countBySource(a.id)).toEqual(counts.get(a.id));
    expect((await store.contextDocuments.countBySources([])).size).toBe(0);
  });

  it('replaces, lists in position order and gets many by id', async () => {
    const src = await source(8);
    const doc = await document(src);
    const random = rng(1);
    const chunks = [
      chunk(doc, 2, 'third piece', randomUnit(8, random), { heading: 'Intro > Details', metadata: { page: 3, draft: true, lang: 'en' } }),
      chunk(doc, 0, 'first piece', randomUnit(8, random)),
      chunk(doc, 1, 'second piece', randomUnit(8, random), { scope: { workspaceId: ws.id, livemode: false } }),
    ];
    await store.contextChunks.replaceForDocument(doc.id, chunks);

    const listed = await store.contextChunks.listForDocument(doc.id);
    expect(listed).toEqual([chunks[1], chunks[2], chunks[0]].map((c) => record(c!)));
    expect(listed[0]).not.toHaveProperty('embedding');

    const unknown = newId('chunk');
    const many = await store.contextChunks.getMany([chunks[0]!.id, unknown, chunks[1]!.id, chunks[0]!.id]);
    expect(many).toEqual([record(chunks[0]!), record(chunks[1]!)]);
    await expect(store.contextChunks.getMany([])).resolves.toEqual([]);
    await expect(store.contextChunks.listForDocument(newId('doc'))).resolves.toEqual([]);
  });

  it('rejects a chunk of another document', async () => {
    const src = await source(8);
    const [a, b] = [await document(src), await document(src)];
    const bad = chunk(b, 0, 'misfiled', randomUnit(8, rng(2)));
    await expect(store.contextChunks.replaceForDocument(a.id, [bad])).rejects.toThrow();
    await expect(store.contextChunks.listForDocument(a.id)).resolves.toEqual([]);
    await expect(store.contextChunks.listForDocument(b.id)).resolves.toEqual([]);
  });

  it('replacing removes the old chunks from the rows and both indexes', async () => {
    const src = await source(8);
    const doc = await document(src);
    const random = rng(3);
    const oldVector = randomUnit(8, random);
    const old = [chunk(doc, 0, 'the quokka hops', oldVector), chunk(doc, 1, 'quokka again', near(oldVector, 0.1, random))];
    await store.contextChunks.replaceForDocument(doc.id, old);
    expect(chunkIds(await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'quokka', k: 10 })).sort()).toEqual(
      old.map((c) => c.id).sort(),
    );
    expect(chunkIds(await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: oldVector, k: 10 }))[0]).toBe(old[0]!.id);

    const newVector = randomUnit(8, random);
    const fresh = [chunk(doc, 0, 'a wombat digs', newVector)];
    await store.contextChunks.replaceForDocument(doc.id, fresh);

    await expect(store.contextChunks.listForDocument(doc.id)).resolves.toEqual([record(fresh[0]!)]);
    await expect(store.contextChunks.getMany(old.map((c) => c.id))).resolves.toEqual([]);
    await expect(store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'quokka', k: 10 })).resolves.toEqual([]);
    expect(chunkIds(await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'wombat', k: 10 }))).toEqual([fresh[0]!.id]);
    expect(chunkIds(await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: oldVector, k: 10 }))).toEqual([fresh[0]!.id]);
    expect([...(await store.contextChunks.embeddingsByHash(src.id, [old[0]!.textHash, fresh[0]!.textHash])).keys()]).toEqual([
      fresh[0]!.textHash,
    ]);

    // Replacing with nothing empties the document.
    await store.contextChunks.replaceForDocument(doc.id, []);
    await expect(store.contextChunks.listForDocument(doc.id)).resolves.toEqual([]);
    await expect(store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: newVector, k: 10 })).resolves.toEqual([]);
    await expect(store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'wombat', k: 10 })).resolves.toEqual([]);
  });

  it('deletes by document and by source, from rows and both indexes', async () => {
    const random = rng(4);
    const [s1, s2] = [await source(8), await source(8)];
    const [d1, d2, d3] = [await document(s1), await document(s1), await document(s2)];
    const v = randomUnit(8, random);
    await store.contextChunks.replaceForDocument(d1.id, [chunk(d1, 0, 'platypus one', v)]);
    await store.contextChunks.replaceForDocument(d2.id, [chunk(d2, 0, 'platypus two', near(v, 0.2, random))]);
    const kept = chunk(d3, 0, 'platypus three', near(v, 0.2, random));
    await store.contextChunks.replaceForDocument(d3.id, [kept]);
    const both = [s1.id, s2.id];

    await store.contextChunks.deleteForDocument(d1.id);
    await expect(store.contextChunks.listForDocument(d1.id)).resolves.toEqual([]);
    expect(await store.contextChunks.keywordSearch({ sourceIds: both, text: 'platypus', k: 10 })).toHaveLength(2);
    expect(await store.contextChunks.vectorSearch({ sourceIds: both, embedding: v, k: 10 })).toHaveLength(2);

    await store.contextChunks.deleteForSource(s1.id);
    await expect(store.contextChunks.listForDocument(d2.id)).resolves.toEqual([]);
    expect(chunkIds(await store.contextChunks.keywordSearch({ sourceIds: both, text: 'platypus', k: 10 }))).toEqual([kept.id]);
    expect(chunkIds(await store.contextChunks.vectorSearch({ sourceIds: both, embedding: v, k: 10 }))).toEqual([kept.id]);
    await expect(store.contextChunks.listForDocument(d3.id)).resolves.toEqual([record(kept)]);
  });

  it('drops chunks with their document or source (cascade), from both indexes', async () => {
    const random = rng(5);
    const [s1, s2] = [await source(8), await source(8)];
    const [d1, d2] = [await document(s1), await document(s2)];
    const v = randomUnit(8, random);
    await store.contextChunks.replaceForDocument(d1.id, [chunk(d1, 0, 'echidna here', v)]);
    await store.contextChunks.replaceForDocument(d2.id, [chunk(d2, 0, 'echidna there', v)]);

    await store.contextDocuments.delete(d1.id);
    await store.contextSources.delete(scope, s2.id);
    for (const sourceIds of [[s1.id], [s2.id]]) {
      await expect(store.contextChunks.keywordSearch({ sourceIds, text: 'echidna', k: 10 })).resolves.toEqual([]);
      await expect(store.contextChunks.vectorSearch({ sourceIds, embedding: v, k: 10 })).resolves.toEqual([]);
    }
    await expect(store.contextChunks.listForDocument(d1.id)).resolves.toEqual([]);
  });

  it('returns stored embeddings by text hash, exactly', async () => {
    const [src, other] = [await source(8), await source(8)];
    const [doc, otherDoc] = [await document(src), await document(other)];
    const random = rng(6);
    // Not normalised, awkward values: the stored vector must come back bit for bit.
    const raw = Float32Array.from({ length: 8 }, () => (random() - 0.5) * 1e3 * random());
    raw[3] = 1e-30;
    raw[5] = -0;
    const exact = [chunk(doc, 0, 'alpha', raw), chunk(doc, 1, 'beta', randomUnit(8, random)), chunk(doc, 2, 'alpha', raw)];
    await store.contextChunks.replaceForDocument(doc.id, exact);
    await store.contextChunks.replaceForDocument(otherDoc.id, [chunk(otherDoc, 0, 'gamma', randomUnit(8, random))]);

    const found = await store.contextChunks.embeddingsByHash(src.id, [sha256('alpha'), sha256('beta'), sha256('gamma'), sha256('nope')]);
    expect([...found.keys()].sort()).toEqual([sha256('alpha'), sha256('beta')].sort());
    for (const [hash, expected] of [[sha256('alpha'), raw], [sha256('beta'), exact[1]!.embedding]] as const) {
      const got = found.get(hash)!;
      expect(got).toBeInstanceOf(Float32Array);
      expect(got.length).toBe(expected.length);
      expect(Array.from(got).map((x) => (Object.is(x, -0) ? 0 : x))).toEqual(Array.from(expected).map((x) => (Object.is(x, -0) ? 0 : x)));
    }
    await expect(store.contextChunks.embeddingsByHash(src.id, [])).resolves.toEqual(new Map());
  });

  it('finds the nearest chunks by cosine similarity, best first', async () => {
    const src = await source(8);
    const doc = await document(src);
    const random = rng(7);
    const query = randomUnit(8, random);
    const chunks = Array.from({ length: 30 }, (_, i) => chunk(doc, i, `vector ${i}`, i < 10 ? near(query, 0.05 * (i + 1), random) : randomUnit(8, random)));
    await store.contextChunks.replaceForDocument(doc.id, chunks);

    const expected = chunks
      .map((c) => ({ chunkId: c.id, score: cosine(query, c.embedding) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 7);
    const hits = await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: query, k: 7 });
    expect(chunkIds(hits)).toEqual(chunkIds(expected));
    hits.forEach((hit, i) => expect(hit.score).toBeCloseTo(expected[i]!.score, 5));

    // The query need not be normalised: cosine ignores length.
    const scaled = Float32Array.from(query, (v) => v * 3);
    expect(chunkIds(await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: scaled, k: 7 }))).toEqual(chunkIds(expected));
    // An exact match scores 1.
    const self = await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: chunks[20]!.embedding, k: 1 });
    expect(self[0]!.chunkId).toBe(chunks[20]!.id);
    expect(self[0]!.score).toBeCloseTo(1, 5);
    // Degenerate requests return nothing rather than failing.
    await expect(store.contextChunks.vectorSearch({ sourceIds: [], embedding: query, k: 5 })).resolves.toEqual([]);
    await expect(store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: query, k: 0 })).resolves.toEqual([]);
    await expect(store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: new Float32Array(8), k: 5 })).resolves.toEqual([]);
    await expect(store.contextChunks.vectorSearch({ sourceIds: [newId('src')], embedding: query, k: 5 })).resolves.toEqual([]);
  });

  it('stores a zero vector but never returns it from vector search (it has no cosine)', async () => {
    const src = await source(8);
    const doc = await document(src);
    const zero = chunk(doc, 0, 'silent tapir', new Float32Array(8));
    const other = chunk(doc, 1, 'loud tapir', randomUnit(8, rng(15)));
    await store.contextChunks.replaceForDocument(doc.id, [zero, other]);
    expect(chunkIds(await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: randomUnit(8, rng(16)), k: 5 }))).toEqual([other.id]);
    expect(Array.from((await store.contextChunks.embeddingsByHash(src.id, [zero.textHash])).get(zero.textHash)!)).toEqual(Array(8).fill(0));
    expect(chunkIds(await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'silent', k: 5 }))).toEqual([zero.id]);
    await store.contextChunks.deleteForDocument(doc.id);
    await expect(store.contextChunks.listForDocument(doc.id)).resolves.toEqual([]);
  });

  it('restricts vector search to the given sources and still returns k of theirs', async () => {
    const random = rng(8);
    const query = randomUnit(8, random);
    const [mine, theirs, also] = [await source(8), await source(8), await source(8)];
    const [myDoc, theirDoc, alsoDoc] = [await document(mine), await document(theirs), await document(also)];
    // The other source holds many vectors closer to the query than any of ours.
    await store.contextChunks.replaceForDocument(
      theirDoc.id,
      Array.from({ length: 40 }, (_, i) => chunk(theirDoc, i, `theirs ${i}`, near(query, 0.01, random))),
    );
    const mineChunks = Array.from({ length: 12 }, (_, i) => chunk(myDoc, i, `mine ${i}`, randomUnit(8, random)));
    const alsoChunks = Array.from({ length: 12 }, (_, i) => chunk(alsoDoc, i, `also ${i}`, randomUnit(8, random)));
    await store.contextChunks.replaceForDocument(myDoc.id, mineChunks);
    await store.contextChunks.replaceForDocument(alsoDoc.id, alsoChunks);

    const hits = await store.contextChunks.vectorSearch({ sourceIds: [mine.id], embedding: query, k: 5 });
    const expectedMine = mineChunks.map((c) => ({ id: c.id, s: cosine(query, c.embedding) })).sort((a, b) => b.s - a.s);
    expect(chunkIds(hits)).toEqual(expectedMine.slice(0, 5).map((e) => e.id));

    // Several sources: the k best across them, merged.
    const union = [...mineChunks, ...alsoChunks].map((c) => ({ id: c.id, s: cosine(query, c.embedding) })).sort((a, b) => b.s - a.s);
    const merged = await store.contextChunks.vectorSearch({ sourceIds: [mine.id, also.id, mine.id], embedding: query, k: 9 });
    expect(chunkIds(merged)).toEqual(union.slice(0, 9).map((e) => e.id));

    // Asking for more than there are returns them all.
    expect(await store.contextChunks.vectorSearch({ sourceIds: [mine.id], embedding: query, k: 100 })).toHaveLength(12);
  });

  it('keeps vectors of different dimensions apart', async () => {
    const random = rng(9);
    const [small, large] = [await source(8), await source(12)];
    const [smallDoc, largeDoc] = [await document(small), await document(large)];
    const smallChunks = Array.from({ length: 5 }, (_, i) => chunk(smallDoc, i, `small ${i}`, randomUnit(8, random)));
    const largeChunks = Array.from({ length: 5 }, (_, i) => chunk(largeDoc, i, `large ${i}`, randomUnit(12, random)));
    await store.contextChunks.replaceForDocument(smallDoc.id, smallChunks);
    await store.contextChunks.replaceForDocument(largeDoc.id, largeChunks);

    const q12 = largeChunks[3]!.embedding;
    const hits = await store.contextChunks.vectorSearch({ sourceIds: [small.id, large.id], embedding: q12, k: 3 });
    expect(hits[0]!.chunkId).toBe(largeChunks[3]!.id);
    expect(hits.every((hit) => largeChunks.some((c) => c.id === hit.chunkId))).toBe(true);
    await expect(store.contextChunks.vectorSearch({ sourceIds: [small.id], embedding: q12, k: 3 })).resolves.toEqual([]);
    const q8 = smallChunks[1]!.embedding;
    expect((await store.contextChunks.vectorSearch({ sourceIds: [small.id, large.id], embedding: q8, k: 1 }))[0]!.chunkId).toBe(
      smallChunks[1]!.id,
    );
    // A dimension no chunk has.
    await expect(store.contextChunks.vectorSearch({ sourceIds: [small.id], embedding: randomUnit(5, random), k: 3 })).resolves.toEqual([]);
  });

  it('finds chunks by keywords, better matches first, restricted to the given sources', async () => {
    const random = rng(10);
    const [src, other] = [await source(8), await source(8)];
    const [doc, otherDoc] = [await document(src), await document(other)];
    const best = chunk(doc, 0, 'Refund policy: a refund is issued within 14 days. Refund requests go to billing.', randomUnit(8, random));
    const some = chunk(doc, 1, 'Our shipping policy covers most countries and many regions of the world.', randomUnit(8, random));
    const headed = chunk(doc, 2, 'Contact the team by email.', randomUnit(8, random), { heading: 'Support > Escalations' });
    const none = chunk(doc, 3, 'Nothing relevant here at all.', randomUnit(8, random));
    await store.contextChunks.replaceForDocument(doc.id, [best, some, headed, none]);
    const elsewhere = chunk(otherDoc, 0, 'Refund policy refund refund.', randomUnit(8, random));
    await store.contextChunks.replaceForDocument(otherDoc.id, [elsewhere]);

    const hits = await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'refund policy', k: 10 });
    expect(chunkIds(hits)).toEqual([best.id, some.id]);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(hits.every((hit) => hit.score > 0)).toBe(true);

    // Case-insensitive, punctuation ignored, any one term is enough.
    expect(chunkIds(await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'REFUND!!!', k: 10 }))).toEqual([best.id]);
    expect(chunkIds(await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'zebra, shipping?', k: 10 }))).toEqual([some.id]);
    // Headings are searchable.
    expect(chunkIds(await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'escalations', k: 10 }))).toEqual([headed.id]);
    // k limits; both sources together.
    expect(await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'refund policy', k: 1 })).toHaveLength(1);
    expect(chunkIds(await store.contextChunks.keywordSearch({ sourceIds: [src.id, other.id], text: 'refund', k: 10 })).sort()).toEqual(
      [best.id, elsewhere.id].sort(),
    );
    await expect(store.contextChunks.keywordSearch({ sourceIds: [], text: 'refund', k: 10 })).resolves.toEqual([]);
    await expect(store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'refund', k: 0 })).resolves.toEqual([]);
  });

  it('never throws on hostile keyword queries', async () => {
    const src = await source(8);
    const doc = await document(src);
    const random = rng(11);
    const target = chunk(doc, 0, 'The zebra and the giraffe met a lion near the river. O\'Reilly wrote: 日本語のテキスト.', randomUnit(8, random));
    await store.contextChunks.replaceForDocument(doc.id, [target]);
    for (const text of HOSTILE_QUERIES) {
      const hits = await store.contextChunks.keywordSearch({ sourceIds: [src.id], text, k: 5 });
      expect(Array.isArray(hits), text).toBe(true);
      if (!/[\p{L}\p{N}]/u.test(text)) expect(hits, JSON.stringify(text)).toEqual([]);
    }
    // Operators are just words: the zebra is found through all of them.
    for (const text of ['NEAR(zebra giraffe, 2)', 'zebra*', '"zebra', 'zebra:A', '-zebra', '^zebra', 'text: zebra']) {
      expect(chunkIds(await store.contextChunks.keywordSearch({ sourceIds: [src.id], text, k: 5 })), text).toEqual([target.id]);
    }
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 60 }), async (text) => {
        const hits = await store.contextChunks.keywordSearch({ sourceIds: [src.id], text, k: 5 });
        expect(Array.isArray(hits)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('leaves no chunk or index rows when the transaction rolls back', async () => {
    const random = rng(12);
    const src = await source(8);
    const doc = await document(src);
    const v = randomUnit(8, random);
    const kept = chunk(doc, 0, 'narwhal original', v);
    await store.contextChunks.replaceForDocument(doc.id, [kept]);

    const replacement = [chunk(doc, 0, 'walrus replacement', near(v, 0.01, random)), chunk(doc, 1, 'walrus again', v)];
    await expect(
      store.transaction(async (tx) => {
        await tx.contextChunks.replaceForDocument(doc.id, replacement);
        // Inside the transaction its own writes are visible.
        expect(chunkIds(await tx.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'walrus', k: 5 })).sort()).toEqual(
          replacement.map((c) => c.id).sort(),
        );
        expect(await tx.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: v, k: 5 })).toHaveLength(2);
        await expect(tx.contextChunks.listForDocument(doc.id)).resolves.toHaveLength(2);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');

    await expect(store.contextChunks.listForDocument(doc.id)).resolves.toEqual([record(kept)]);
    await expect(store.contextChunks.getMany(replacement.map((c) => c.id))).resolves.toEqual([]);
    await expect(store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'walrus', k: 5 })).resolves.toEqual([]);
    expect(chunkIds(await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'narwhal', k: 5 }))).toEqual([kept.id]);
    expect(chunkIds(await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: v, k: 5 }))).toEqual([kept.id]);
    expect([...(await store.contextChunks.embeddingsByHash(src.id, replacement.map((c) => c.textHash))).keys()]).toEqual([]);
  });

  it('indexes a new dimension after a transaction that first used it rolled back', async () => {
    const random = rng(13);
    const src = await source(24);
    const doc = await document(src);
    const v = randomUnit(24, random);
    await expect(
      store.transaction(async (tx) => {
        await tx.contextChunks.replaceForDocument(doc.id, [chunk(doc, 0, 'first try', v)]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await expect(store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: v, k: 5 })).resolves.toEqual([]);

    const c = chunk(doc, 0, 'second try', v);
    await store.transaction((tx) => tx.contextChunks.replaceForDocument(doc.id, [c]));
    expect(chunkIds(await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: v, k: 5 }))).toEqual([c.id]);
  });

  it('commits a replacement made in a transaction with the rest of its writes', async () => {
    const random = rng(14);
    const v = randomUnit(8, random);
    let chunkId = '';
    const src = await store.transaction(async (tx) => {
      const s = await source(8, tx);
      const d = await document(s, tx);
      const c = chunk(d, 0, 'okapi in a transaction', v);
      chunkId = c.id;
      await tx.contextChunks.replaceForDocument(d.id, [c]);
      return s;
    });
    expect(chunkIds(await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'okapi', k: 5 }))).toEqual([chunkId]);
    expect(chunkIds(await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: v, k: 5 }))).toEqual([chunkId]);
  });
});

describe('chunk indexes on SQLite stay in step with the chunk rows', () => {
  let dir: string;
  let store: Store;
  let file: Database.Database;

  beforeAll(async () => {
    dir = tempDir();
    store = await openSqliteStore({ dataDir: dir });
    file = new Database(path.join(dir, 'kairo.sqlite'), { readonly: true });
    sqliteVec.load(file);
  });

  afterAll(async () => {
    file?.close();
    await store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Rows in each index against rows in context_chunks, plus FTS5's own check against its content table. */
  function counts() {
    const count = (sqlText: string) => Number((file.prepare(sqlText).get() as { n: number }).n);
    const vecTables = (file.prepare(`select name from sqlite_master where name glob 'context_vec_[0-9]*' and sql like '%vec0%'`).all() as Array<{ name: string }>).map((r) => r.name);
    return {
      chunks: count('select count(*) as n from context_chunks'),
      fts: count('select count(*) as n from context_chunks_fts_docsize'),
      vectors: vecTables.reduce((sum, table) => sum + count(`select count(*) as n from "${table}_rowids"`), 0),
    };
  }

  it('after inserts, replacements, deletes, cascades and rollbacks', async () => {
    const ws: Workspace = { id: newId('ws'), name: 'Index', plan: 'free', createdAt: Date.now() };
    await store.workspaces.create(ws);
    const scope = { workspaceId: ws.id, livemode: true };
    const now = Date.now();
    const mkSource = (dimensions: number) =>
      store.contextSources.create({
        id: newId('src'), scope, name: newId('src'), type: 'documents', description: null, embeddingModel: 'test',
        embeddingDimensions: dimensions, chunkMaxTokens: 100, chunkOverlapTokens: 0, config: {}, metadata: {},
        refreshIntervalSeconds: null, lastRefreshAt: null, nextRefreshAt: null, lastRefreshError: null, refreshLockedUntil: null,
        createdAt: now, updatedAt: now,
      });
    const mkDoc = (src: ContextSource) =>
      store.contextDocuments.upsert({
        id: newId('doc'), sourceId: src.id, scope, externalId: null, title: null, contentType: 'text/plain', text: '',
        contentHash: '', sizeBytes: 0, status: 'indexed', errorCode: null, errorMessage: null, metadata: {}, chunkCount: 0,
        tokenCount: 0, url: null, etag: null, lastModified: null, version: 1, createdAt: now, updatedAt: now, indexedAt: null,
      });
    const random = rng(20);
    const mkChunks = (doc: ContextDocument, n: number, dimensions: number): ChunkInput[] =>
      Array.from({ length: n }, (_, i) => ({
        id: newId('chunk'), sourceId: doc.sourceId, documentId: doc.id, scope, position: i, text: `chunk ${i} of ${doc.id}`,
        tokenCount: 4, textHash: sha256(`${doc.id}${i}`), heading: i % 2 ? 'h' : null, metadata: {},
        embedding: randomUnit(dimensions, random), createdAt: now,
      }));
    const consistent = () => {
      const c = counts();
      expect(c.fts).toBe(c.chunks);
      expect(c.vectors).toBe(c.chunks);
      return c;
    };

    const [s8, s16] = [await mkSource(8), await mkSource(16)];
    const [a, b, c] = [await mkDoc(s8), await mkDoc(s8), await mkDoc(s16)];
    await store.contextChunks.replaceForDocument(a.id, mkChunks(a, 5, 8));
    await store.contextChunks.replaceForDocument(b.id, mkChunks(b, 3, 8));
    await store.contextChunks.replaceForDocument(c.id, mkChunks(c, 4, 16));
    expect(consistent().chunks).toBe(12);

    await store.contextChunks.replaceForDocument(a.id, mkChunks(a, 2, 8));
    expect(consistent().chunks).toBe(9);

    await expect(
      store.transaction(async (tx) => {
        await tx.contextChunks.replaceForDocument(b.id, mkChunks(b, 7, 8));
        await tx.contextChunks.replaceForDocument(c.id, mkChunks(c, 1, 32));
        throw new Error('roll back');
      }),
    ).rejects.toThrow();
    expect(consistent().chunks).toBe(9);

    await store.contextChunks.deleteForDocument(a.id);
    expect(consistent().chunks).toBe(7);
    await store.contextDocuments.delete(b.id);
    expect(consistent().chunks).toBe(4);
    await store.contextSources.delete(scope, s16.id);
    expect(consistent().chunks).toBe(0);

    // FTS5's own integrity check against the content table.
    const writer = new Database(path.join(dir, 'kairo.sqlite'));
    try {
      expect(() => writer.prepare(`insert into context_chunks_fts (context_chunks_fts, rank) values ('integrity-check', 1)`).run()).not.toThrow();
    } finally {
      writer.close();
    }

    // In a large corpus, terms in most chunks are set aside (they would make the OR query scan
    // most of the table for almost no bm25 weight); a query of only such terms keeps the rarest.
    const big = await mkDoc(s8);
    const many = mkChunks(big, 10_500, 8).map((c, i) => ({
      ...c,
      text: i % 1000 === 7 ? `ubiquitous everywhere scarce ${i}` : i % 3 === 0 ? `ubiquitous everywhere ${i}` : `ubiquitous ${i}`,
    }));
    await store.contextChunks.replaceForDocument(big.id, many);
    const scarce = many.filter((_, i) => i % 1000 === 7).map((c) => c.id);
    const hits = await store.contextChunks.keywordSearch({ sourceIds: [s8.id], text: 'ubiquitous scarce', k: 50 });
    expect(hits.map((h) => h.chunkId).sort()).toEqual([...scarce].sort());
    const common = await store.contextChunks.keywordSearch({ sourceIds: [s8.id], text: 'ubiquitous everywhere', k: 50 });
    expect(common).toHaveLength(50);
    expect(common.every((h) => many.find((c) => c.id === h.chunkId)!.text.includes('everywhere'))).toBe(true);
    expect(consistent().chunks).toBe(10_500);
  });
});

describe('keyword search on PostgreSQL sets aside words in most chunks of a large corpus', () => {
  const schema = uniqueName('kairo_test');
  let store: Store;

  beforeAll(async () => {
    store = await openPostgresStore({ url: postgresUrl, schema, poolSize: 2 });
  });

  afterAll(async () => {
    await store?.close();
    await dropPostgresSchema(postgresUrl, schema);
  });

  it('using the planner statistics of the tsvector column', async () => {
    const ws: Workspace = { id: newId('ws'), name: 'Large', plan: 'free', createdAt: 1 };
    await store.workspaces.create(ws);
    const scope = { workspaceId: ws.id, livemode: false };
    const src = await store.contextSources.create({
      id: newId('src'), scope, name: 'big', type: 'documents', description: null, embeddingModel: 'test', embeddingDimensions: 4,
      chunkMaxTokens: 100, chunkOverlapTokens: 0, config: {}, metadata: {}, refreshIntervalSeconds: null, lastRefreshAt: null,
      nextRefreshAt: null, lastRefreshError: null, refreshLockedUntil: null, createdAt: 1, updatedAt: 1,
    });
    const doc = await store.contextDocuments.upsert({
      id: newId('doc'), sourceId: src.id, scope, externalId: null, title: null, contentType: 'text/plain', text: '',
      contentHash: '', sizeBytes: 0, status: 'indexed', errorCode: null, errorMessage: null, metadata: {}, chunkCount: 0,
      tokenCount: 0, url: null, etag: null, lastModified: null, version: 1, createdAt: 1, updatedAt: 1, indexedAt: null,
    });
    const random = rng(30);
    const many: ChunkInput[] = Array.from({ length: 10_500 }, (_, i) => {
      const text = i % 1000 === 7 ? `ubiquitous everywhere scarce ${i}` : i % 3 === 0 ? `ubiquitous everywhere ${i}` : `ubiquitous ${i}`;
      return {
        id: newId('chunk'), sourceId: src.id, documentId: doc.id, scope, position: i, text, tokenCount: 3, textHash: sha256(text),
        heading: null, metadata: {}, embedding: randomUnit(4, random), createdAt: 1,
      };
    });
    await store.contextChunks.replaceForDocument(doc.id, many);
    const client = new pg.Client({ connectionString: postgresUrl, options: `-c search_path="${schema}"` });
    await client.connect();
    try {
      await client.query('analyze context_chunks');
    } finally {
      await client.end();
    }
    const scarce = many.filter((_, i) => i % 1000 === 7).map((c) => c.id);
    const hits = await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'ubiquitous scarce', k: 50 });
    expect(hits.map((h) => h.chunkId).sort()).toEqual([...scarce].sort());
    const common = await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'ubiquitous everywhere', k: 50 });
    expect(common).toHaveLength(50);
    expect(common.every((h) => many.find((c) => c.id === h.chunkId)!.text.includes('everywhere'))).toBe(true);
  });
});
