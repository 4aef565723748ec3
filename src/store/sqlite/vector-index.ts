import type SqliteDatabase from 'better-sqlite3';
import type { ScoredChunk } from '../port.js';
import { topK } from '../chunk-search.js';
import { WASM_PAGE, createVectorKernel, queryScaleLimit, vectorKernelAvailable, type VectorKernel } from './vector-kernel.js';

/**
 * The change log the in-memory vector index follows: one row per chunk row inserted, deleted or
 * changed (by any statement of any process, cascades included), written by triggers on
 * `context_chunks`. It holds only the chunk's `seq`: a reader re-reads those rows at its own
 * snapshot, so it needs no record of what happened to them.
 */
export const CHANGE_LOG = 'context_chunk_changes';
export const CHANGE_LOG_DDL = [
  `create table if not exists ${CHANGE_LOG} (id integer primary key, seq integer not null)`,
  `create trigger if not exists ${CHANGE_LOG}_insert after insert on context_chunks begin
     insert into ${CHANGE_LOG} (seq) values (new.seq);
   end`,
  `create trigger if not exists ${CHANGE_LOG}_delete after delete on context_chunks begin
     insert into ${CHANGE_LOG} (seq) values (old.seq);
   end`,
  `create trigger if not exists ${CHANGE_LOG}_update after update of seq, source_id, dimensions, embedding on context_chunks begin
     insert into ${CHANGE_LOG} (seq) values (old.seq);
     insert into ${CHANGE_LOG} (seq) values (new.seq);
   end`,
];
/**
 * How many log rows writers keep. A reader further behind than this (another process that has
 * not searched for a while) reloads its index from the chunk rows instead of catching up.
 */
export const CHANGE_LOG_KEEP = 100_000;

/** Candidates re-scored exactly per query: RESCORE_FACTOR × k, at least RESCORE_MIN. */
const RESCORE_FACTOR = 2;
const RESCORE_MIN = 64;
/** Largest memory of one dimension's matrix; beyond it that dimension is searched by sqlite-vec. */
const MAX_MATRIX_BYTES = 2 ** 31;
/** Query, at the start of each matrix memory (up to 8192 dimensions as int16). */
const ROWS_BASE = WASM_PAGE;
/** Ids per `json_each` lookup. */
const LOOKUP_BATCH = 500;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The rows of one source in one matrix (row numbers, unordered). */
interface SourceRows {
  rows: Int32Array;
  size: number;
}

/**
 * One dimension's vectors, int8-quantised, in a WebAssembly memory the kernel scans: row r at
 * ROWS_BASE + r × stride holds round(127 · v / max|v|) per component (zero-padded to a multiple of
 * 16), then the float32 scale max|v| / (127 · |v|), so that scale × (row · q) approximates
 * cos(v, q) × |q|. Scratch space for a query's row list and scores follows the rows.
 */
class VectorMatrix {
  readonly blocks: number;
  readonly stride: number;
  private kernel: VectorKernel;
  private capacity = 0;
  /** Rows ever used; rows below it not in use are on `free`. */
  private used = 0;
  private readonly free: number[] = [];
  private rowSeq: Float64Array = new Float64Array(0);
  private rowId: string[] = [];
  private rowSource: Array<SourceRows | undefined> = [];
  private rowPos: Int32Array = new Int32Array(0);
  readonly sources = new Map<string, SourceRows>();
  private buffer: ArrayBuffer | undefined;
  private bytes!: Uint8Array;
  private int8!: Int8Array;
  private int16!: Int16Array;
  private int32!: Int32Array;
  private float32!: Float32Array;
  /** Set when the matrix could not grow: searches of this dimension go to sqlite-vec. */
  overflowed = false;

  constructor(readonly dimensions: number) {
    this.blocks = Math.ceil(dimensions / 16);
    this.stride = this.blocks * 16 + 16;
    this.kernel = createVectorKernel(this.pagesFor(0, 0), this.blocks);
  }

