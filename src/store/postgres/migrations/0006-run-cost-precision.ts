import type { Kysely } from 'kysely';

/**
 * PostgreSQL took the runs' `real` cost column as single precision; costs are summed and compared
 * across runs, spans and rollups, so they need double precision (SQLite's REAL already is).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('runs').alterColumn('cost_usd', (c) => c.setDataType('double precision')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('runs').alterColumn('cost_usd', (c) => c.setDataType('real')).execute();
}
