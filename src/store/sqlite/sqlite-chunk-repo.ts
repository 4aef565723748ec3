import { CompiledQuery, type Kysely } from 'kysely';
import type SqliteDatabase from 'better-sqlite3';
import type { Database } from '../schema.js';
import type { ChunkInput, ChunkRecord, ContextChunkRepo, ScoredChunk } from '../port.js';
import { assertEmbedding, clampK, distinctIds, normalised, searchTerms, topK } from '../chunk-search.js';
import { CHANGE_LOG, CHANGE_LOG_DDL, CHANGE_LOG_KEEP, SqliteVectorIndex } from './vector-index.js';

/** sqlite-vec's largest float vector. */
const MAX_DIMENSIONS = 8192;
/**
 * Vectors per vec0 storage chunk. vec0 allocates whole chunks per partition (here: per source),
 * so the default of 1024 would cost 1.5 MB for a 384-dimension source holding one chunk; 128
 * caps that at 192 KB while scanning about as fast as larger chunks.
 */
const VEC_CHUNK_SIZE = 128;
/** Rows per multi-row INSERT (14 parameters each, far below SQLite's 32766-parameter limit) and per DELETE of a replacement. */
const WRITE_BATCH = 100;
/**
 * Lets the event loop run between the statements of one replacement. better-sqlite3 runs
 * each statement synchronously, so the 40 statements of a 2,000-chunk document would otherwise be
 * one unbroken stretch of 250–450 ms in which no request is answered, not even one the reader
 * connection could serve. The writes stay in their one transaction: readers see the old chunks or
 * the new ones, never a mix.
 */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Ids per `json_each` lookup. */
const LOOKUP_BATCH = 500;
/**
 * Keyword search sets aside query terms found in more than this share of all chunks, once there
 * are at least COMMON_TERM_MIN_CHUNKS chunks. An OR query costs one bm25 evaluation per matching
 * row, so a term in most chunks makes the query scan most of the table (100 ms at 100k chunks),
 * while its bm25 weight is small: idf = ln((N − n + 0.5)/(n + 0.5)) is below 2.2 at 10% (a rare
 * term's is 7–11) and FTS5 clamps it to ~0 above 50%. The rarest term is always kept.
 */
const COMMON_TERM_SHARE = 0.1;
const COMMON_TERM_MIN_CHUNKS = 10_000;
/** Keyword search first ranks this many × k matches by FTS5 alone (at least the minimum): see keywordSearch. */
const KEYWORD_PROBE_FACTOR = 4;
const KEYWORD_PROBE_MIN = 64;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A Float32Array as the BLOB sqlite-vec and `embeddingsByHash` read: float32, little-endian. */
export function float32Blob(vector: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
  const out = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) out.writeFloatLE(vector[i]!, i * 4);
  return out;
}

