import { sql, type Kysely } from 'kysely';

/**
 * Context chunks on SQLite: the chunk rows (with their float32 embedding as a BLOB), an FTS5
 * index over their text, and triggers that keep the FTS5 index in step with every insert and
 * delete — including the cascades from deleting a document or a source. The sqlite-vec vector
 * tables are per dimension and created when a dimension is first written
 * (src/store/sqlite/sqlite-chunk-repo.ts), each with its own delete trigger.
 *
 * `seq` is an INTEGER PRIMARY KEY (an alias of the rowid, so VACUUM never renumbers it): FTS5
 * and vec0 key their rows by integer, and both point at `seq`. `id` (the chunk's TypeID) is
 * unique and is what the rest of the program uses.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table context_chunks (
      seq integer primary key,
      id text not null unique,
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
      embedding blob not null,
      created_at integer not null
    )`.execute(db);
  await sql`create index context_chunks_document on context_chunks (document_id, position)`.execute(db);
  await sql`create index context_chunks_source_hash on context_chunks (source_id, text_hash)`.execute(db);

  // External content: the text lives once, in context_chunks; FTS5 holds only the index.
  await sql`
    create virtual table context_chunks_fts using fts5(
      text, heading,
      content = 'context_chunks', content_rowid = 'seq',
      tokenize = 'unicode61 remove_diacritics 2'
    )`.execute(db);
  // Document frequency per term, so keyword search can set aside terms in most chunks.
  await sql`create virtual table context_chunks_fts_vocab using fts5vocab(context_chunks_fts, 'row')`.execute(db);
  await sql`
    create trigger context_chunks_fts_insert after insert on context_chunks begin
      insert into context_chunks_fts (rowid, text, heading) values (new.seq, new.text, new.heading);
    end`.execute(db);
  await sql`
    create trigger context_chunks_fts_delete after delete on context_chunks begin
      insert into context_chunks_fts (context_chunks_fts, rowid, text, heading) values ('delete', old.seq, old.text, old.heading);
    end`.execute(db);
  await sql`
    create trigger context_chunks_fts_update after update of text, heading on context_chunks begin
      insert into context_chunks_fts (context_chunks_fts, rowid, text, heading) values ('delete', old.seq, old.text, old.heading);
      insert into context_chunks_fts (rowid, text, heading) values (new.seq, new.text, new.heading);
    end`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  const vectorTables = await sql<{ name: string }>`
    select name from sqlite_master where type = 'table' and name glob 'context_vec_[0-9]*' and lower(sql) like '%using vec0%'`.execute(db);
  for (const { name } of vectorTables.rows) await sql`drop table ${sql.id(name)}`.execute(db);
  await sql`drop table context_chunks_fts_vocab`.execute(db);
  await sql`drop table context_chunks_fts`.execute(db);
  await sql`drop table context_chunks`.execute(db);
}
