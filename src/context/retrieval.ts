import { KairoError } from '../errors.js';
import type { ChunkRecord, ContextDocument, ContextSource, Scope, ScoredChunk, Store } from '../store/port.js';
import { EmbeddingError, type EmbedderRegistry } from './ports.js';
import type { SourceService } from './sources.js';
import { countTokens } from './tokens.js';

export type SearchMode = 'hybrid' | 'vector' | 'keyword';
type Scalar = string | number | boolean;
/** A metadata condition: a value (equality), or operators. */
export type FilterCondition = Scalar | { eq?: Scalar; ne?: Scalar; in?: Scalar[]; nin?: Scalar[]; gt?: number | string; gte?: number | string; lt?: number | string; lte?: number | string };
export type MetadataFilter = Record<string, FilterCondition>;

export interface QueryInput {
  query: string;
  sources?: string[];
  topK: number;
  mode: SearchMode;
  filter?: MetadataFilter;
  /** Pack the best chunks into a context window of at most this many tokens. */
  maxTokens?: number;
}

export interface QueryHit {
  chunk: ChunkRecord;
  score: number;
  vectorScore: number | null;
  keywordScore: number | null;
  vectorRank: number | null;
  keywordRank: number | null;
  source: ContextSource;
  document: ContextDocument;
}

export interface ContextWindow {
  text: string;
  tokenCount: number;
  maxTokens: number;
  citations: Array<{ index: number; chunkId: string; documentId: string; sourceId: string; title: string | null; url: string | null; externalId: string | null }>;
}

export interface QueryResult {
  hits: QueryHit[];
  window: ContextWindow | null;
  /**
   * Wall-clock milliseconds. Vector and keyword search run concurrently, so `vectorMs` and
   * `keywordMs` (each: from its start until its results were ready) can overlap, and their sum
   * can exceed `totalMs`.
   */
  timings: { embeddingMs: number; vectorMs: number; keywordMs: number; totalMs: number };
}

/** Reciprocal rank fusion constant (Cormack et al.): dampens the weight of top ranks. */
const RRF_K = 60;

function compare(a: Scalar, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return b - a;
  if (typeof a === 'string' && typeof b === 'string') return b < a ? -1 : b > a ? 1 : 0;
  return undefined;
}

/** True when a chunk's metadata satisfies every condition of the filter. */
export function matchesFilter(metadata: Record<string, Scalar>, filter: MetadataFilter | undefined): boolean {
  if (!filter) return true;
  for (const [field, condition] of Object.entries(filter)) {
    const value = metadata[field];
    if (condition === null || typeof condition !== 'object') {
      if (value !== condition) return false;
      continue;
    }
    if (condition.eq !== undefined && value !== condition.eq) return false;
    if (condition.ne !== undefined && value === condition.ne) return false;
    if (condition.in !== undefined && !condition.in.includes(value as Scalar)) return false;
    if (condition.nin !== undefined && condition.nin.includes(value as Scalar)) return false;
    const bounds: Array<[Scalar | undefined, (d: number) => boolean]> = [
      [condition.gt, (d) => d > 0],
      [condition.gte, (d) => d >= 0],
      [condition.lt, (d) => d < 0],
      [condition.lte, (d) => d <= 0],
    ];
    for (const [bound, ok] of bounds) {
      if (bound === undefined) continue;
      const difference = compare(bound, value);
      if (difference === undefined || !ok(difference)) return false;
    }
  }
  return true;
}

/**
 * Hybrid retrieval: vector search (per embedding model) and full-text search over the caller's
 * sources, run concurrently, each with a larger candidate pool, fused by reciprocal rank; then
 * metadata filters, the top k, and optionally a token-budgeted context window.
 */
export class RetrievalService {
  constructor(
    private readonly store: Store,
    private readonly sources: SourceService,
    private readonly embedders: EmbedderRegistry,
  ) {}

