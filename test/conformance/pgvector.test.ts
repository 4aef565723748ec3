/**
 * The pgvector mode of the PostgreSQL chunk repository (src/store/postgres/postgres-chunk-repo.ts),
 * on PGlite with pgvector 0.8: the test machines' PostgreSQL has no pgvector (its exact-scan mode
 * is covered by chunks.test.ts). Migration, lazy per-dimension HNSW indexes, `<=>` KNN through
 * those indexes, source filters with iterative scans and the exact fallback, full text.
 */
import { createHash } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import {
  CompiledQuery, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql,
  type DatabaseConnection, type Dialect, type Driver, type QueryResult,
} from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import type { ChunkInput, ContextDocument, ContextSource, Scope, Store } from '../../src/store/port.js';
import type { Database } from '../../src/store/schema.js';
import { KyselyStore, migrate } from '../../src/store/kysely-store.js';
import { postgresMigrations } from '../../src/store/postgres/migrations/index.js';
import { PostgresChunkIndex } from '../../src/store/postgres/postgres-chunk-repo.js';
import { mergeCounts } from '../../src/store/postgres/postgres-store.js';

// ---------------------------------------------------------------------------------------------
// A minimal Kysely dialect over PGlite: one session, so connections are handed out one at a time.

class PgliteConnection implements DatabaseConnection {
  constructor(private readonly pg: PGlite, readonly release: () => void) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.pg.query<R>(query.sql, [...query.parameters]);
    return { rows: result.rows, ...(result.affectedRows !== undefined ? { numAffectedRows: BigInt(result.affectedRows) } : {}) };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported');
  }
}

class PgliteDriver implements Driver {
  private lock: Promise<void> = Promise.resolve();

  constructor(private readonly pg: PGlite) {}

  async init() {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.lock;
    let release!: () => void;
    this.lock = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return new PgliteConnection(this.pg, release);
  }

  async beginTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection) {
    (connection as PgliteConnection).release();
  }

  async destroy() {
    await this.pg.close();
  }
}

function pgliteDialect(pg: PGlite): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PgliteDriver(pg),
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createIntrospector: (db) => new PostgresIntrospector(db),
  };
}

// ---------------------------------------------------------------------------------------------

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

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

const randomUnit = (dimensions: number, random: () => number): Float32Array =>
  unit(Array.from({ length: dimensions }, () => random() * 2 - 1));

const near = (base: Float32Array, amount: number, random: () => number): Float32Array =>
  unit(Array.from(base, (v) => v + (random() * 2 - 1) * amount));

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** A migrated PGlite database with pgvector, as a Store, recording the SQL it runs. */
async function openPglite(options: { schema?: string } = {}) {
  const pg = new PGlite({ extensions: { vector } });
  if (options.schema) {
    // pgvector already installed in public, the store's tables in a schema of their own that
    // does not see public: every vector type and operator must be schema-qualified.
    await pg.exec(`create extension vector; create schema ${options.schema}; set search_path to ${options.schema}`);
  }
  const queries: Array<{ sql: string; parameters: readonly unknown[] }> = [];
  const db = new Kysely<Database>({
    dialect: pgliteDialect(pg),
    log: (event) => {
      if (event.level === 'query') queries.push({ sql: event.query.sql, parameters: event.query.parameters });
    },
  });
  await migrate(db, { migrationTableSchema: options.schema ?? 'public', dialectMigrations: postgresMigrations });
  const index = await PostgresChunkIndex.open(db);
  const store = new KyselyStore(db, { name: 'postgres', skipLocked: true, chunkRepo: (executor) => index.repo(executor), mergeCounts, sumsNamedGroupings: false });
  return { pg, db, index, store, queries };
}

