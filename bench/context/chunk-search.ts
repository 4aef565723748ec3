/**
 * Chunk search timings at the repository level: vector, keyword and hybrid (both + getMany)
 * queries over N random chunks, on SQLite (in-memory int8 index over the sqlite-vec store, FTS5)
 * or PostgreSQL (whatever mode the server allows). Random unit vectors are the hardest case for a
 * quantised index (nearest neighbours are barely nearer than the rest); `run.ts` is the
 * end-to-end benchmark through the services, with realistic text.
 *
 *   node --import tsx bench/context/chunk-search.ts [--backend sqlite|postgres] [--chunks 100000] [--dims 384] [--sources 1]
 *
 * Prints median and p95 per query kind, and vector recall@10 against an exact scan in JS.
 * Run by hand; never a timed test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { newId } from '../../src/ids.js';
import type { ChunkInput, ContextSource, Scope, Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { dropPostgresSchema, openPostgresStore } from '../../src/store/postgres/postgres-store.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'sqlite' },
    chunks: { type: 'string', default: '100000' },
    dims: { type: 'string', default: '384' },
    sources: { type: 'string', default: '1' },
    queries: { type: 'string', default: '40' },
    url: { type: 'string', default: process.env.KAIRO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const N = Number(values.chunks);
const D = Number(values.dims);
const S = Number(values.sources);
const Q = Number(values.queries);

let seed = 42;
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
function randomUnit(): Float32Array {
  const v = new Float32Array(D);
  let n = 0;
  for (let i = 0; i < D; i++) {
    v[i] = random() * 2 - 1;
    n += v[i]! * v[i]!;
  }
  n = Math.sqrt(n);
  for (let i = 0; i < D; i++) v[i]! /= n;
  return v;
}
// Zipf-ish vocabulary, so some words are in most chunks and most words in few.
const vocabulary = Array.from({ length: 20_000 }, (_, i) => `w${i.toString(36)}`);
const word = () => vocabulary[Math.floor(vocabulary.length ** random()) - 1]!;
const sentence = (n: number) => Array.from({ length: n }, word).join(' ');

async function open(): Promise<{ store: Store; analyze(): Promise<void>; dispose(): Promise<void> }> {
  if (values.backend === 'postgres') {
    const schema = `kairo_bench_${Date.now().toString(36)}`;
    const store = await openPostgresStore({ url: values.url!, schema, poolSize: 4 });
    return {
      store,
      // What autovacuum would do shortly after a bulk load: keyword search reads the statistics.
      async analyze() {
        const client = new pg.Client({ connectionString: values.url!, options: `-c search_path="${schema}"` });
        await client.connect();
        await client.query('analyze context_chunks').finally(() => client.end());
      },
      dispose: async () => { await store.close(); await dropPostgresSchema(values.url!, schema); },
    };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kairo-bench-'));
  const store = await openSqliteStore({ dataDir: dir });
  return { store, analyze: async () => {}, dispose: async () => { await store.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

function stats(label: string, samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  console.log(`${label.padEnd(44)} median ${at(0.5).toFixed(2).padStart(8)} ms   p95 ${at(0.95).toFixed(2).padStart(8)} ms`);
}

async function main() {
  const { store, analyze, dispose } = await open();
  try {
    const ws = { id: newId('ws'), name: 'bench', plan: 'free' as const, createdAt: Date.now() };
    await store.workspaces.create(ws);
    const scope: Scope = { workspaceId: ws.id, livemode: false };
    const sources: ContextSource[] = [];
    for (let s = 0; s < S; s++) {
      sources.push(await store.contextSources.create({
        id: newId('src'), scope, name: `s${s}`, type: 'documents', description: null, embeddingModel: 'bench', embeddingDimensions: D,
        chunkMaxTokens: 256, chunkOverlapTokens: 0, config: {}, metadata: {}, refreshIntervalSeconds: null, lastRefreshAt: null,
        nextRefreshAt: null, lastRefreshError: null, refreshLockedUntil: null, createdAt: 0, updatedAt: 0,
      }));
    }
    const all: Array<{ id: string; source: string; v: Float32Array }> = [];
    const perDoc = 100;
    const started = performance.now();
    for (let d = 0; d * perDoc < N; d++) {
      const src = sources[d % S]!;
      const doc = await store.contextDocuments.upsert({
        id: newId('doc'), sourceId: src.id, scope, externalId: null, title: null, contentType: 'text/plain', text: '',
        contentHash: '', sizeBytes: 0, status: 'indexed', errorCode: null, errorMessage: null, metadata: {}, chunkCount: perDoc,
        tokenCount: 0, url: null, etag: null, lastModified: null, version: 1, createdAt: 0, updatedAt: 0, indexedAt: null,
      });
      const chunks: ChunkInput[] = [];
      for (let i = 0; i < perDoc && d * perDoc + i < N; i++) {
        const text = sentence(60);
        const embedding = randomUnit();
        chunks.push({
          id: newId('chunk'), sourceId: src.id, documentId: doc.id, scope, position: i, text, tokenCount: 60,
          textHash: createHash('sha256').update(text).digest('hex'), heading: null, metadata: {}, embedding, createdAt: 0,
        });
        all.push({ id: chunks.at(-1)!.id, source: src.id, v: embedding });
      }
      await store.transaction((tx) => tx.contextChunks.replaceForDocument(doc.id, chunks));
    }
    await analyze();
    console.log(`${values.backend}: ${N} chunks × ${D} dims in ${S} source(s), ingested in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const scenarios: Array<[string, string[]]> = [['all sources', sources.map((s) => s.id)]];
    if (S > 2) scenarios.push([`2 of ${S} sources`, sources.slice(0, 2).map((s) => s.id)]);
    for (const [name, sourceIds] of scenarios) {
      const vec10: number[] = [], vec40: number[] = [], kw: number[] = [], hybrid: number[] = [];
      let recall = 0;
      for (let q = 0; q < Q; q++) {
        const embedding = randomUnit();
        const text = `${sentence(4)} ${vocabulary[q]}`;
        let t = performance.now();
        const hits = await store.contextChunks.vectorSearch({ sourceIds, embedding, k: 10 });
        vec10.push(performance.now() - t);
        t = performance.now();
        await store.contextChunks.vectorSearch({ sourceIds, embedding, k: 40 });
        vec40.push(performance.now() - t);
        t = performance.now();
        await store.contextChunks.keywordSearch({ sourceIds, text, k: 40 });
        kw.push(performance.now() - t);
        t = performance.now();
        const [v, k] = await Promise.all([
          store.contextChunks.vectorSearch({ sourceIds, embedding, k: 40 }),
          store.contextChunks.keywordSearch({ sourceIds, text, k: 40 }),
        ]);
        const fused = new Map<string, number>();
        for (const list of [v, k]) list.forEach((hit, rank) => fused.set(hit.chunkId, (fused.get(hit.chunkId) ?? 0) + 1 / (60 + rank)));
        await store.contextChunks.getMany([...fused.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([id]) => id));
        hybrid.push(performance.now() - t);
        if (q < 10) {
          const wanted = new Set(sourceIds);
          const exact = all
            .filter((c) => wanted.has(c.source))
            .map((c) => { let dot = 0; for (let i = 0; i < D; i++) dot += c.v[i]! * embedding[i]!; return { id: c.id, dot }; })
            .sort((a, b) => b.dot - a.dot)
            .slice(0, 10);
          recall += hits.filter((h) => exact.some((e) => e.id === h.chunkId)).length / 10;
        }
      }
      console.log(`-- ${name}: vector recall@10 vs exact = ${(recall / Math.min(10, Q)).toFixed(3)}`);
      stats('vectorSearch k=10', vec10);
      stats('vectorSearch k=40', vec40);
      stats('keywordSearch k=40 (5 words, OR)', kw);
      stats('hybrid (vector k=40 + keyword k=40 + getMany 10)', hybrid);
    }
  } finally {
    await dispose();
  }
}

await main();
