import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../schema.js';
import type { ChunkInput, ChunkRecord, ContextChunkRepo, ScoredChunk } from '../port.js';
import { assertEmbedding, clampK, distinctIds, normalised, searchTerms, topK } from '../chunk-search.js';
import { quoteIdent } from './migrations/0003-context-chunks.js';

/** pgvector's largest `vector` (the `real[]` fallback takes the same limit, so both modes agree). */
const MAX_DIMENSIONS = 16000;
/** pgvector's HNSW indexes `vector` up to 2000 dimensions; larger vectors are searched exactly. */
const HNSW_MAX_DIMENSIONS = 2000;
/** Rows per multi-row INSERT (15 parameters each, far below PostgreSQL's 65535). */
const INSERT_BATCH = 100;
/**
 * Keyword search sets aside query words found in more than this share of all chunks (per the
 * planner's statistics on the tsvector column), once the table has COMMON_TERM_MIN_CHUNKS rows:
 * an OR query ranks every row it matches, so one word present in most chunks makes it rank most
 * of the table, and such a word tells the chunks apart least. The rarest word is always kept.
 */
const COMMON_TERM_SHARE = 0.1;
const COMMON_TERM_MIN_CHUNKS = 10_000;
/** How long the common-word statistics are reused before being read again. */
const COMMON_TERMS_TTL_MS = 60_000;

/**
 * How this database stores and searches vectors, read once when the store opens: the column
 * type migration 0003 chose tells it (pgvector's `vector` if the server had pgvector, else
 * `real[]`).
 */
export type PostgresVectorMode =
  | { kind: 'pgvector'; schema: string; iterativeScan: boolean }
  | { kind: 'exact' };

const CHUNK_COLUMNS = sql.raw(
  'id, source_id, document_id, workspace_id, livemode, position, text, token_count, text_hash, heading, metadata, created_at',
);

interface ChunkRow {
  id: string;
  source_id: string;
  document_id: string;
  workspace_id: string;
  livemode: number;
  position: number;
  text: string;
  token_count: number;
  text_hash: string;
  heading: string | null;
  metadata: string;
  created_at: number | string;
}

const toChunk = (row: ChunkRow): ChunkRecord => ({
  id: row.id,
  sourceId: row.source_id,
  documentId: row.document_id,
  scope: { workspaceId: row.workspace_id, livemode: Number(row.livemode) === 1 },
  position: Number(row.position),
  text: row.text,
  tokenCount: Number(row.token_count),
  textHash: row.text_hash,
  heading: row.heading,
  metadata: JSON.parse(row.metadata) as ChunkRecord['metadata'],
  createdAt: Number(row.created_at),
});

function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The vector's length. */
function norm(vector: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  return Math.sqrt(sum);
}

/** pgvector's text form of a vector. JS prints each float32 (as a double) exactly, so it parses back to the same float. */
const vectorLiteral = (vector: Float32Array): string => `[${Array.from(vector).join(',')}]`;

/**
 * The state every chunk repository of one store shares: the vector mode, and the dimensions
 * whose HNSW index is known to exist (committed).
 */
export class PostgresChunkIndex {
  readonly hnswIndexes = new Set<number>();
  private commonTerms: { at: number; frequencies: Map<string, number> } | undefined;

  constructor(readonly mode: PostgresVectorMode) {}

  /**
   * Lexeme → share of rows, for the lexemes ANALYZE found most common in `search` (empty while
   * the table is small or not yet analysed). Cached for COMMON_TERMS_TTL_MS.
   */
  async commonTermFrequencies(db: Kysely<Database>): Promise<Map<string, number>> {
    if (this.commonTerms && Date.now() - this.commonTerms.at < COMMON_TERMS_TTL_MS) return this.commonTerms.frequencies;
    const stats = await sql<{ rows: number; elems: string[] | null; freqs: number[] | null }>`
      select c.reltuples::float8 as rows, s.most_common_elems::text::text[] as elems, s.most_common_elem_freqs::float8[] as freqs
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_stats s on s.schemaname = n.nspname and s.tablename = c.relname and s.attname = 'search'
       where c.oid = to_regclass('context_chunks')`.execute(db);
    const row = stats.rows[0];
    const frequencies = new Map<string, number>();
    if (row && Number(row.rows) >= COMMON_TERM_MIN_CHUNKS && row.elems && row.freqs) {
      row.elems.forEach((lexeme, i) => frequencies.set(lexeme, Number(row.freqs![i])));
    }
    this.commonTerms = { at: Date.now(), frequencies };
    return frequencies;
  }

