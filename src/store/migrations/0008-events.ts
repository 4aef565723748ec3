import type { Kysely } from 'kysely';

/** Events: listed newest first per workspace and mode, found by the object they are about, purged by age. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('livemode', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .addColumn('object_id', 'text', (c) => c.notNull())
    .addColumn('related_id', 'text')
    .addColumn('payload', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('events_scope').on('events').columns(['workspace_id', 'livemode', 'id']).execute();
  await db.schema.createIndex('events_object').on('events').columns(['workspace_id', 'livemode', 'object_id', 'id']).execute();
  await db.schema.createIndex('events_related').on('events').columns(['workspace_id', 'livemode', 'related_id', 'id']).execute();
  await db.schema.createIndex('events_created').on('events').column('created_at').execute();
}
