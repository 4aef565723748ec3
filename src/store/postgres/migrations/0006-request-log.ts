import type { Kysely } from 'kysely';
import { requestLogTable } from '../../migrations/request-log-table.js';

/** The request log on PostgreSQL (see src/store/migrations/request-log-table.ts). */
export async function up(db: Kysely<any>): Promise<void> {
  await requestLogTable(db).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('request_log').execute();
}
