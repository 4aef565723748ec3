import type { Kysely } from 'kysely';

/** What a workspace stores is summed from an index alone (the storage quota is checked on every ingest). */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('context_documents_workspace_size').on('context_documents').columns(['workspace_id', 'size_bytes']).execute();
}
