import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { Database } from '../schema.js';
import type { Store } from '../port.js';
import { KyselyStore, migrate } from '../kysely-store.js';
import type { MergeCounts } from '../kysely/dialect-traits.js';
import { postgresMigrations } from './migrations/index.js';
import { PostgresChunkIndex } from './postgres-chunk-repo.js';

const INT8_OID = 20;

/**
 * Merges two rollup sketches (stored as text), JSON objects of `bin, count, …` arrays (bins
 * ascending): counts summed per metric and bin, each metric's pairs written back in bin order.
 */
export const mergeCounts: MergeCounts = (current, incoming) => sql<string>`(
  with sketch(metric, pairs) as (select * from jsonb_each(${current}::jsonb) union all select * from jsonb_each(${incoming}::jsonb)),
  summed(metric, bin, n) as (
    select sketch.metric, element.value::bigint, sum((sketch.pairs ->> element.position::int)::bigint)
    from sketch, jsonb_array_elements_text(sketch.pairs) with ordinality as element(value, position)
    where element.position % 2 = 1 group by sketch.metric, element.value::bigint)
  select coalesce(jsonb_object_agg(metric, pairs), '{}'::jsonb)::text from (
    select metric, jsonb_agg(value order by bin, part) as pairs
    from (select metric, bin, 0 as part, bin as value from summed union all select metric, bin, 1, n from summed) parts group by metric) per_metric)`;

/** Connects to PostgreSQL, optionally inside its own schema, and applies migrations. */
export async function openPostgresStore(options: { url: string; schema?: string | undefined; poolSize?: number }): Promise<Store> {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`Invalid schema name "${schema}"`);
  if (schema) {
    const admin = new pg.Client({ connectionString: options.url });
    await admin.connect();
    try {
      await admin.query(`create schema if not exists "${schema}"`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    ...(schema ? { options: `-c search_path="${schema}"` } : {}),
    // Timestamps are bigint milliseconds: read them as numbers, not strings.
    types: {
      getTypeParser: ((oid: number, format?: any) =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as any,
    },
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let chunks: PostgresChunkIndex;
  try {
    const migrationTableSchema =
      schema ?? (await sql<{ name: string }>`select current_schema() as name`.execute(db)).rows[0]?.name ?? 'public';
    await migrateRetryingVanishedSchemas(db, migrationTableSchema);
    chunks = await PostgresChunkIndex.open(db);
  } catch (error) {
    await db.destroy(); // an open pool would keep the process alive
    throw error;
  }
  return new KyselyStore(db, { name: 'postgres', skipLocked: true, chunkRepo: (executor) => chunks.repo(executor), mergeCounts, sumsNamedGroupings: false }, {}, async () => {}, pool);
}

/**
 * Kysely's migrator lists the tables of every schema in the database to find its own, and that
 * listing fails with "schema … does not exist" when another schema is dropped meanwhile (another
 * KAIRO's, or a test's). Such a failure names a schema that is not ours: try again.
 */
async function migrateRetryingVanishedSchemas(db: Kysely<Database>, schema: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await migrate(db, { migrationTableSchema: schema, dialectMigrations: postgresMigrations });
      return;
    } catch (error) {
      const vanished = /schema "([^"]+)" does not exist/.exec(error instanceof Error ? error.message : '')?.[1];
      if (vanished === undefined || vanished === schema || attempt >= 5) throw error;
    }
  }
}

/** Drops a schema and everything in it (tests use one fresh schema per run). */
export async function dropPostgresSchema(url: string, schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await admin.end();
  }
}