  get size(): number {
    return this.used - this.free.length;
  }

  private pagesFor(capacity: number, scratchRows: number): number {
    return Math.ceil((ROWS_BASE + capacity * this.stride + scratchRows * 8 + 16) / WASM_PAGE);
  }

  /** Views over the memory (a grown memory has a new buffer). */
  private views(): void {
    const buffer = this.kernel.memory.buffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.bytes = new Uint8Array(buffer);
    this.int8 = new Int8Array(buffer);
    this.int16 = new Int16Array(buffer);
    this.int32 = new Int32Array(buffer);
    this.float32 = new Float32Array(buffer);
  }

  /** Grows the memory to hold `capacity` rows and scratch for `scratchRows`; false when it cannot. */
  private reserve(capacity: number, scratchRows: number): boolean {
    const pages = this.pagesFor(capacity, scratchRows);
    const have = this.kernel.memory.buffer.byteLength / WASM_PAGE;
    if (pages <= have) return true;
    if (pages * WASM_PAGE > MAX_MATRIX_BYTES) return false;
    try {
      this.kernel.memory.grow(pages - have);
    } catch {
      return false;
    }
    return true;
  }

  private growRows(): boolean {
    const capacity = Math.max(1024, Math.ceil(this.capacity * 1.5));
    if (!this.reserve(capacity, capacity)) return false;
    const seq = new Float64Array(capacity);
    seq.set(this.rowSeq);
    const pos = new Int32Array(capacity);
    pos.set(this.rowPos);
    this.rowSeq = seq;
    this.rowPos = pos;
    this.capacity = capacity;
    return true;
  }

  /** Adds a vector (float32 components, any length but zero); returns its row, or -1 when full. */
  add(seq: number, id: string, sourceId: string, vector: Float32Array): number {
    let maxAbs = 0;
    let sumSquares = 0;
    for (let d = 0; d < vector.length; d++) {
      const value = vector[d]!;
      sumSquares += value * value;
      const abs = Math.abs(value);
      if (abs > maxAbs) maxAbs = abs;
    }
    const norm = Math.sqrt(sumSquares);
    // No direction (or not a number): never returned by vector search, so not indexed.
    if (!(norm > 0) || !Number.isFinite(norm)) return -1;
    let row = this.free.pop();
    if (row === undefined) {
      if (this.used === this.capacity && !this.growRows()) {
        this.overflowed = true;
        return -1;
      }
      row = this.used++;
    }
    this.views();
    const at = ROWS_BASE + row * this.stride;
    const factor = 127 / maxAbs;
    const int8 = this.int8;
    for (let d = 0; d < vector.length; d++) int8[at + d] = Math.round(vector[d]! * factor);
    this.bytes.fill(0, at + vector.length, at + this.blocks * 16);
    this.float32[(at + this.blocks * 16) >> 2] = maxAbs / (127 * norm);

    let source = this.sources.get(sourceId);
    if (!source) {
      source = { rows: new Int32Array(16), size: 0 };
      this.sources.set(sourceId, source);
    }
    if (source.size === source.rows.length) {
      const rows = new Int32Array(source.rows.length * 2);
      rows.set(source.rows);
      source.rows = rows;
    }
    this.rowPos[row] = source.size;
    source.rows[source.size++] = row;
    this.rowSource[row] = source;
    this.rowSeq[row] = seq;
    this.rowId[row] = id;
    return row;
  }

  remove(row: number): void {
    const source = this.rowSource[row];
    if (!source) return;
    // Swap-remove from the source's rows.
    const pos = this.rowPos[row]!;
    const last = source.rows[--source.size]!;
    source.rows[pos] = last;
    this.rowPos[last] = pos;
    if (source.size === 0) {
      for (const [sourceId, rows] of this.sources) if (rows === source) this.sources.delete(sourceId);
    }
    this.rowSource[row] = undefined;
    this.rowId[row] = '';
    this.rowSeq[row] = -1;
    this.free.push(row);
  }

