/**
 * A randomised check of SQLite's in-memory vector index (src/store/sqlite/vector-index.ts)
 * against exact search, at sizes where it really scans (the conformance suite's sources are small
 * enough that every row is re-scored exactly):
 *
 *   node --import tsx bench/context/index-check.ts [--steps 400] [--seed 7]
 *
 * Four sources (three of 40 dimensions, one of 17) receive documents of up to 300 chunks, with
 * replacements, document deletions (the chunks go by cascade), rolled-back transactions, and
 * zero vectors; a fifth of the writes come from a second store on the same file (another
 * process, as far as the first store's index can tell). Between writes, searches over one source
 * or all of them are compared with an exact scan of what was committed: no deleted chunk may come
 * back, scores must be exact cosines, and recall@k is printed (it should be 1.000). Exits 1 on a
 * mismatch. Run by hand.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { newId } from '../../src/ids.js';
import type { ChunkInput, ContextSource, Scope, Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '400' }, seed: { type: 'string', default: '7' } } });
let seed = Number(values.seed) >>> 0;
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
/** Not normalised, some components larger than others (the index normalises and scales per row). */
const vectorOf = (d: number) => Float32Array.from({ length: d }, () => (random() * 2 - 1) * (random() < 0.3 ? 3 : 1));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kairo-index-check-'));
const store = await openSqliteStore({ dataDir: dir });
const other = await openSqliteStore({ dataDir: dir });
const workspace = { id: newId('ws'), name: 'check', plan: 'free' as const, createdAt: 0 };
await store.workspaces.create(workspace);
const scope: Scope = { workspaceId: workspace.id, livemode: false };

const mkSource = (dimensions: number) =>
  store.contextSources.create({
    id: newId('src'), scope, name: newId('src'), type: 'documents', description: null, embeddingModel: 'check', embeddingDimensions: dimensions,
    chunkMaxTokens: 100, chunkOverlapTokens: 0, config: {}, metadata: {}, refreshIntervalSeconds: null, lastRefreshAt: null, nextRefreshAt: null,
    lastRefreshError: null, refreshLockedUntil: null, createdAt: 0, updatedAt: 0,
  });
const mkDocument = (source: ContextSource) =>
  store.contextDocuments.upsert({
    id: newId('doc'), sourceId: source.id, scope, externalId: null, title: null, contentType: 'text/plain', text: '', contentHash: '',
    sizeBytes: 0, status: 'indexed', errorCode: null, errorMessage: null, metadata: {}, chunkCount: 0, tokenCount: 0, url: null, etag: null,
    lastModified: null, version: 1, createdAt: 0, updatedAt: 0, indexedAt: null,
  });
const chunksOf = (document: { id: string; source: ContextSource }, n: number): ChunkInput[] =>
  Array.from({ length: n }, (_, i) => ({
    id: newId('chunk'), sourceId: document.source.id, documentId: document.id, scope, position: i, text: `chunk ${i}`, tokenCount: 2,
    textHash: createHash('sha256').update(`${document.id} ${i} ${random()}`).digest('hex'), heading: null, metadata: {},
    embedding: random() < 0.02 ? new Float32Array(document.source.embeddingDimensions) : vectorOf(document.source.embeddingDimensions),
    createdAt: 0,
  }));

/** What is committed: chunk id → its source, document and vector. */
const committed = new Map<string, { source: string; document: string; vector: Float32Array }>();
const cosine = (a: Float32Array, b: Float32Array) => {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
};
const exact = (sourceIds: string[], query: Float32Array, k: number) =>
  [...committed.entries()]
    .filter(([, c]) => sourceIds.includes(c.source) && c.vector.length === query.length && c.vector.some((x) => x !== 0))
    .map(([id, c]) => ({ id, score: cosine(c.vector, query) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);

const sources = [await mkSource(40), await mkSource(40), await mkSource(40), await mkSource(17)];
const documents: Array<{ id: string; source: ContextSource }> = [];
let searches = 0;
let recall = 0;
let worstScoreError = 0;
try {
  for (let step = 0; step < Number(values.steps); step++) {
    const r = random();
    const writer: Store = random() < 0.2 ? other : store;
    if (r < 0.45 || documents.length < 3) {
      const source = sources[Math.floor(random() * sources.length)]!;
      const document = { id: (await mkDocument(source)).id, source };
      documents.push(document);
      const chunks = chunksOf(document, Math.floor(random() * 300));
      await writer.contextChunks.replaceForDocument(document.id, chunks);
      for (const c of chunks) committed.set(c.id, { source: source.id, document: document.id, vector: c.embedding });
    } else if (r < 0.6) {
      const document = documents[Math.floor(random() * documents.length)]!;
      const chunks = chunksOf(document, Math.floor(random() * 200));
      await writer.contextChunks.replaceForDocument(document.id, chunks);
      for (const [id, c] of committed) if (c.document === document.id) committed.delete(id);
      for (const c of chunks) committed.set(c.id, { source: document.source.id, document: document.id, vector: c.embedding });
    } else if (r < 0.7) {
      const [document] = documents.splice(Math.floor(random() * documents.length), 1);
      await writer.contextDocuments.delete(document!.id);
      for (const [id, c] of committed) if (c.document === document!.id) committed.delete(id);
    } else if (r < 0.75) {
      const document = documents[Math.floor(random() * documents.length)]!;
      await writer
        .transaction(async (tx) => {
          await tx.contextChunks.replaceForDocument(document.id, chunksOf(document, 50));
          throw new Error('roll back');
        })
        .catch(() => {});
    } else {
      const source = sources[Math.floor(random() * sources.length)]!;
      const sourceIds = random() < 0.5 ? [source.id] : sources.map((s) => s.id);
      const k = [1, 5, 10, 50][Math.floor(random() * 4)]!;
      const query = vectorOf(source.embeddingDimensions);
      const hits = await store.contextChunks.vectorSearch({ sourceIds, embedding: query, k });
      const expected = exact(sourceIds, query, k);
      if (hits.length !== expected.length) throw new Error(`step ${step}: ${hits.length} hits, expected ${expected.length}`);
      const expectedIds = new Set(expected.map((e) => e.id));
      recall += expected.length === 0 ? 1 : hits.filter((h) => expectedIds.has(h.chunkId)).length / expected.length;
      searches++;
      for (const hit of hits) {
        const chunk = committed.get(hit.chunkId);
        if (!chunk) throw new Error(`step ${step}: returned ${hit.chunkId}, which is not committed`);
        worstScoreError = Math.max(worstScoreError, Math.abs(cosine(chunk.vector, query) - hit.score));
      }
    }
  }
  console.log(
    `${searches} searches over ${committed.size} committed chunks: recall@k ${(recall / searches).toFixed(3)}, ` +
      `largest score error ${worstScoreError.toExponential(1)}`,
  );
  if (worstScoreError > 1e-5) process.exitCode = 1;
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await other.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