  async query(scope: Scope, input: QueryInput): Promise<QueryResult> {
    const started = performance.now();
    const timings = { embeddingMs: 0, vectorMs: 0, keywordMs: 0, totalMs: 0 };
    const sources = input.sources
      ? await Promise.all(input.sources.map((s, i) => this.sources.resolve(scope, s, `sources[${i}]`)))
      : await this.store.contextSources.listAll(scope);
    const sourceById = new Map(sources.map((s) => [s.id, s]));
    if (sources.length === 0 || input.query.trim() === '') return { hits: [], window: null, timings };

    const pool = input.filter ? Math.max(input.topK * 20, 200) : Math.max(input.topK * 5, 50);

    // The searches run concurrently (on PostgreSQL they are separate round trips); their lists
    // are fused in a fixed order (vector lists by model, then keyword), so scores are stable.
    const searches: Array<Promise<{ kind: 'vector' | 'keyword'; hits: ScoredChunk[] }>> = [];
    if (input.mode !== 'keyword') {
      const byModel = new Map<string, string[]>();
      for (const source of sources) byModel.set(source.embeddingModel, [...(byModel.get(source.embeddingModel) ?? []), source.id]);
      for (const [model, sourceIds] of byModel) {
        const embedder = this.embedders.get(model);
        if (!embedder) continue;
        searches.push(
          (async () => {
            let t = performance.now();
            let embedding: Float32Array;
            try {
              [embedding] = (await embedder.embed([input.query])) as [Float32Array];
            } catch (error) {
              if (error instanceof EmbeddingError) throw new KairoError('embedding_failed', { message: `The embedding model ${model} failed: ${error.message}`, retryable: error.retryable, cause: error });
              throw error;
            }
            timings.embeddingMs += performance.now() - t;
            t = performance.now();
            const hits = await this.store.contextChunks.vectorSearch({ sourceIds, embedding, k: pool });
            timings.vectorMs += performance.now() - t;
            return { kind: 'vector' as const, hits };
          })(),
        );
      }
    }
    if (input.mode !== 'vector') {
      searches.push(
        (async () => {
          const t = performance.now();
          const hits = await this.store.contextChunks.keywordSearch({ sourceIds: [...sourceById.keys()], text: input.query, k: pool });
          timings.keywordMs += performance.now() - t;
          return { kind: 'keyword' as const, hits };
        })(),
      );
    }
    const lists = await Promise.all(searches);

    // Fuse: each list contributes 1/(k + rank); a single list keeps its own order.
    const fused = new Map<string, { score: number; vectorScore: number | null; keywordScore: number | null; vectorRank: number | null; keywordRank: number | null }>();
    for (const list of lists) {
      list.hits.forEach((hit, index) => {
        const entry = fused.get(hit.chunkId) ?? { score: 0, vectorScore: null, keywordScore: null, vectorRank: null, keywordRank: null };
        entry.score += input.mode === 'hybrid' ? 1 / (RRF_K + index + 1) : hit.score;
        if (list.kind === 'vector' && (entry.vectorScore === null || hit.score > entry.vectorScore)) {
          entry.vectorScore = hit.score;
          entry.vectorRank = index + 1;
        }
        if (list.kind === 'keyword') {
          entry.keywordScore = hit.score;
          entry.keywordRank = index + 1;
        }
        fused.set(hit.chunkId, entry);
      });
    }
    const ranked = [...fused.entries()].sort((a, b) => b[1].score - a[1].score || (a[0] < b[0] ? -1 : 1));

    // Read only as many chunks and documents as the answer needs: the best top k (plus a few, for
    // chunks deleted meanwhile) without a filter, the whole pool with one; more if that fell short.
    const hits: QueryHit[] = [];
    const documents = new Map<string, ContextDocument | undefined>();
    const batch = input.filter ? ranked.length : input.topK + 5;
    for (let start = 0; start < ranked.length && hits.length < input.topK; start += batch) {
      const slice = ranked.slice(start, start + batch);
      const records = new Map((await this.store.contextChunks.getMany(slice.map(([id]) => id))).map((c) => [c.id, c]));
      const wanted = slice.flatMap(([chunkId, entry]) => {
        const chunk = records.get(chunkId);
        return chunk && matchesFilter(chunk.metadata, input.filter) ? [{ chunk, entry }] : [];
      });
      const missing = [...new Set(wanted.slice(0, input.topK - hits.length).map(({ chunk }) => chunk.documentId))].filter((id) => !documents.has(id));
      await Promise.all(missing.map(async (id) => documents.set(id, await this.store.contextDocuments.getById(id))));
      for (const { chunk, entry } of wanted) {
        if (hits.length >= input.topK) break;
        if (!documents.has(chunk.documentId)) documents.set(chunk.documentId, await this.store.contextDocuments.getById(chunk.documentId));
        const document = documents.get(chunk.documentId);
        const source = sourceById.get(chunk.sourceId);
        if (!document || !source) continue;
        hits.push({ chunk, ...entry, source, document });
      }
    }
    const window = input.maxTokens === undefined ? null : packWindow(hits, input.maxTokens);
    timings.totalMs = performance.now() - started;
    return { hits, window, timings };
  }
}

/**
 * The best chunks that fit in `maxTokens`, without repeats, grouped by document (documents in
 * order of their best chunk, chunks in document order), each block numbered for citation.
 */
export function packWindow(hits: QueryHit[], maxTokens: number): ContextWindow {
  const chosen: QueryHit[] = [];
  const seen = new Set<string>();
  let budget = maxTokens;
  for (const hit of hits) {
    if (seen.has(hit.chunk.textHash)) continue;
    const cost = countTokens(blockText(0, hit)) + 2;
    if (cost > budget) continue;
    seen.add(hit.chunk.textHash);
    chosen.push(hit);
    budget -= cost;
  }
  // Token counts of joined blocks can differ by a token or two from the sum of their parts:
  // drop the lowest-ranked chunk until the window really fits.
  for (;;) {
    const ordered = windowOrder(chosen);
    const text = ordered.map((hit, i) => blockText(i + 1, hit)).join('\n\n');
    const tokenCount = text === '' ? 0 : countTokens(text);
    if (tokenCount <= maxTokens) return windowOf(ordered, text, tokenCount, maxTokens);
    chosen.pop();
  }
}

function windowOrder(chosen: QueryHit[]): QueryHit[] {
  const documentOrder = new Map<string, number>();
  chosen.forEach((hit, i) => {
    if (!documentOrder.has(hit.document.id)) documentOrder.set(hit.document.id, i);
  });
  return [...chosen].sort((a, b) => documentOrder.get(a.document.id)! - documentOrder.get(b.document.id)! || a.chunk.position - b.chunk.position);
}

function windowOf(chosen: QueryHit[], text: string, tokenCount: number, maxTokens: number): ContextWindow {
  return {
    text,
    tokenCount,
    maxTokens,
    citations: chosen.map((hit, i) => ({
      index: i + 1,
      chunkId: hit.chunk.id,
      documentId: hit.document.id,
      sourceId: hit.source.id,
      title: hit.document.title,
      url: hit.document.url,
      externalId: hit.document.externalId,
    })),
  };
}

function blockText(index: number, hit: QueryHit): string {
  const label = [hit.document.title ?? hit.document.externalId ?? hit.document.id, hit.chunk.heading].filter(Boolean).join(' — ');
  // The index is at most a few digits; the budget check uses 0 and leaves room for it.
  return `[${index}] ${label}\n${hit.chunk.text}`;
}