  seqOf(row: number): number {
    return this.rowSeq[row]!;
  }

  idOf(row: number): string {
    return this.rowId[row]!;
  }

  /**
   * The rows of the given sources most similar to the unit query by the int8 scan: at most
   * `limit`, best first not guaranteed. All of them when they are no more than `limit`.
   */
  candidates(sourceIds: string[], unit: Float32Array, limit: number): number[] {
    const lists = sourceIds.flatMap((id) => this.sources.get(id) ?? []);
    const count = lists.reduce((sum, list) => sum + list.size, 0);
    if (count <= limit) return lists.flatMap((list) => Array.from(list.rows.subarray(0, list.size)));
    if (!this.reserve(this.capacity, count)) return lists.flatMap((list) => Array.from(list.rows.subarray(0, list.size)));
    this.views();

    // The query as int16 at offset 0, as large as the kernel's int32 lanes allow.
    let maxAbs = 0;
    for (let d = 0; d < unit.length; d++) maxAbs = Math.max(maxAbs, Math.abs(unit[d]!));
    const factor = queryScaleLimit(this.blocks) / maxAbs;
    const int16 = this.int16;
    int16.fill(0, 0, this.blocks * 16);
    for (let d = 0; d < unit.length; d++) int16[d] = Math.round(unit[d]! * factor);

    const listAt = ROWS_BASE + this.capacity * this.stride;
    const outAt = listAt + count * 4;
    let offset = listAt >> 2;
    for (const list of lists) {
      this.int32.set(list.rows.subarray(0, list.size), offset);
      offset += list.size;
    }
    this.kernel.scoreInt8(0, ROWS_BASE, listAt, count, outAt);
    const best = bestPositions(this.float32.subarray(outAt >> 2, (outAt >> 2) + count), limit);
    const rows = this.int32.subarray(listAt >> 2, (listAt >> 2) + count);
    return Array.from(best, (position) => rows[position]!);
  }
}

/** Positions of the `limit` largest scores (a bounded min-heap: one comparison for most). */
function bestPositions(scores: Float32Array, limit: number): Int32Array {
  const heapScore = new Float32Array(limit);
  const heapPos = new Int32Array(limit);
  let size = 0;
  for (let i = 0; i < scores.length; i++) {
    const score = scores[i]!;
    if (size < limit) {
      // Sift up.
      let at = size++;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (heapScore[parent]! <= score) break;
        heapScore[at] = heapScore[parent]!;
        heapPos[at] = heapPos[parent]!;
        at = parent;
      }
      heapScore[at] = score;
      heapPos[at] = i;
    } else if (score > heapScore[0]!) {
      // Replace the root, sift down.
      let at = 0;
      for (;;) {
        let child = 2 * at + 1;
        if (child >= size) break;
        if (child + 1 < size && heapScore[child + 1]! < heapScore[child]!) child++;
        if (heapScore[child]! >= score) break;
        heapScore[at] = heapScore[child]!;
        heapPos[at] = heapPos[child]!;
        at = child;
      }
      heapScore[at] = score;
      heapPos[at] = i;
    }
  }
  return heapPos.subarray(0, size);
}

type RawRow = [seq: number, id: string, sourceId: string, dimensions: number, embedding: Uint8Array];

