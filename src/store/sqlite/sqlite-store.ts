import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { Kysely, sql } from 'kysely';
import type { Database } from '../schema.js';
import type { KeyWithWorkspace, Store } from '../port.js';
import { KyselyApiKeyRepo } from '../kysely/platform.js';
import { toApiKey, toWorkspace } from '../kysely/platform-rows.js';
import { KyselyStore, migrate } from '../kysely-store.js';
import type { MergeCounts } from '../kysely/dialect-traits.js';
import { mergeSketches } from './merge-sketches.js';
import { sqliteMigrations } from './migrations/index.js';
import { SqliteChunkIndex } from './sqlite-chunk-repo.js';
import { prepareDataDir } from './data-dir.js';
import { ReadWriteSqliteDialect } from './read-write-dialect.js';
import { WalCheckpointer, WRITER_AUTOCHECKPOINT_PAGES } from './wal-checkpointer.js';

function openConnection(file: string, readonly: boolean): SqliteDatabase.Database {
  const db = new SqliteDatabase(file, { readonly });
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Checkpoints run on a thread of their own (WalCheckpointer); this is the writer's fallback.
    db.pragma(`wal_autocheckpoint = ${WRITER_AUTOCHECKPOINT_PAGES}`);
  }
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Both connections: the writer maintains the vec0 vector tables, the reader searches them.
  sqliteVec.load(db);
  db.function('kairo_merge_sketches', { deterministic: true }, mergeSketches);
  cachePreparedStatements(db);
  return db;
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query afresh, and preparing costs more than running most of ours. The
 * queries are built from a fixed set of shapes, so their prepared statements are kept by SQL
 * text (least recently used dropped first). Reuse is safe: Kysely runs one statement at a time
 * on a connection and reads each result fully (`all`/`run`) before the next.
 */
function cachePreparedStatements(db: SqliteDatabase.Database): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, SqliteDatabase.Statement>();
  db.prepare = ((sql: string) => {
    let statement = cache.get(sql);
    if (statement) {
      cache.delete(sql);
    } else {
      statement = prepare(sql);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    }
    cache.set(sql, statement);
    return statement;
  }) as typeof db.prepare;
}

/**
 * Authentication runs on every request, so its reads use prepared statements on a separate
 * read-only connection: no query building, and never blocked behind (or able to see the
 * uncommitted writes of) a transaction on the writer connection. The full key + workspace join is
 * read when a key is first seen; every later request only re-checks `revoked_at` through the
 * unique `secret_hash` index (about 1.6 µs against 5–6 µs for the join and its two objects), and
 * answers synchronously — on the writer while it is idle, whose page cache the writer's own
 * commits keep (the reader's is dropped after each, and the check reads its pages again). Each read is
 * its own read transaction, so it sees what any other process (another server, `kairo keys
 * revoke`) committed before it.
 */
class SqliteApiKeyRepo extends KyselyApiKeyRepo {
  private readonly lookup: SqliteDatabase.Statement;
  private readonly revocation: SqliteDatabase.Statement;
  private readonly revocationOnWriter: SqliteDatabase.Statement;

  constructor(db: Kysely<Database>, reader: SqliteDatabase.Database, writer: SqliteDatabase.Database, private readonly writerIdle: () => boolean) {
    super(db);
    this.lookup = reader.prepare(
      `select k.id, k.workspace_id, k.livemode, k.name, k.secret_hash, k.last4, k.created_at, k.revoked_at,
              k.last_used_at, k.permissions, k.rate_limit_per_minute, w.name as ws_name, w.plan as ws_plan, w.created_at as ws_created_at
         from api_keys k join workspaces w on w.id = k.workspace_id
        where k.secret_hash = ?`,
    );
    // pluck: the one column's value, or undefined when there is no row.
    const revocation = 'select revoked_at from api_keys where secret_hash = ?';
    this.revocation = reader.prepare(revocation).pluck();
    this.revocationOnWriter = writer.prepare(revocation).pluck();
  }

  override async findBySecretHash(secretHash: string): Promise<KeyWithWorkspace | undefined> {
    const row = this.lookup.get(secretHash) as any;
    if (!row) return undefined;
    return {
      key: toApiKey(row),
      workspace: toWorkspace({ id: row.workspace_id, name: row.ws_name, plan: row.ws_plan, created_at: row.ws_created_at }),
    };
  }

  override revokedAtBySecretHash(secretHash: string): number | null | undefined {
    const statement = this.writerIdle() ? this.revocationOnWriter : this.revocation;
    const revokedAt = statement.get(secretHash) as number | bigint | null | undefined;
    return revokedAt === undefined || revokedAt === null ? revokedAt : Number(revokedAt);
  }
}

/** Merges two rollup sketch columns (see merge-sketches.ts). */
const mergeCounts: MergeCounts = (current, incoming) => sql<string>`kairo_merge_sketches(${current}, ${incoming})`;

/** Opens (creating if needed) the SQLite database under `dataDir` and applies migrations. */
export async function openSqliteStore(options: { dataDir: string; fileName?: string }): Promise<Store> {
  prepareDataDir(options.dataDir);
  const file = path.join(options.dataDir, options.fileName ?? 'kairo.sqlite');
  // The writer first: it creates the file and turns on WAL, which the read-only reader needs.
  const writer = openConnection(file, false);
  let reader: SqliteDatabase.Database;
  try {
    reader = openConnection(file, true);
  } catch (error) {
    writer.close();
    throw error;
  }
  const dialect = new ReadWriteSqliteDialect(writer, reader);
  const db = new Kysely<Database>({ dialect });
  try {
    await migrate(db, { dialectMigrations: sqliteMigrations });
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const chunks = new SqliteChunkIndex(reader);
  const checkpointer = new WalCheckpointer(file);
  return new KyselyStore(
    db,
    { name: 'sqlite', skipLocked: false, chunkRepo: (executor) => chunks.repo(executor), mergeCounts, sumsNamedGroupings: true },
    { apiKeys: new SqliteApiKeyRepo(db, reader, writer, () => dialect.writerIdle()) },
    () => checkpointer.close(),
  );
}