describe('pgvector chunk search (PGlite)', () => {
  let pg: PGlite;
  let db: Kysely<Database>;
  let index: PostgresChunkIndex;
  let store: Store;
  let queries: Array<{ sql: string; parameters: readonly unknown[] }>;
  let scope: Scope;

  beforeAll(async () => {
    ({ pg, db, index, store, queries } = await openPglite());
    const ws = { id: newId('ws'), name: 'Vectors', plan: 'free' as const, createdAt: Date.now() };
    await store.workspaces.create(ws);
    scope = { workspaceId: ws.id, livemode: true };
  }, 60_000);

  afterAll(async () => {
    await store?.close();
  });

  async function source(dimensions: number): Promise<ContextSource> {
    const now = Date.now();
    return store.contextSources.create({
      id: newId('src'), scope, name: newId('src'), type: 'documents', description: null, embeddingModel: `test/${dimensions}`,
      embeddingDimensions: dimensions, chunkMaxTokens: 256, chunkOverlapTokens: 0, config: {}, metadata: {},
      refreshIntervalSeconds: null, lastRefreshAt: null, nextRefreshAt: null, lastRefreshError: null, refreshLockedUntil: null,
      createdAt: now, updatedAt: now,
    });
  }

  async function document(src: ContextSource): Promise<ContextDocument> {
    const now = Date.now();
    return store.contextDocuments.upsert({
      id: newId('doc'), sourceId: src.id, scope, externalId: null, title: null, contentType: 'text/plain', text: '',
      contentHash: '', sizeBytes: 0, status: 'indexing', errorCode: null, errorMessage: null, metadata: {}, chunkCount: 0,
      tokenCount: 0, url: null, etag: null, lastModified: null, version: 1, createdAt: now, updatedAt: now, indexedAt: null,
    });
  }

  const chunk = (doc: ContextDocument, position: number, text: string, embedding: Float32Array): ChunkInput => ({
    id: newId('chunk'), sourceId: doc.sourceId, documentId: doc.id, scope, position, text, tokenCount: 3,
    textHash: sha256(text), heading: null, metadata: {}, embedding, createdAt: Date.now(),
  });

  const ids = (hits: Array<{ chunkId: string }>) => hits.map((hit) => hit.chunkId);

  const hnswIndexes = async () =>
    (
      await sql<{ name: string; definition: string }>`
        select indexname as name, indexdef as definition from pg_indexes
         where tablename = 'context_chunks' and indexdef ilike '%using hnsw%' order by indexname`.execute(db)
    ).rows;

  it('migrates to a vector column and reads the mode at open', async () => {
    expect(index.mode).toEqual({ kind: 'pgvector', schema: 'public', iterativeScan: true });
    const column = await sql<{ type: string }>`
      select format_type(atttypid, atttypmod) as type from pg_attribute
       where attrelid = 'context_chunks'::regclass and attname = 'embedding'`.execute(db);
    expect(column.rows[0]?.type).toBe('vector');
  });

  it('creates one partial HNSW index per dimension as dimensions appear', async () => {
    expect(await hnswIndexes()).toEqual([]);
    const random = rng(1);
    const [s8, s12] = [await source(8), await source(12)];
    const [d8, d12] = [await document(s8), await document(s12)];
    await store.contextChunks.replaceForDocument(d8.id, [chunk(d8, 0, 'eight', randomUnit(8, random))]);
    await store.contextChunks.replaceForDocument(d8.id, [chunk(d8, 0, 'eight again', randomUnit(8, random))]);
    await store.contextChunks.replaceForDocument(d12.id, [chunk(d12, 0, 'twelve', randomUnit(12, random))]);
    const found = await hnswIndexes();
    expect(found.map((i) => i.name)).toEqual(['context_chunks_hnsw_12', 'context_chunks_hnsw_8']);
    expect(found[1]!.definition).toMatch(/USING hnsw \(\(\(embedding\)::vector\(8\)\) vector_cosine_ops\) WHERE \(dimensions = 8\)/);
  });

  it('runs KNN through the HNSW index with <=>, exact enough and best first', async () => {
    const random = rng(2);
    const src = await source(16);
    const doc = await document(src);
    const query = randomUnit(16, random);
    const chunks = Array.from({ length: 300 }, (_, i) => chunk(doc, i, `v${i}`, i < 20 ? near(query, 0.3, random) : randomUnit(16, random)));
    await store.contextChunks.replaceForDocument(doc.id, chunks);

    queries.length = 0;
    const hits = await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: query, k: 10 });
    const expected = chunks.map((c) => ({ id: c.id, s: cosine(query, c.embedding) })).sort((a, b) => b.s - a.s).slice(0, 10);
    expect(hits).toHaveLength(10);
    expect(hits[0]!.chunkId).toBe(expected[0]!.id);
    const overlap = ids(hits).filter((id) => expected.some((e) => e.id === id)).length;
    expect(overlap).toBeGreaterThanOrEqual(9);
    for (const hit of hits) expect(hit.score).toBeCloseTo(cosine(query, chunks.find((c) => c.id === hit.chunkId)!.embedding), 5);
    for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeLessThanOrEqual(hits[i - 1]!.score);

    // The statement the repository ran orders by <=> and the planner can serve it from the index.
    const knn = queries.find((q) => q.sql.includes('<=>') && q.sql.includes('order by') && !q.sql.includes('+ 0'));
    expect(knn, 'the KNN statement').toBeDefined();
    await pg.exec('set enable_seqscan = off; set enable_bitmapscan = off');
    try {
      const plan = await pg.query<{ 'QUERY PLAN': string }>(`explain ${knn!.sql}`, [...knn!.parameters]);
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index Scan using context_chunks_hnsw_16/);
    } finally {
      await pg.exec('reset enable_seqscan; reset enable_bitmapscan');
    }
    // It did not need the exact fallback.
    expect(queries.some((q) => q.sql.includes('+ 0'))).toBe(false);
  });

  it('returns k chunks of the given sources even when other sources are nearer (iterative scan)', async () => {
    const random = rng(3);
    const query = randomUnit(10, random);
    const [mine, crowd] = [await source(10), await source(10)];
    const [myDoc, crowdDoc] = [await document(mine), await document(crowd)];
    await store.contextChunks.replaceForDocument(
      crowdDoc.id,
      Array.from({ length: 1500 }, (_, i) => chunk(crowdDoc, i, `crowd ${i}`, near(query, 0.05, random))),
    );
    const mineChunks = Array.from({ length: 8 }, (_, i) => chunk(myDoc, i, `mine ${i}`, randomUnit(10, random)));
    await store.contextChunks.replaceForDocument(myDoc.id, mineChunks);
    const expected = mineChunks.map((c) => ({ id: c.id, s: cosine(query, c.embedding) })).sort((a, b) => b.s - a.s);

    queries.length = 0;
    await pg.exec('set enable_seqscan = off; set enable_bitmapscan = off'); // make the planner take the HNSW index
    try {
      const hits = await store.contextChunks.vectorSearch({ sourceIds: [mine.id], embedding: query, k: 5 });
      expect(ids(hits)).toEqual(expected.slice(0, 5).map((e) => e.id));

      // Without iterative scans (pgvector < 0.8) the index walk stops early; the exact re-query still answers right.
      const old = new PostgresChunkIndex({ kind: 'pgvector', schema: 'public', iterativeScan: false }).repo(db);
      const oldHits = await old.vectorSearch({ sourceIds: [mine.id], embedding: query, k: 5 });
      expect(ids(oldHits)).toEqual(expected.slice(0, 5).map((e) => e.id));
    } finally {
      await pg.exec('reset enable_seqscan; reset enable_bitmapscan');
    }
    expect(queries.some((q) => q.sql.includes("set_config('hnsw.iterative_scan'"))).toBe(true);
  });

  it('searches vectors past HNSW’s 2000 dimensions exactly, without an index', async () => {
    const random = rng(4);
    const src = await source(2048);
    const doc = await document(src);
    const chunks = Array.from({ length: 5 }, (_, i) => chunk(doc, i, `wide ${i}`, randomUnit(2048, random)));
    await store.contextChunks.replaceForDocument(doc.id, chunks);
    expect((await hnswIndexes()).some((i) => i.name === 'context_chunks_hnsw_2048')).toBe(false);
    const hits = await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: chunks[2]!.embedding, k: 2 });
    expect(hits[0]!.chunkId).toBe(chunks[2]!.id);
    expect(hits[0]!.score).toBeCloseTo(1, 5);
  });

  it('round-trips embeddings exactly through the vector column', async () => {
    const random = rng(5);
    const src = await source(8);
    const doc = await document(src);
    const raw = Float32Array.from({ length: 8 }, () => (random() - 0.5) * 1e3 * random());
    raw[2] = 1e-30;
    await store.contextChunks.replaceForDocument(doc.id, [chunk(doc, 0, 'exact', raw)]);
    const found = await store.contextChunks.embeddingsByHash(src.id, [sha256('exact'), sha256('missing')]);
    expect([...found.keys()]).toEqual([sha256('exact')]);
    expect(Array.from(found.get(sha256('exact'))!)).toEqual(Array.from(raw));

    // A zero vector is stored, but has no cosine: vector search never returns it.
    const zero = { ...chunk(doc, 1, 'zero', new Float32Array(8)) };
    await store.contextChunks.replaceForDocument(doc.id, [zero]);
    await expect(store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: raw, k: 3 })).resolves.toEqual([]);
    expect(Array.from((await store.contextChunks.embeddingsByHash(src.id, [sha256('zero')])).get(sha256('zero'))!)).toEqual(Array(8).fill(0));
  });

  it('replaces, deletes and rolls back with the index rows', async () => {
    const random = rng(6);
    const src = await source(20);
    const doc = await document(src);
    const v = randomUnit(20, random);
    await expect(
      store.transaction(async (tx) => {
        await tx.contextChunks.replaceForDocument(doc.id, [chunk(doc, 0, 'rolled back', v)]);
        expect(await tx.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: v, k: 3 })).toHaveLength(1);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    // The index creation rolled back with it, and comes back on the next write.
    expect((await hnswIndexes()).some((i) => i.name === 'context_chunks_hnsw_20')).toBe(false);
    await expect(store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: v, k: 3 })).resolves.toEqual([]);

    const kept = chunk(doc, 0, 'kept kangaroo', v);
    await store.contextChunks.replaceForDocument(doc.id, [kept]);
    expect((await hnswIndexes()).some((i) => i.name === 'context_chunks_hnsw_20')).toBe(true);
    expect(ids(await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: v, k: 3 }))).toEqual([kept.id]);
    expect(ids(await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'Kangaroo?', k: 3 }))).toEqual([kept.id]);

    await store.contextChunks.deleteForSource(src.id);
    await expect(store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: v, k: 3 })).resolves.toEqual([]);
    await expect(store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'kangaroo', k: 3 })).resolves.toEqual([]);
  });

  it('ranks keyword matches and survives hostile input', async () => {
    const random = rng(7);
    const src = await source(8);
    const doc = await document(src);
    const best = chunk(doc, 0, 'refund policy: refunds within 14 days, refund by card', randomUnit(8, random));
    const some = chunk(doc, 1, 'the shipping policy', randomUnit(8, random));
    await store.contextChunks.replaceForDocument(doc.id, [best, some, chunk(doc, 2, 'unrelated', randomUnit(8, random))]);
    const hits = await store.contextChunks.keywordSearch({ sourceIds: [src.id], text: 'refund policy', k: 5 });
    expect(ids(hits)).toEqual([best.id, some.id]);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    for (const text of ['', '"', "'", '\\', "'refund':*", 'refund & | ! <->', 'NEAR(', 'AND OR', '日本語', '\u0000', '!!!']) {
      await expect(store.contextChunks.keywordSearch({ sourceIds: [src.id], text, k: 5 }), text).resolves.toBeInstanceOf(Array);
    }
  });
});