/**
 * An in-memory copy of every chunk vector, per dimension, searched by an int8 SIMD scan of the
 * requested sources' rows and an exact float re-scoring of the best candidates (read back from
 * `context_chunks`). It follows the committed state of the database: before each search it
 * checks `PRAGMA data_version` on the read connection (which changes whenever any other
 * connection — this process's writer or another process — commits) and, if it changed, applies
 * the rows of the change log it has not seen, in one read transaction with the chunk rows they
 * name. The first search loads every vector (a read of the whole chunk table: 0.3–1.5 s per
 * 100k chunks of 384 dimensions here), as does a reader that fell behind the log's retention.
 * Memory: (dimensions rounded up to 16, + 16) bytes per vector — 400 for 384 dimensions, 40 MB
 * per 100k chunks — plus the row's chunk id and a few maps.
 *
 * Searches inside a write transaction (which must see its own uncommitted rows), dimensions
 * whose matrix could not grow, and runtimes without WebAssembly SIMD use sqlite-vec instead:
 * `search` returns undefined then.
 */
export class SqliteVectorIndex {
  private readonly matrices = new Map<number, VectorMatrix>();
  /** seq → the matrix and row holding it. */
  private readonly located = new Map<number, VectorMatrix>();
  private readonly rowBySeq = new Map<number, number>();
  private loaded = false;
  private lastChange = 0;
  private dataVersion = -1;
  private logExists = false;
  private readonly statements = new Map<string, SqliteDatabase.Statement>();
  private readonly scratch = { bytes: new Uint8Array(0), floats: new Float32Array(0) };
  readonly available = vectorKernelAvailable();

  constructor(private readonly reader: SqliteDatabase.Database) {}

  private statement(text: string): SqliteDatabase.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.reader.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /** True once the change log and its triggers are committed (the reader sees only committed schema). */
  changeLogCommitted(): boolean {
    if (!this.logExists) {
      const names = [CHANGE_LOG, `${CHANGE_LOG}_insert`, `${CHANGE_LOG}_delete`, `${CHANGE_LOG}_update`];
      const found = this.statement(`select count(*) from sqlite_master where name in (select value from json_each(?))`).pluck().get(JSON.stringify(names));
      this.logExists = Number(found) === names.length;
    }
    return this.logExists;
  }

  /** The float32 components of a stored embedding BLOB (a view over scratch space, valid until the next call). */
  private decode(blob: Uint8Array): Float32Array {
    const length = blob.byteLength >> 2;
    if (this.scratch.floats.length < length) {
      this.scratch.floats = new Float32Array(length);
      this.scratch.bytes = new Uint8Array(this.scratch.floats.buffer);
    }
    const floats = this.scratch.floats.subarray(0, length);
    if (LITTLE_ENDIAN) {
      this.scratch.bytes.set(blob.subarray(0, length * 4));
    } else {
      const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
      for (let i = 0; i < length; i++) floats[i] = view.getFloat32(i * 4, true);
    }
    return floats;
  }

  private removeSeq(seq: number): void {
    const matrix = this.located.get(seq);
    const row = this.rowBySeq.get(seq);
    this.located.delete(seq);
    this.rowBySeq.delete(seq);
    if (matrix && row !== undefined) matrix.remove(row);
  }

  private reset(): void {
    this.matrices.clear();
    this.located.clear();
    this.rowBySeq.clear();
    this.loaded = false;
  }

  private load(): void {
    this.reset();
    const [{ last }] = this.statement(`select coalesce(max(id), 0) as last from ${CHANGE_LOG}`).all() as [{ last: number }];
    const rows = this.statement(`select seq, id, source_id, dimensions, embedding from context_chunks`).raw(true);
    for (const row of rows.iterate() as IterableIterator<RawRow>) this.add(row);
    this.lastChange = Number(last);
    this.loaded = true;
  }

  private add(row: RawRow): void {
    const [seq, id, sourceId, dimensions, embedding] = row;
    let matrix = this.matrices.get(dimensions);
    if (!matrix) {
      matrix = new VectorMatrix(dimensions);
      this.matrices.set(dimensions, matrix);
    }
    if (matrix.overflowed) return;
    const vector = this.decode(embedding);
    if (vector.length !== dimensions) return;
    const at = matrix.add(seq, id, sourceId, vector);
    if (at < 0) return;
    this.located.set(seq, matrix);
    this.rowBySeq.set(seq, at);
  }