  /** Reads the vector mode of a migrated database. */
  static async open(db: Kysely<Database>): Promise<PostgresChunkIndex> {
    const column = await sql<{ type: string; schema: string }>`
      select t.typname as type, n.nspname as schema
        from pg_attribute a
        join pg_type t on t.oid = a.atttypid
        join pg_namespace n on n.oid = t.typnamespace
       where a.attrelid = to_regclass('context_chunks') and a.attname = 'embedding'`.execute(db);
    const found = column.rows[0];
    if (!found) throw new Error('context_chunks.embedding not found: is the database migrated?');
    if (found.type !== 'vector') return new PostgresChunkIndex({ kind: 'exact' });
    const version = await sql<{ version: string }>`select extversion as version from pg_extension where extname = 'vector'`.execute(db);
    const [major = 0, minor = 0] = (version.rows[0]?.version ?? '0').split('.').map((part) => Number.parseInt(part, 10) || 0);
    // Iterative index scans (pgvector 0.8) keep walking the HNSW graph until enough rows pass the source filter.
    return new PostgresChunkIndex({ kind: 'pgvector', schema: found.schema, iterativeScan: major > 0 || minor >= 8 });
  }

  /** The repository over the database or over one transaction (see `kyselyRepos`). */
  repo(db: Kysely<Database>): PostgresChunkRepo {
    return new PostgresChunkRepo(db, this);
  }
}

/**
 * Chunks on PostgreSQL. Full text: the generated `search` tsvector (GIN index), queried with the
 * user's words ORed and ranked by ts_rank_cd. Vectors, in one of two modes fixed at open:
 *
 * - pgvector: a `vector` column of any dimension; per dimension a partial HNSW index on
 *   `embedding::vector(N)` (cosine ops) where `dimensions = N`, created the first time that
 *   dimension is written. Queries order by `<=>` on the same expression, with iterative scans
 *   (strict order) so a source filter still yields k rows; should the index return fewer than
 *   k (pgvector < 0.8, or a scan cut short) the query is re-run exactly. Above 2000 dimensions
 *   (HNSW's limit) searches are exact scans with pgvector's distance.
 * - exact: a `real[]` column and an exact scan in SQL over the given sources' chunks (a
 *   dot product over `unnest`, divided by the stored vector's norm: cosine). About 50 µs per
 *   384-dimension chunk scanned: fine for thousands of chunks, slow for 100k — pgvector is the
 *   answer there.
 *
 * Zero vectors (no direction, no cosine) are stored but never returned by vector search.
 */