/** The inverse of `float32Blob` (a copy, so the result owns an aligned buffer). */
export function blobFloat32(blob: Uint8Array): Float32Array {
  if (LITTLE_ENDIAN) return new Float32Array(new Uint8Array(blob).buffer);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const out = new Float32Array(blob.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

const vecTable = (dimensions: number): string => `context_vec_${dimensions}`;

const CHUNK_COLUMNS =
  'id, source_id, document_id, workspace_id, livemode, position, text, token_count, text_hash, heading, metadata, created_at';

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
  created_at: number;
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

/**
 * What every chunk repository of one store shares: the read-only connection (with sqlite-vec
 * loaded) and its prepared statements.
 *
 * Searches and reads outside a transaction run here rather than on the writer: they are then
 * never queued behind an ingestion transaction holding the writer, and WAL gives them the
 * latest committed state. Inside a transaction everything goes through the transaction, which
 * sees its own uncommitted writes.
 */
export class SqliteChunkIndex {
  private readonly statements = new Map<string, SqliteDatabase.Statement>();
  /** Dimensions whose vector table the reader has seen (tables are never dropped while open). */
  private readonly readerVecTables = new Set<number>();
  /** The in-memory copy of the vectors that searches outside a transaction scan. */
  readonly vectors: SqliteVectorIndex;

  constructor(private readonly reader: SqliteDatabase.Database) {
    this.vectors = new SqliteVectorIndex(reader);
  }

  all<T>(text: string, params: readonly unknown[]): T[] {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.reader.prepare(text);
      this.statements.set(text, statement);
    }
    return statement.all(...params) as T[];
  }

  hasVecTable(dimensions: number): boolean {
    if (this.readerVecTables.has(dimensions)) return true;
    const found = this.all(`select 1 from sqlite_master where type = 'table' and name = ?`, [vecTable(dimensions)]).length > 0;
    if (found) this.readerVecTables.add(dimensions);
    return found;
  }

  /** The repository over the database or over one transaction (see `kyselyRepos`). */
  repo(db: Kysely<Database>): SqliteChunkRepo {
    return new SqliteChunkRepo(db, this);
  }
}

/**
 * Chunks on SQLite: rows in `context_chunks`, full text in the FTS5 table
 * `context_chunks_fts` (kept in step by triggers), vectors in one sqlite-vec `vec0` table per
 * dimension, `context_vec_<N>`, created on first use.
 *
 * Vector search has two paths.
 *
 * - Outside a transaction (every API query): the in-memory index of SqliteVectorIndex
 *   (src/store/sqlite/vector-index.ts) — every vector int8-quantised in a WebAssembly memory,
 *   scanned with SIMD over the requested sources' rows only, the best 2 × k candidates (at least
 *   64) re-scored exactly from the stored float32 vectors, so scores are exact cosines. It
 *   follows the committed state through `context_chunk_changes`, a log of changed chunk rows
 *   written by triggers (so cascades and other processes' writes are seen too), created with the
 *   first write. At 100k × 384 the scan takes 4–7 ms where sqlite-vec's (scalar, in this build)
 *   takes 50–75 ms; recall@10 against exact search measured 1.000 (bench/context/run.ts, and
 *   bench/context/index-check.ts under writes, cascades, rollbacks and a second process).
 * - Inside a transaction (which must see its own uncommitted rows), before the change log exists,
 *   for a dimension whose in-memory matrix would pass 2 GiB, or without WebAssembly SIMD:
 *   sqlite-vec, exact. vec0 is an exact (brute-force) index. Each vec0 table is partitioned by
 *   source (`source_id text partition key`): vec0 stores each partition's vectors in their own
 *   chunks, so a query restricted to a source scans only that source's vectors instead of every
 *   tenant's. vec0 0.1.9 filters a partition key by `=` only — `source_id IN (...)` is run by
 *   SQLite as one KNN per value, each returning its own k, which is correct only with a merge on
 *   top — so the repository runs one KNN per source, explicitly, and merges: every source
 *   contributes its k best, the global k best are among them.
 *
 * vec0 vectors are stored normalised and compared by L2 distance: for unit vectors
 * |a − b|² = 2 − 2·cos(a, b), so the order is the cosine order and the score is recovered
 * exactly as 1 − d²/2, while sqlite-vec's L2 kernel is about 20% faster than its cosine one.
 * int8 quantisation (`int8[N]`) was measured no faster in sqlite-vec's build (its int8 L2 kernel
 * is scalar), so vec0 vectors stay float32; the in-memory index is where int8 pays off.
 */
export class SqliteChunkRepo implements ContextChunkRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly index: SqliteChunkIndex,
  ) {}

  private async write<T = unknown>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    const result = await this.db.executeQuery<T>(CompiledQuery.raw(text, [...params]));
    return result.rows as T[];
  }

  /** Reads through the open transaction, or else through the read-only connection. */
  private async read<T>(text: string, params: readonly unknown[]): Promise<T[]> {
    if (this.db.isTransaction) return this.write<T>(text, params);
    return this.index.all<T>(text, params);
  }

  private async hasVecTable(dimensions: number): Promise<boolean> {
    if (!this.db.isTransaction) return this.index.hasVecTable(dimensions);
    const rows = await this.write(`select 1 from sqlite_master where type = 'table' and name = ?`, [vecTable(dimensions)]);
    return rows.length > 0;
  }

  /** Creates the vector table of a dimension, with the trigger that deletes its rows with their chunks. */
  private async ensureVecTable(dimensions: number): Promise<void> {
    // Checked every time rather than cached: a table created in a transaction that rolled back is gone.
    if (await this.hasVecTable(dimensions)) return;
    const table = vecTable(dimensions);
    await this.write(
      `create virtual table if not exists ${table} using vec0(
         source_id text partition key, embedding float[${dimensions}], chunk_size = ${VEC_CHUNK_SIZE})`,
    );
    await this.write(
      `create trigger if not exists ${table}_delete after delete on context_chunks when old.dimensions = ${dimensions} begin
         delete from ${table} where rowid = old.seq;
       end`,
    );
  }

  /** Creates the change log the in-memory vector index follows, unless committed already. */
  private async ensureChangeLog(): Promise<void> {
    if (this.index.vectors.changeLogCommitted()) return;
    for (const statement of CHANGE_LOG_DDL) await this.write(statement);
  }

  async replaceForDocument(documentId: string, chunks: ChunkInput[]): Promise<void> {
    if (!this.db.isTransaction) {
      return this.db.transaction().execute((trx) => this.index.repo(trx).replaceForDocument(documentId, chunks));
    }
    for (const chunk of chunks) {
      if (chunk.documentId !== documentId) throw new Error(`Chunk ${chunk.id} belongs to ${chunk.documentId}, not ${documentId}`);
      assertEmbedding(chunk.id, chunk.embedding, MAX_DIMENSIONS);
    }
    await this.ensureChangeLog();
    // The delete triggers remove the old chunks' FTS5 and vec0 rows (and log the change), which
    // costs about as much as inserting them: a batch at a time, like the inserts.
    for (;;) {
      const deleted = await this.write(
        `delete from context_chunks where seq in (select seq from context_chunks where document_id = ? limit ${WRITE_BATCH}) returning seq`,
        [documentId],
      );
      if (deleted.length < WRITE_BATCH) break;
      await yieldToEventLoop();
    }
    // Keep the last CHANGE_LOG_KEEP log rows (a primary-key range: a few µs when nothing goes).
    await this.write(`delete from ${CHANGE_LOG} where id <= (select max(id) from ${CHANGE_LOG}) - ${CHANGE_LOG_KEEP}`);
    if (chunks.length === 0) return;

    const byId = new Map(chunks.map((chunk) => [chunk.id, chunk]));
    for (const dimensions of new Set(chunks.map((chunk) => chunk.embedding.length))) await this.ensureVecTable(dimensions);

    const vectors = new Map<number, Array<{ seq: number; unit: Float32Array; sourceId: string }>>();
    for (const batch of batches(chunks, WRITE_BATCH)) {
      const params: unknown[] = [];
      for (const c of batch) {
        params.push(
          c.id, c.sourceId, c.documentId, c.scope.workspaceId, c.scope.livemode ? 1 : 0, c.position, c.text, c.tokenCount,
          c.textHash, c.heading, JSON.stringify(c.metadata), c.embedding.length, float32Blob(c.embedding), c.createdAt,
        );
      }
      const inserted = await this.write<{ seq: number; id: string }>(
        `insert into context_chunks (id, source_id, document_id, workspace_id, livemode, position, text, token_count,
           text_hash, heading, metadata, dimensions, embedding, created_at)
         values ${batch.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
         returning seq, id`,
        params,
      );
      await yieldToEventLoop();
      for (const row of inserted) {
        const chunk = byId.get(row.id)!;
        const unit = normalised(chunk.embedding);
        // A zero vector has no direction, so no cosine: it stays out of the vector index.
        if (!unit) continue;
        const list = vectors.get(chunk.embedding.length) ?? [];
        list.push({ seq: Number(row.seq), unit, sourceId: chunk.sourceId });
        vectors.set(chunk.embedding.length, list);
      }
    }

    for (const [dimensions, rows] of vectors) {
      for (const batch of batches(rows, WRITE_BATCH)) {
        const params: unknown[] = [];
        for (const { seq, unit, sourceId } of batch) params.push(BigInt(seq), sourceId, float32Blob(unit));
        await this.write(
          `insert into ${vecTable(dimensions)} (rowid, source_id, embedding) values ${batch.map(() => '(?, ?, ?)').join(', ')}`,
          params,
        );
        await yieldToEventLoop();
      }
    }
  }

  async deleteForDocument(documentId: string): Promise<void> {
    await this.write(`delete from context_chunks where document_id = ?`, [documentId]);
  }

  async deleteForSource(sourceId: string): Promise<void> {
    await this.write(`delete from context_chunks where source_id = ?`, [sourceId]);
  }

  async embeddingsByHash(sourceId: string, textHashes: string[]): Promise<Map<string, Float32Array>> {
    const found = new Map<string, Float32Array>();
    for (const batch of batches([...new Set(textHashes)], LOOKUP_BATCH)) {
      const rows = await this.read<{ text_hash: string; embedding: Uint8Array }>(
        `select text_hash, embedding from context_chunks
          where source_id = ? and text_hash in (select value from json_each(?))`,
        [sourceId, JSON.stringify(batch)],
      );
      for (const row of rows) if (!found.has(row.text_hash)) found.set(row.text_hash, blobFloat32(row.embedding));
    }
    return found;
  }

  async vectorSearch(query: { sourceIds: string[]; embedding: Float32Array; k: number }): Promise<ScoredChunk[]> {
    const sourceIds = distinctIds(query.sourceIds);
    const k = clampK(query.k);
    const dimensions = query.embedding.length;
    if (sourceIds.length === 0 || k === 0 || dimensions === 0 || dimensions > MAX_DIMENSIONS) return [];
    const unit = normalised(query.embedding);
    if (!unit) return [];
    if (!this.db.isTransaction) {
      const hits = this.index.vectors.search(sourceIds, unit, k);
      if (hits) return hits;
    }
    if (!(await this.hasVecTable(dimensions))) return [];

    const blob = float32Blob(unit);
    // Materialised so the KNN runs first and alone (vec0 rejects a LIMIT pushed into it).
    const knn = `with knn as materialized (
                   select rowid, distance from ${vecTable(dimensions)}
                    where embedding match ? and k = ? and source_id = ?)
                 select c.id as id, knn.distance as distance from knn join context_chunks c on c.seq = knn.rowid`;
    const hits: ScoredChunk[] = [];
    for (const sourceId of sourceIds) {
      for (const row of await this.read<{ id: string; distance: number }>(knn, [blob, k, sourceId])) {
        hits.push({ chunkId: row.id, score: 1 - (row.distance * row.distance) / 2 });
      }
    }
    return topK(hits, k);
  }

  async keywordSearch(query: { sourceIds: string[]; text: string; k: number }): Promise<ScoredChunk[]> {
    const sourceIds = distinctIds(query.sourceIds);
    const k = clampK(query.k);
    let terms = searchTerms(query.text);
    if (sourceIds.length === 0 || k === 0 || terms.length === 0) return [];
    terms = await this.withoutCommonTerms(terms);
    // Each term a quoted string (its own characters can hold no syntax: see searchTerms), ORed.
    const match = terms.map((term) => `"${term.replaceAll('"', '""')}"`).join(' OR ');
    const sources = JSON.stringify(sourceIds);

    // First the best KEYWORD_PROBE_FACTOR × k matches of any source, ranked by FTS5 alone, then
    // their rows: a row lookup per match is what an OR query over common words spends most of its
    // time on, so only a few are looked up. That answer is exact when the k-th hit of the wanted
    // sources scores strictly above the last probed match (nothing left out can rank or tie with
    // it), or when the probe saw every match.
    const probe = Math.max(KEYWORD_PROBE_MIN, k * KEYWORD_PROBE_FACTOR);
    const probed = await this.read<{ id: string; score: number; wanted: number }>(
      `with best as materialized (
         select rowid as seq, -bm25(context_chunks_fts, 1.0, 0.5) as score
           from context_chunks_fts where context_chunks_fts match ? order by score desc limit ?)
       select c.id as id, best.score as score, c.source_id in (select value from json_each(?)) as wanted
         from best join context_chunks c on c.seq = best.seq`,
      [match, probe, sources],
    );
    const hits = probed
      .filter((row) => Number(row.wanted) === 1)
      .map((row) => ({ chunkId: row.id, score: row.score }))
      .sort((a, b) => b.score - a.score || (a.chunkId < b.chunkId ? -1 : a.chunkId > b.chunkId ? 1 : 0));
    const lowest = probed.reduce((min, row) => Math.min(min, row.score), Infinity);
    if (probed.length < probe || (hits.length >= k && hits[k - 1]!.score > lowest)) return hits.slice(0, k);

    // The wanted sources hold few of the best matches: rank every match of theirs.
    // CROSS JOIN keeps FTS5 as the outer loop: the matches are found first, then filtered by source.
    const rows = await this.read<{ id: string; score: number }>(
      `select c.id as id, -bm25(context_chunks_fts, 1.0, 0.5) as score
         from context_chunks_fts cross join context_chunks c on c.seq = context_chunks_fts.rowid
        where context_chunks_fts match ? and c.source_id in (select value from json_each(?))
        order by score desc, c.id
        limit ?`,
      [match, sources, k],
    );
    return rows.map((row) => ({ chunkId: row.id, score: row.score }));
  }

  /** The terms minus those in more than COMMON_TERM_SHARE of all chunks (see there); never none. */
  private async withoutCommonTerms(terms: string[]): Promise<string[]> {
    if (terms.length < 2) return terms;
    const [{ total }] = (await this.read<{ total: number }>(`select count(*) as total from context_chunks`, [])) as [{ total: number }];
    if (total < COMMON_TERM_MIN_CHUNKS) return terms;
    // Terms the vocabulary does not list as such (the tokenizer folds diacritics, splits some
    // words) count as rare: they are kept.
    const rows = await this.read<{ term: string; doc: number }>(
      `select term, doc from context_chunks_fts_vocab where term in (select value from json_each(?))`,
      [JSON.stringify(terms)],
    );
    const frequency = new Map(rows.map((row) => [row.term, Number(row.doc)]));
    const df = (term: string) => frequency.get(term) ?? 0;
    const rare = terms.filter((term) => df(term) <= total * COMMON_TERM_SHARE);
    return rare.length > 0 ? rare : [terms.reduce((best, term) => (df(term) < df(best) ? term : best))];
  }

  async getMany(ids: string[]): Promise<ChunkRecord[]> {
    const byId = new Map<string, ChunkRecord>();
    for (const batch of batches(distinctIds(ids), LOOKUP_BATCH)) {
      const rows = await this.read<ChunkRow>(
        `select ${CHUNK_COLUMNS} from context_chunks where id in (select value from json_each(?))`,
        [JSON.stringify(batch)],
      );
      for (const row of rows) byId.set(row.id, toChunk(row));
    }
    return distinctIds(ids).flatMap((id) => byId.get(id) ?? []);
  }

  async listForDocument(documentId: string): Promise<ChunkRecord[]> {
    const rows = await this.read<ChunkRow>(
      `select ${CHUNK_COLUMNS} from context_chunks where document_id = ? order by position, id`,
      [documentId],
    );
    return rows.map(toChunk);
  }
}
