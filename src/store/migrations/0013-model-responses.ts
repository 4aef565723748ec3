import type { Kysely } from 'kysely';

/**
 * Responses of models (OpenAI-compatible `POST /v1/responses` with `auto` or a model id): the
 * response object as answered, read back by id within its workspace and mode, and purged after
 * the trace retention. Responses of agents are their runs and are not stored here.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('model_responses')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('livemode', 'integer', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}
