import type { Kysely, RawBuilder } from 'kysely';
import type { Database } from '../schema.js';
import type { ContextChunkRepo } from '../port.js';

/**
 * How a dialect merges two sketch columns (JSON objects of bin → count) into one whose counts
 * are the sums: the only rollup SQL that differs between databases.
 */
export type MergeCounts = (current: RawBuilder<string>, incoming: RawBuilder<string>) => RawBuilder<string>;

/** Dialect differences the shared repositories need to know about. */
export interface DialectTraits {
  name: 'sqlite' | 'postgres';
  /** PostgreSQL locks claimed job rows with FOR UPDATE SKIP LOCKED; SQLite serialises writers. */
  skipLocked: boolean;
  /** The dialect's chunk repository (vector and full-text search differ per database). */
  chunkRepo: (db: Kysely<Database>) => ContextChunkRepo;
  /** Merges two rollup sketch columns, summing the counts of each bin. */
  mergeCounts: MergeCounts;
  /**
   * Whether reports have the database sum a named grouping's rollup rows (about one per group
   * and bucket already). SQLite does it cheaply; PostgreSQL's grouped numeric sums, sent back as
   * text, cost more than adding the rows in the server. The all-dimensions grouping is summed
   * by the database either way.
   */
  sumsNamedGroupings: boolean;
}
