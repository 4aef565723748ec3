import pg from 'pg';
import { Kysely, PostgresDialect, sql, type DatabaseIntrospector, type SchemaMetadata, type TableMetadata } from 'kysely';
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
    } catch (error) {
      // Two processes creating the schema at once: "if not exists" does not cover the race.
      if (!isDuplicateSchema(error)) throw error;
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
  const scope = schema ?? (await currentSchema(pool));
  const db = new Kysely<Database>({ dialect: new SchemaScopedPostgresDialect({ pool }, scope) });
  let chunks: PostgresChunkIndex;
  try {
    await migrate(db, { migrationTableSchema: scope, dialectMigrations: postgresMigrations });
    chunks = await PostgresChunkIndex.open(db);
  } catch (error) {
    await db.destroy(); // an open pool would keep the process alive
    throw error;
  }
  return new KyselyStore(db, { name: 'postgres', skipLocked: true, chunkRepo: (executor) => chunks.repo(executor), mergeCounts, sumsNamedGroupings: false }, {}, async () => {}, pool);
}

function isDuplicateSchema(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '42P06' || code === '23505';
}

async function currentSchema(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ name: string | null }>('select current_schema() as name');
  return rows[0]?.name ?? 'public';
}

/**
 * Kysely's migrator finds its tables through the dialect's introspector, which by default reads
 * every column of every schema in the database, resolving each one's sequence. Another schema
 * dropped meanwhile (another KAIRO's, or a test's) makes that read fail ("schema … does not
 * exist", "column … of relation … does not exist"). The migrator only asks which schemas and
 * tables exist, so this one answers for KAIRO's schema alone.
 */
class SchemaScopedPostgresDialect extends PostgresDialect {
  constructor(config: ConstructorParameters<typeof PostgresDialect>[0], private readonly schema: string) {
    super(config);
  }

  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SchemaScopedIntrospector(db, this.schema);
  }
}

class SchemaScopedIntrospector implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<any>, private readonly schema: string) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace where nspname = ${this.schema}`.execute(this.db);
    return rows.map((row) => ({ name: row.name }));
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; kind: string }>`
      select c.relname as name, c.relkind as kind from pg_catalog.pg_class c
      join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
      where ns.nspname = ${this.schema} and c.relkind in ('r', 'v', 'p')`.execute(this.db);
    return rows.map((row) => ({ name: row.name, schema: this.schema, isView: row.kind === 'v', columns: [] }));
  }

  async getMetadata(): Promise<{ tables: TableMetadata[] }> {
    return { tables: await this.getTables() };
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
