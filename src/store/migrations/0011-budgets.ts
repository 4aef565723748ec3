import type { Kysely } from 'kysely';

/**
 * Budgets: a spending or token limit per workspace, key or agent over a calendar period, listed
 * per workspace and mode (and read with every run of a workspace that has any), with the highest
 * threshold already reported in the period they were reported in.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('budgets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('livemode', 'integer', (c) => c.notNull())
    .addColumn('scope_type', 'text', (c) => c.notNull())
    .addColumn('scope_id', 'text')
    .addColumn('period', 'text', (c) => c.notNull())
    .addColumn('limit_usd', 'double precision')
    .addColumn('limit_tokens', 'bigint')
    .addColumn('thresholds', 'text', (c) => c.notNull())
    .addColumn('hard', 'integer', (c) => c.notNull())
    .addColumn('reported_period_start', 'bigint')
    .addColumn('reported_percent', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('budgets_scope').on('budgets').columns(['workspace_id', 'livemode', 'id']).execute();
}
