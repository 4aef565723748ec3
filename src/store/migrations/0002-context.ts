import type { Kysely } from 'kysely';

/** Context sources and documents. Chunks and their indexes are dialect-specific (0003). */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('context_sources')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('livemode', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('embedding_model', 'text', (c) => c.notNull())
    .addColumn('embedding_dimensions', 'integer', (c) => c.notNull())
    .addColumn('chunk_max_tokens', 'integer', (c) => c.notNull())
    .addColumn('chunk_overlap_tokens', 'integer', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('refresh_interval_seconds', 'integer')
    .addColumn('last_refresh_at', 'bigint')
    .addColumn('next_refresh_at', 'bigint')
    .addColumn('last_refresh_error', 'text')
    .addColumn('refresh_locked_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('context_sources_name', ['workspace_id', 'livemode', 'name'])
    .execute();
  await db.schema.createIndex('context_sources_refresh').on('context_sources').column('next_refresh_at').execute();

  await db.schema
    .createTable('context_documents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('source_id', 'text', (c) => c.notNull().references('context_sources.id').onDelete('cascade'))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('livemode', 'integer', (c) => c.notNull())
    .addColumn('external_id', 'text')
    .addColumn('title', 'text')
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('chunk_count', 'integer', (c) => c.notNull())
    .addColumn('token_count', 'integer', (c) => c.notNull())
    .addColumn('url', 'text')
    .addColumn('etag', 'text')
    .addColumn('last_modified', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('indexed_at', 'bigint')
    .addUniqueConstraint('context_documents_external', ['source_id', 'external_id'])
    .execute();
  await db.schema.createIndex('context_documents_source').on('context_documents').columns(['source_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('context_documents').execute();
  await db.schema.dropTable('context_sources').execute();
}
