import { sql, type Kysely } from 'kysely';
import { requestLogTable } from '../../migrations/request-log-table.js';

/**
 * The request log on SQLite, WITHOUT ROWID: the rows live in the primary-key B-tree itself, so
 * each of the thousands of inserts a second writes one B-tree, not a table and an index.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await requestLogTable(db).modifyEnd(sql`without rowid`).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('request_log').execute();
}
