/**
 * Context benchmark on the embedded store (SQLite: sqlite-vec + FTS5, with the in-memory int8
 * vector index), through the same services the API uses:
 *
 *   npm run bench:context -- [--sizes 10000,100000] [--queries 100] [--max-tokens 200] [--seed 1]
 *
 * For each size it ingests synthetic documents through IngestService (parse, chunk, embed with
 * the built-in kairo/hash-384 model, store: chunk rows, FTS5, sqlite-vec, in one transaction per
 * document) up to that many chunks, and reports ingest throughput; then it times queries through
 * RetrievalService.query in `vector`, `keyword` and `hybrid` mode (p50 / p95), beside two
 * baselines measured in the same run over the same N × 384 vectors:
 *
 * - the memory-bandwidth floor: the fastest of a WebAssembly SIMD sum (sampled before every
 *   query, so that a busy machine slows floor and queries alike), a JS sum and a memcpy of the
 *   vectors as float32 — the time merely to read them once;
 * - a plain exact scan: JS dot products over a Float32Array holding them, and top 10.
 *
 * Recall@10 of the vector path is measured against that exact scan. At the largest size the
 * target is: hybrid p50 ≤ 2 × floor, recall@10 ≥ 0.95 (PASS / FAIL).
 *
 * Documents are generated from a vocabulary with Zipf-distributed word frequencies (English
 * function words at the top ranks, pseudo-words below), each document leaning on a topic of its
 * own, so full-text search sees realistic posting-list lengths; queries are 2–5 words taken from
 * a document, some with a question prefix or a typo. Run by hand; never a timed test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import SqliteDatabase from 'better-sqlite3';
import type { ContextSource, Scope, Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { createVectorKernel, WASM_PAGE } from '../../src/store/sqlite/vector-kernel.js';
import { newId } from '../../src/ids.js';
import { LocalQueue } from '../../src/queue/local-queue.js';
import { createLocalHashEmbedder, LOCAL_HASH_DIMENSIONS, LOCAL_HASH_MODEL } from '../../src/context/embedders/local-hash-embedder.js';
import type { EmbedderRegistry } from '../../src/context/ports.js';
import { SourceService } from '../../src/context/sources.js';
import { DocumentIndexer } from '../../src/context/indexer.js';
import { IngestService, type IngestItem } from '../../src/context/ingest.js';
import { DocumentWork } from '../../src/context/document-work.js';
import { ProcessPool } from '../../src/compute/process-pool.js';
import { DEFAULT_PARSE_LIMITS } from '../../src/context/parse/index.js';
import { RetrievalService, type SearchMode } from '../../src/context/retrieval.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    queries: { type: 'string', default: '100' },
    'max-tokens': { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    'top-k': { type: 'string', default: '10' },
    /** Keep the database directory (printed) instead of deleting it. */
    keep: { type: 'boolean', default: false },
  },
});
const SIZES = values.sizes!.split(',').map(Number).filter((n) => n > 0).sort((a, b) => a - b);
const QUERIES = Number(values.queries);
const MAX_TOKENS = Number(values['max-tokens']);
const TOP_K = Number(values['top-k']);
const D = LOCAL_HASH_DIMENSIONS;
const WARMUP = 10;
/** Bytes per vector in the in-memory index: 384 int8 values, a float32 scale, padding. */
const INDEX_ROW_BYTES = Math.ceil(D / 16) * 16 + 16;

// --- deterministic synthetic text ----------------------------------------------------------------

let state = Number(values.seed) >>> 0;
const random = (): number => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const FUNCTION_WORDS = (
  'the of and to a in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were her she there been one all we their has would when if more no out so said what up its about into than ' +
  'them can only other new some could time these two may then do first any my now such like our over'
).split(' ');
const ONSETS = ['b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z', 'br', 'ch', 'cl', 'cr', 'dr', 'fl', 'gr', 'pl', 'pr', 'sh', 'sl', 'st', 'str', 'th', 'tr'];
const NUCLEI = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ee', 'io', 'ou', 'oa'];
const CODAS = ['', '', '', 'n', 'r', 's', 't', 'l', 'm', 'nd', 'st', 'ck', 'ng', 'rt'];
const SUFFIXES = ['', '', '', '', 's', 'ed', 'ing', 'er', 'ly', 'tion', 'ment', 'ness'];