describe('pgvector installed in another schema (PGlite)', () => {
  it('qualifies the vector type, operator and operator class', async () => {
    const { db, index, store } = await openPglite({ schema: 'kairo_app' });
    try {
      expect(index.mode).toEqual({ kind: 'pgvector', schema: 'public', iterativeScan: true });
      const ws = { id: newId('ws'), name: 'Elsewhere', plan: 'free' as const, createdAt: 1 };
      await store.workspaces.create(ws);
      const scope = { workspaceId: ws.id, livemode: false };
      const src = await store.contextSources.create({
        id: newId('src'), scope, name: 's', type: 'documents', description: null, embeddingModel: 'm', embeddingDimensions: 6,
        chunkMaxTokens: 10, chunkOverlapTokens: 0, config: {}, metadata: {}, refreshIntervalSeconds: null, lastRefreshAt: null,
        nextRefreshAt: null, lastRefreshError: null, refreshLockedUntil: null, createdAt: 1, updatedAt: 1,
      });
      const doc = await store.contextDocuments.upsert({
        id: newId('doc'), sourceId: src.id, scope, externalId: null, title: null, contentType: 'text/plain', text: '',
        contentHash: '', sizeBytes: 0, status: 'indexing', errorCode: null, errorMessage: null, metadata: {}, chunkCount: 0,
        tokenCount: 0, url: null, etag: null, lastModified: null, version: 1, createdAt: 1, updatedAt: 1, indexedAt: null,
      });
      const random = rng(8);
      const chunks = Array.from({ length: 4 }, (_, i): ChunkInput => ({
        id: newId('chunk'), sourceId: src.id, documentId: doc.id, scope, position: i, text: `item ${i}`, tokenCount: 2,
        textHash: sha256(`item ${i}`), heading: null, metadata: {}, embedding: randomUnit(6, random), createdAt: 1,
      }));
      await store.contextChunks.replaceForDocument(doc.id, chunks);
      const hits = await store.contextChunks.vectorSearch({ sourceIds: [src.id], embedding: chunks[1]!.embedding, k: 2 });
      expect(hits[0]!.chunkId).toBe(chunks[1]!.id);
      const found = await sql<{ schema: string }>`
        select schemaname as schema from pg_indexes where indexname = 'context_chunks_hnsw_6'`.execute(db);
      expect(found.rows).toEqual([{ schema: 'kairo_app' }]);
    } finally {
      await store.close();
    }
  }, 60_000);
});