  /** Applies the log rows after `lastChange`; reloads when some were pruned before this reader saw them. */
  private catchUp(): void {
    const [bounds] = this.statement(`select min(id) as first, max(id) as last from ${CHANGE_LOG}`).all() as [{ first: number | null; last: number | null }];
    const last = Number(bounds.last ?? 0);
    if (last === this.lastChange) return;
    // Pruned past what this reader saw, or a log that was recreated: start over.
    if (last < this.lastChange || (bounds.first !== null && Number(bounds.first) > this.lastChange + 1)) return this.load();
    const changed = new Set<number>();
    for (const [seq] of this.statement(`select seq from ${CHANGE_LOG} where id > ? order by id`).raw(true).iterate(this.lastChange) as IterableIterator<[number]>) {
      changed.add(Number(seq));
    }
    // Whatever happened to those rows, what counts is their state now: out, then back in if present.
    for (const seq of changed) this.removeSeq(seq);
    const read = this.statement(
      `select seq, id, source_id, dimensions, embedding from context_chunks where seq in (select value from json_each(?))`,
    ).raw(true);
    const seqs = [...changed];
    for (let i = 0; i < seqs.length; i += LOOKUP_BATCH) {
      for (const row of read.iterate(JSON.stringify(seqs.slice(i, i + LOOKUP_BATCH))) as IterableIterator<RawRow>) this.add(row);
    }
    this.lastChange = last;
  }

  /** Brings the index to the latest committed state; false when it cannot serve searches. */
  private sync(): boolean {
    if (!this.available || !this.changeLogCommitted()) return false;
    const version = Number(this.statement('pragma data_version').pluck().get());
    if (this.loaded && version === this.dataVersion) return true;
    try {
      this.reader.transaction(() => (this.loaded ? this.catchUp() : this.load()))();
    } catch {
      // The log or the chunks table went away under us (a migration down): sqlite-vec answers.
      this.reset();
      this.logExists = false;
      return false;
    }
    this.dataVersion = version;
    return true;
  }

  /**
   * The k chunks of the given sources nearest to the unit query, exact cosine scores; undefined
   * when this index cannot answer (use sqlite-vec).
   */
  search(sourceIds: string[], unit: Float32Array, k: number): ScoredChunk[] | undefined {
    if (!this.sync()) return undefined;
    const matrix = this.matrices.get(unit.length);
    if (!matrix) return [];
    if (matrix.overflowed) return undefined;
    const rows = matrix.candidates(sourceIds, unit, Math.max(RESCORE_MIN, k * RESCORE_FACTOR));
    if (rows.length === 0) return [];

    // Exact scores from the stored float32 vectors (the id check skips a row whose seq was reused).
    const wanted = new Map(rows.map((row) => [matrix.seqOf(row), matrix.idOf(row)]));
    const read = this.statement(`select seq, id, embedding from context_chunks where seq in (select value from json_each(?))`).raw(true);
    const seqs = [...wanted.keys()];
    const hits: ScoredChunk[] = [];
    for (let i = 0; i < seqs.length; i += LOOKUP_BATCH) {
      for (const [seq, id, blob] of read.iterate(JSON.stringify(seqs.slice(i, i + LOOKUP_BATCH))) as IterableIterator<[number, string, Uint8Array]>) {
        if (wanted.get(Number(seq)) !== id) continue;
        const vector = this.decode(blob);
        if (vector.length !== unit.length) continue;
        let dot = 0;
        let sumSquares = 0;
        for (let d = 0; d < vector.length; d++) {
          dot += vector[d]! * unit[d]!;
          sumSquares += vector[d]! * vector[d]!;
        }
        if (sumSquares > 0) hits.push({ chunkId: id, score: dot / Math.sqrt(sumSquares) });
      }
    }
    return topK(hits, k);
  }
}