/** 40,000 distinct words: function words first, then pronounceable pseudo-words. */
const VOCABULARY: string[] = (() => {
  const words = new Set(FUNCTION_WORDS);
  while (words.size < 40_000) {
    const syllables = 1 + Math.floor(random() * 3);
    let word = '';
    for (let s = 0; s < syllables; s++) word += pick(ONSETS) + pick(NUCLEI) + pick(CODAS);
    words.add(word + pick(SUFFIXES));
  }
  return [...words];
})();
/** Zipf (s = 1.05) over the vocabulary's ranks, as a cumulative distribution. */
const CDF: Float64Array = (() => {
  const cdf = new Float64Array(VOCABULARY.length);
  let sum = 0;
  for (let r = 0; r < VOCABULARY.length; r++) cdf[r] = sum += 1 / (r + 1) ** 1.05;
  for (let r = 0; r < cdf.length; r++) cdf[r]! /= sum;
  return cdf;
})();
function zipfWord(): string {
  const u = random();
  let lo = 0;
  let hi = CDF.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (CDF[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return VOCABULARY[lo]!;
}
const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

interface Generated {
  item: IngestItem;
  paragraphs: string[];
}

/** A document: a title, 2–5 sections of 2–5 paragraphs; a quarter of its words from its own topic. */
function generateDocument(n: number): Generated {
  const topic = Array.from({ length: 24 }, () => VOCABULARY[100 + Math.floor(random() * 20_000)]!);
  const word = () => (random() < 0.25 ? pick(topic) : zipfWord());
  const words = (count: number) => Array.from({ length: count }, word);
  const paragraphs: string[] = [];
  const sections: string[] = [];
  for (let s = 2 + Math.floor(random() * 4); s > 0; s--) {
    const body: string[] = [];
    for (let p = 2 + Math.floor(random() * 4); p > 0; p--) {
      const sentences: string[] = [];
      for (let t = 3 + Math.floor(random() * 5); t > 0; t--) sentences.push(`${capitalise(words(6 + Math.floor(random() * 15)).join(' '))}.`);
      const paragraph = sentences.join(' ');
      paragraphs.push(paragraph);
      body.push(paragraph);
    }
    sections.push(`## ${capitalise(words(2 + Math.floor(random() * 3)).join(' '))}\n\n${body.join('\n\n')}`);
  }
  const title = capitalise([pick(topic), pick(topic), zipfWord()].join(' '));
  return {
    item: {
      externalId: `doc-${n}`,
      title,
      text: `# ${title}\n\n${sections.join('\n\n')}`,
      contentType: 'text/markdown',
      metadata: { category: `c${Math.floor(random() * 8)}`, year: 2018 + Math.floor(random() * 8) },
    },
    paragraphs,
  };
}

/** A query from a document: 2–5 consecutive words, sometimes after a question, sometimes with a typo. */
function generateQuery(paragraphs: string[]): string {
  const words = pick(paragraphs).toLowerCase().replace(/[^\p{L}\p{N} ]/gu, '').split(' ').filter(Boolean);
  const length = 2 + Math.floor(random() * 4);
  const start = Math.floor(random() * Math.max(1, words.length - length));
  const chosen = words.slice(start, start + length);
  if (random() < 0.2) {
    const i = Math.floor(random() * chosen.length);
    const w = chosen[i]!;
    if (w.length > 4) chosen[i] = w.slice(0, 2) + w[3] + w[2] + w.slice(4);
  }
  const prefix = random() < 0.3 ? `${pick(['how do i', 'what is the', 'where can i find', 'tell me about'])} ` : '';
  return prefix + chosen.join(' ');
}

// --- measurement helpers ---------------------------------------------------------------------------

function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
const median = (samples: number[]) => percentile(samples, 0.5);
const ms = (value: number) => `${value.toFixed(2).padStart(8)} ms`;
const ratio = (value: number, floor: number) => `${(value / floor).toFixed(2).padStart(6)}×`;
const int = (value: number) => Math.round(value).toLocaleString('en-US');

function timeRepeated(repeats: number, run: () => unknown): number {
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    run();
    samples.push(performance.now() - t);
  }
  return median(samples);
}

interface Exact {
  ids: string[];
  memory: { buffer: ArrayBuffer };
  matrix: Float32Array;
  kernel: ReturnType<typeof createVectorKernel>;
}

/** Every vector of the store, normalised, in one Float32Array (inside a WebAssembly memory, so the SIMD read can time it too). */
function loadVectors(file: string): Exact {
  const db = new SqliteDatabase(file, { readonly: true });
  try {
    const [{ n }] = db.prepare(`select count(*) as n from context_chunks where dimensions = ?`).all(D) as [{ n: number }];
    const kernel = createVectorKernel(Math.ceil((n * D * 4 + 64) / WASM_PAGE));
    const matrix = new Float32Array(kernel.memory.buffer, 0, n * D);
    const ids: string[] = [];
    let row = 0;
    const scratch = new Float32Array(D);
    const bytes = new Uint8Array(scratch.buffer);
    for (const [id, blob] of db.prepare(`select id, embedding from context_chunks where dimensions = ?`).raw(true).iterate(D) as IterableIterator<[string, Uint8Array]>) {
      bytes.set(blob);
      let norm = 0;
      for (let d = 0; d < D; d++) norm += scratch[d]! * scratch[d]!;
      norm = Math.sqrt(norm) || 1;
      for (let d = 0; d < D; d++) matrix[row * D + d] = scratch[d]! / norm;
      ids.push(id);
      row++;
    }
    return { ids, memory: kernel.memory, matrix, kernel };
  } finally {
    db.close();
  }
}

/** Exact top k by cosine: JS dot products over the matrix. Also returns the k-th score (for ties). */
function exactScan(exact: Exact, query: Float32Array, k: number): { ids: Set<string>; kth: number; scores: Map<string, number> } {
  const { matrix, ids } = exact;
  const n = ids.length;
  const best: Array<{ i: number; s: number }> = [];
  let threshold = -Infinity;
  for (let r = 0; r < n; r++) {
    const o = r * D;
    let a = 0, b = 0, c = 0, e = 0;
    for (let d = 0; d < D; d += 4) {
      a += matrix[o + d]! * query[d]!;
      b += matrix[o + d + 1]! * query[d + 1]!;
      c += matrix[o + d + 2]! * query[d + 2]!;
      e += matrix[o + d + 3]! * query[d + 3]!;
    }
    const s = a + b + c + e;
    if (best.length < k || s > threshold) {
      best.push({ i: r, s });
      best.sort((x, y) => y.s - x.s);
      if (best.length > k) best.pop();
      threshold = best[best.length - 1]!.s;
    }
  }
  return { ids: new Set(best.map((h) => ids[h.i]!)), kth: threshold, scores: new Map(best.map((h) => [ids[h.i]!, h.s])) };
}

/** One read of the N × 384 float32 vectors by the WebAssembly SIMD sum (the fastest reader found). */
function floorSample(exact: Exact): number {
  const t = performance.now();
  exact.kernel.sumFloat32(0, Math.floor(exact.matrix.length / 16));
  return performance.now() - t;
}

/** Other ways to read the same bytes once, for comparison: a JS loop and a memcpy. */
function otherReads(exact: Exact): { js: number; memcpy: number } {
  const { matrix } = exact;
  let sink = 0;
  const js = timeRepeated(7, () => {
    let a = 0, b = 0, c = 0, d = 0;
    for (let i = 0; i + 3 < matrix.length; i += 4) {
      a += matrix[i]!;
      b += matrix[i + 1]!;
      c += matrix[i + 2]!;
      d += matrix[i + 3]!;
    }
    sink += a + b + c + d;
  });
  const source = Buffer.from(matrix.buffer, matrix.byteOffset, matrix.byteLength);
  const target = Buffer.allocUnsafe(source.length);
  const memcpy = timeRepeated(15, () => source.copy(target));
  if (sink === 42) console.log('');
  return { js, memcpy };
}

// --- the run ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kairo-bench-context-'));
  const store: Store = await openSqliteStore({ dataDir: dir });
  const file = path.join(dir, 'kairo.sqlite');
  const embedder = createLocalHashEmbedder();
  const embedders: EmbedderRegistry = {
    get: (model) => (model === embedder.model ? embedder : undefined),
    list: () => [{ model: embedder.model, dimensions: embedder.dimensions, provider: 'kairo' }],
    defaultModel: LOCAL_HASH_MODEL,
  };
  const queue = new LocalQueue({ store });
  const sources = new SourceService(store, embedders);
  // Parsing, chunking and embedding run in worker processes, as in the server.
  const pool = new ProcessPool({ script: fileURLToPath(new URL('../../src/compute-worker.ts', import.meta.url)), size: 2, heapMb: 512, timeoutMs: 60_000, maxQueuedPerTenant: 64 });
  const work = new DocumentWork(pool, { heapMb: 512, timeoutMs: 60_000, limits: DEFAULT_PARSE_LIMITS });
  const indexer = new DocumentIndexer(store, embedders, work);
  const ingest = new IngestService(store, queue, indexer, work);
  const retrieval = new RetrievalService(store, sources, embedders);

  const results: Array<{ size: number; hybridP50: number; floor: number; recall: number }> = [];
  try {
    const workspace = { id: newId('ws'), name: 'bench', plan: 'free' as const, createdAt: Date.now() };
    await store.workspaces.create(workspace);
    const scope: Scope = { workspaceId: workspace.id, livemode: false };
    const source: ContextSource = await sources.create(scope, {
      name: 'bench', type: 'documents', chunking: { maxTokens: MAX_TOKENS, overlapTokens: Math.floor(MAX_TOKENS / 10) },
    });
    console.log(`KAIRO context benchmark — SQLite (FTS5 + sqlite-vec store, in-memory int8 SIMD vector index)`);
    console.log(`model ${LOCAL_HASH_MODEL} (${D} dims), chunks ≤ ${MAX_TOKENS} tokens, top_k ${TOP_K}, ${QUERIES} queries per mode after ${WARMUP} warm-up`);
    console.log(`node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}\n`);

    let chunks = 0;
    let documents = 0;
    const queryPool: string[][] = [];
    for (const size of SIZES) {
      // Ingest up to `size` chunks, ~100k characters per request (indexed inline, as the API does
      // below 200k). Timed: parse, chunk, embed and store — not the generation of the text.
      let ingestMs = 0;
      const before = chunks;
      while (chunks < size) {
        const batch: Generated[] = [];
        let chars = 0;
        while (chars < 100_000) {
          const generated = generateDocument(documents++);
          batch.push(generated);
          chars += generated.item.text!.length;
        }
        const started = performance.now();
        const prepared = await ingest.prepare(scope, batch.map((g) => g.item));
        const outcome = await ingest.ingest(scope, source, prepared, { background: false });
        ingestMs += performance.now() - started;
        for (const document of outcome.documents) {
          if (document.status !== 'indexed') throw new Error(`document ${document.externalId} is ${document.status}`);
          chunks += document.chunkCount;
        }
        for (const g of batch) if (random() < 0.3) queryPool.push(g.paragraphs);
      }
      const ingestSeconds = ingestMs / 1000;

      // First query: loads the in-memory vector index (or catches up with the change log).
      let t = performance.now();
      await retrieval.query(scope, { query: 'warm up', topK: TOP_K, mode: 'vector' });
      const firstQuery = performance.now() - t;

      const exact = loadVectors(file);
      const mb = (exact.matrix.byteLength / 1e6).toFixed(1);
      for (let i = 0; i < 5; i++) floorSample(exact);
      const reads = otherReads(exact);

      // Each query is preceded by one floor sample, so that both see the same machine: a busy
      // neighbour slows both, and the ratio stays put.
      const queries = Array.from({ length: QUERIES + WARMUP }, () => generateQuery(pick(queryPool)));
      const latency: Record<SearchMode, number[]> = { vector: [], keyword: [], hybrid: [] };
      const floorSamples: number[] = [];
      for (const [i, query] of queries.entries()) {
        for (const mode of ['vector', 'keyword', 'hybrid'] as const) {
          const floorMs = floorSample(exact);
          t = performance.now();
          await retrieval.query(scope, { query, topK: TOP_K, mode });
          const elapsed = performance.now() - t;
          if (i < WARMUP) continue;
          floorSamples.push(floorMs);
          latency[mode].push(elapsed);
        }
      }
      const floor = { wasm: median(floorSamples), ...reads, floor: Math.min(median(floorSamples), reads.js, reads.memcpy) };

      // Recall@10 of the vector path against the exact scan (ties at the k-th score count as found).
      const exactTimes: number[] = [];
      const vec0Times: number[] = [];
      let recall = 0;
      const measured = queries.slice(WARMUP);
      for (const [i, query] of measured.entries()) {
        const [embedding] = (await embedder.embed([query])) as [Float32Array];
        t = performance.now();
        const truth = exactScan(exact, embedding, TOP_K);
        exactTimes.push(performance.now() - t);
        const hits = (await retrieval.query(scope, { query, topK: TOP_K, mode: 'vector' })).hits;
        const found = hits.filter((h) => truth.ids.has(h.chunk.id) || (h.vectorScore ?? -1) >= truth.kth - 1e-6).length;
        recall += found / Math.min(TOP_K, truth.ids.size);
        // The previous query path, sqlite-vec's KNN (what a search inside a transaction still uses), on a sample.
        // k = 50: the pool RetrievalService asks for at top_k 10.
        if (i < 20) {
          t = performance.now();
          await store.transaction((tx) => tx.contextChunks.vectorSearch({ sourceIds: [source.id], embedding, k: Math.max(TOP_K * 5, 50) }));
          vec0Times.push(performance.now() - t);
        }
      }
      recall /= measured.length;

      const ingested = chunks - before;
      console.log(`== ${int(chunks)} chunks × ${D} dims (${int(documents)} documents, ${mb} MB of float32 vectors) ==`);
      console.log(`ingest (IngestService, inline)   ${int(ingested / ingestSeconds).padStart(8)} chunks/s   (${int(ingested)} chunks in ${ingestSeconds.toFixed(1)} s)`);
      console.log(`first query (index load/sync)    ${ms(firstQuery)}   (in-memory int8 index: ${((chunks * INDEX_ROW_BYTES) / 1e6).toFixed(1)} MB)`);
      console.log(`floor: read the vectors once     ${ms(floor.floor)}   (wasm SIMD sum ${floor.wasm.toFixed(2)} ms between queries, JS sum ${floor.js.toFixed(2)} ms, memcpy ${floor.memcpy.toFixed(2)} ms)`);
      console.log(`                                        p50          p95    p50/floor`);
      const line = (label: string, samples: number[]) =>
        console.log(`${label.padEnd(32)} ${ms(median(samples))}  ${ms(percentile(samples, 0.95))}  ${ratio(median(samples), floor.floor)}`);
      line('exact scan (JS dot products)', exactTimes);
      line('sqlite-vec KNN (k=50, in a tx)', vec0Times);
      line('query: vector', latency.vector);
      line('query: keyword', latency.keyword);
      line('query: hybrid', latency.hybrid);
      console.log(`recall@${TOP_K} of vector search vs exact: ${recall.toFixed(3)}\n`);
      results.push({ size: chunks, hybridP50: median(latency.hybrid), floor: floor.floor, recall });
    }

    const last = results.at(-1)!;
    const speed = last.hybridP50 <= 2 * last.floor;
    const quality = last.recall >= 0.95;
    console.log(
      `target at ${int(last.size)} chunks: hybrid p50 ${last.hybridP50.toFixed(2)} ms ≤ 2 × floor ${(2 * last.floor).toFixed(2)} ms: ${speed ? 'PASS' : 'FAIL'}` +
        ` (${(last.hybridP50 / last.floor).toFixed(2)}×); recall@${TOP_K} ${last.recall.toFixed(3)} ≥ 0.95: ${quality ? 'PASS' : 'FAIL'}`,
    );
    process.exitCode = speed && quality ? 0 : 1;
  } finally {
    await queue.close();
    await pool.close();
    await store.close();
    if (values.keep) console.log(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
