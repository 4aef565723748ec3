import { sql, type Kysely } from 'kysely';

/** Quotes an identifier for PostgreSQL. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * Installs pgvector when the server offers it and this role may. Returns the schema that holds
 * its `vector` type, or undefined to use the exact-scan fallback (`real[]`).
 */
async function enablePgvector(db: Kysely<any>): Promise<string | undefined> {
  const available = await sql`select 1 from pg_available_extensions where name = 'vector'`.execute(db);
  if (available.rows.length === 0) return undefined;
  // A failed CREATE EXTENSION (no privilege) would abort the migration's transaction: contain it.
  const contained = db.isTransaction;
  if (contained) await sql`savepoint kairo_enable_vector`.execute(db);
  try {
    await sql`create extension if not exists vector`.execute(db);
    if (contained) await sql`release savepoint kairo_enable_vector`.execute(db);
  } catch {
    if (contained) await sql`rollback to savepoint kairo_enable_vector`.execute(db);
    return undefined;
  }
  // The extension may live in another schema than ours (it is installed once per database).
  const schema = await sql<{ schema: string }>`
    select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace
     where e.extname = 'vector'`.execute(db);
  return schema.rows[0]?.schema;
}

/**
 * Context chunks on PostgreSQL. The embedding column is pgvector's `vector` (no fixed
 * dimension: sources choose their model) when the server has pgvector, else `real[]`; the chunk
 * repository reads which one at open (src/store/postgres/postgres-chunk-repo.ts) and creates the
 * per-dimension HNSW indexes as dimensions appear. `embedding_norm` (the vector's length) spares
 * the exact scan a second pass over each vector to turn its dot product into a cosine. Full
 * text: a generated tsvector with a GIN index ('simple' configuration: no language assumed, as
 * with SQLite's unicode61 tokenizer).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const vectorSchema = await enablePgvector(db);
  const embeddingType = vectorSchema === undefined ? 'real[]' : `${quoteIdent(vectorSchema)}.vector`;
  await sql`
    create table context_chunks (
      id text primary key,
      source_id text not null references context_sources(id) on delete cascade,
      document_id text not null references context_documents(id) on delete cascade,
      workspace_id text not null,
      livemode integer not null,
      position integer not null,
      text text not null,
      token_count integer not null,
      text_hash text not null,
      heading text,
      metadata text not null,
      dimensions integer not null,
      embedding ${sql.raw(embeddingType)} not null,
      embedding_norm double precision not null,
      created_at bigint not null,
      search tsvector generated always as (to_tsvector('simple', coalesce(heading, '') || ' ' || text)) stored
    )`.execute(db);
  await sql`create index context_chunks_document on context_chunks (document_id, position)`.execute(db);
  await sql`create index context_chunks_source on context_chunks (source_id, dimensions)`.execute(db);
  await sql`create index context_chunks_source_hash on context_chunks (source_id, text_hash)`.execute(db);
  await sql`create index context_chunks_search on context_chunks using gin (search)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table context_chunks`.execute(db);
}
