import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Rows per statement: at most this many, then halves, so a batch takes few statement shapes. */
const MAX_ROWS = 256;

/**
 * A multi-row insert of one table's rows, compiled by Kysely once per row count and then run as
 * compiled SQL: building the query for thousands of rows a second (the request log) costs more
 * than the database's work. Runs through the given executor, so it joins its transaction. One
 * instance per store (the SQL is the store's dialect).
 */
export class BulkInsert<T extends keyof Database> {
  private readonly compiled = new Map<number, string>();

  constructor(private readonly table: T, private readonly columns: ReadonlyArray<keyof Database[T] & string>) {}

  async run(db: Kysely<Database>, rows: Array<Database[T]>): Promise<void> {
    for (let i = 0; i < rows.length; ) {
      let n = MAX_ROWS;
      while (n > rows.length - i) n >>= 1;
      const batch = rows.slice(i, i + n);
      let text = this.compiled.get(n);
      if (text === undefined) {
        text = db.insertInto(this.table).values(batch as any).compile().sql;
        this.compiled.set(n, text);
      }
      const parameters: unknown[] = [];
      for (const row of batch) for (const column of this.columns) parameters.push(row[column as keyof typeof row]);
      await db.executeQuery(CompiledQuery.raw(text, parameters));
      i += n;
    }
  }
}