export class PostgresChunkRepo implements ContextChunkRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly index: PostgresChunkIndex,
  ) {}

  private get mode(): PostgresVectorMode {
    return this.index.mode;
  }

  /** Runs `work` in the open transaction, or in a new one. */
  private inTransaction<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.db.isTransaction ? work(this.db) : this.db.transaction().execute(work);
  }

  private vectorType(schema: string, dimensions?: number): RawBuilder<unknown> {
    return sql.raw(`${quoteIdent(schema)}.vector${dimensions === undefined ? '' : `(${Math.floor(dimensions)})`}`);
  }

  /** Creates the HNSW index of a dimension unless it exists. Runs in the caller's transaction. */
  private async ensureHnswIndex(db: Kysely<Database>, dimensions: number): Promise<void> {
    const mode = this.mode;
    if (mode.kind !== 'pgvector' || dimensions > HNSW_MAX_DIMENSIONS || this.index.hnswIndexes.has(dimensions)) return;
    const name = `context_chunks_hnsw_${dimensions}`;
    const exists = await sql`
      select 1 from pg_class
       where relname = ${name} and relnamespace = (select relnamespace from pg_class where oid = to_regclass('context_chunks'))`.execute(db);
    if (exists.rows.length > 0) {
      // Cached only once seen committed-or-ours here; an index created by a transaction that
      // later rolls back is simply created again next time.
      this.index.hnswIndexes.add(dimensions);
      return;
    }
    // Two writers adding the same dimension at once: the second waits, then finds the index.
    await sql`select pg_advisory_xact_lock(hashtext('kairo:context_chunks:hnsw'))`.execute(db);
    await sql`
      create index if not exists ${sql.id(name)} on context_chunks
       using hnsw ((cast(embedding as ${this.vectorType(mode.schema, dimensions)})) ${sql.raw(`${quoteIdent(mode.schema)}.vector_cosine_ops`)})
       where dimensions = ${sql.raw(String(Math.floor(dimensions)))}`.execute(db);
  }

  private embeddingValue(embedding: Float32Array): RawBuilder<unknown> {
    const mode = this.mode;
    return mode.kind === 'pgvector'
      ? sql`cast(${vectorLiteral(embedding)} as ${this.vectorType(mode.schema)})`
      : sql`cast(${Array.from(embedding)} as real[])`;
  }

  async replaceForDocument(documentId: string, chunks: ChunkInput[]): Promise<void> {
    for (const chunk of chunks) {
      if (chunk.documentId !== documentId) throw new Error(`Chunk ${chunk.id} belongs to ${chunk.documentId}, not ${documentId}`);
      assertEmbedding(chunk.id, chunk.embedding, MAX_DIMENSIONS);
    }
    await this.inTransaction(async (db) => {
      await sql`delete from context_chunks where document_id = ${documentId}`.execute(db);
      for (const dimensions of new Set(chunks.map((chunk) => chunk.embedding.length))) await this.ensureHnswIndex(db, dimensions);
      for (const batch of batches(chunks, INSERT_BATCH)) {
        const rows = batch.map(
          (c) => sql`(${c.id}, ${c.sourceId}, ${c.documentId}, ${c.scope.workspaceId}, ${c.scope.livemode ? 1 : 0}, ${c.position},
                      ${c.text}, ${c.tokenCount}, ${c.textHash}, ${c.heading}, ${JSON.stringify(c.metadata)},
                      ${c.embedding.length}, ${this.embeddingValue(c.embedding)}, ${norm(c.embedding)}, ${c.createdAt})`,
        );
        await sql`
          insert into context_chunks (id, source_id, document_id, workspace_id, livemode, position, text, token_count,
            text_hash, heading, metadata, dimensions, embedding, embedding_norm, created_at)
          values ${sql.join(rows)}`.execute(db);
      }
    });
  }

  async deleteForDocument(documentId: string): Promise<void> {
    await sql`delete from context_chunks where document_id = ${documentId}`.execute(this.db);
  }

  async deleteForSource(sourceId: string): Promise<void> {
    await sql`delete from context_chunks where source_id = ${sourceId}`.execute(this.db);
  }

  async embeddingsByHash(sourceId: string, textHashes: string[]): Promise<Map<string, Float32Array>> {
    const found = new Map<string, Float32Array>();
    const hashes = [...new Set(textHashes)];
    if (hashes.length === 0) return found;
    // float4 values print in their shortest exact form (PostgreSQL ≥ 12), so they parse back exactly.
    const rows = await sql<{ text_hash: string; embedding: number[] }>`
      select text_hash, cast(embedding as real[]) as embedding from context_chunks
       where source_id = ${sourceId} and text_hash = any(${hashes})`.execute(this.db);
    for (const row of rows.rows) if (!found.has(row.text_hash)) found.set(row.text_hash, Float32Array.from(row.embedding));
    return found;
  }

  async vectorSearch(query: { sourceIds: string[]; embedding: Float32Array; k: number }): Promise<ScoredChunk[]> {
    const sourceIds = distinctIds(query.sourceIds);
    const k = clampK(query.k);
    const dimensions = query.embedding.length;
    if (sourceIds.length === 0 || k === 0 || dimensions === 0 || dimensions > MAX_DIMENSIONS) return [];
    const unit = normalised(query.embedding);
    if (!unit) return [];
    const mode = this.mode;
    const dims = sql.raw(String(dimensions));

    if (mode.kind === 'exact') {
      // Exact cosine in SQL: the query is unit length, so dot / |stored| is the cosine.
      const rows = await sql<{ id: string; score: number }>`
        select c.id, s.dot / c.embedding_norm as score
          from context_chunks c
         cross join lateral (
                select sum(e.a::float8 * e.b) as dot
                  from unnest(c.embedding, cast(${Array.from(unit)} as real[])) as e(a, b)) s
         where c.source_id = any(${sourceIds}) and c.dimensions = ${dims} and c.embedding_norm > 0
         order by score desc, c.id
         limit ${k}`.execute(this.db);
      return rows.rows.map((row) => ({ chunkId: row.id, score: Number(row.score) }));
    }

    const type = this.vectorType(mode.schema, dimensions);
    const distance = sql`(cast(c.embedding as ${type}) operator(${sql.raw(quoteIdent(mode.schema))}.<=>) cast(${vectorLiteral(unit)} as ${type}))`;
    const search = (exact: boolean) => sql<{ id: string; distance: number }>`
      select c.id, ${distance} as distance
        from context_chunks c
       where c.dimensions = ${dims} and c.source_id = any(${sourceIds}) and c.embedding_norm > 0
       order by ${exact ? sql`${distance} + 0, c.id` : distance}
       limit ${k}`;
    let rows: Array<{ id: string; distance: number }> = [];
    if (dimensions <= HNSW_MAX_DIMENSIONS) {
      rows = await this.inTransaction(async (db) => {
        if (mode.iterativeScan) await sql`select set_config('hnsw.iterative_scan', 'strict_order', true)`.execute(db);
        await sql`select set_config('hnsw.ef_search', ${String(Math.min(1000, Math.max(40, k)))}, true)`.execute(db);
        return (await search(false).execute(db)).rows;
      });
    }
    // Fewer than k: the sources may hold fewer, or the index walk stopped early. The exact
    // query is correct either way (and cheap in the first case).
    if (rows.length < k) rows = (await search(true).execute(this.db)).rows;
    return topK(rows.map((row) => ({ chunkId: row.id, score: 1 - Number(row.distance) })), k);
  }

  async keywordSearch(query: { sourceIds: string[]; text: string; k: number }): Promise<ScoredChunk[]> {
    const sourceIds = distinctIds(query.sourceIds);
    const k = clampK(query.k);
    let terms = searchTerms(query.text);
    if (sourceIds.length === 0 || k === 0 || terms.length === 0) return [];
    if (terms.length > 1) {
      const frequencies = await this.index.commonTermFrequencies(this.db);
      const share = (term: string) => frequencies.get(term) ?? 0;
      const rare = terms.filter((term) => share(term) <= COMMON_TERM_SHARE);
      terms = rare.length > 0 ? rare : [terms.reduce((best, term) => (share(term) < share(best) ? term : best))];
    }
    // Each word a quoted lexeme (searchTerms leaves no quotes or operators in a word), ORed.
    const tsquery = terms.map((term) => `'${term.replaceAll("'", "''").replaceAll('\\', '\\\\')}'`).join(' | ');
    const rows = await sql<{ id: string; score: number }>`
      select c.id, ts_rank_cd(c.search, q, 1) as score
        from context_chunks c, to_tsquery('simple', ${tsquery}) q
       where c.search @@ q and c.source_id = any(${sourceIds})
       order by score desc, c.id
       limit ${k}`.execute(this.db);
    // ts_rank_cd can be 0 for a matching row; keep every score strictly positive.
    return rows.rows.map((row) => ({ chunkId: row.id, score: Math.max(Number(row.score), Number.EPSILON) }));
  }

  async getMany(ids: string[]): Promise<ChunkRecord[]> {
    const wanted = distinctIds(ids);
    if (wanted.length === 0) return [];
    const rows = await sql<ChunkRow>`select ${CHUNK_COLUMNS} from context_chunks where id = any(${wanted})`.execute(this.db);
    const byId = new Map(rows.rows.map((row) => [row.id, toChunk(row)]));
    return wanted.flatMap((id) => byId.get(id) ?? []);
  }

  async listForDocument(documentId: string): Promise<ChunkRecord[]> {
    const rows = await sql<ChunkRow>`
      select ${CHUNK_COLUMNS} from context_chunks where document_id = ${documentId} order by position, id`.execute(this.db);
    return rows.rows.map(toChunk);
  }
}
