import type SqliteDatabase from 'better-sqlite3';
import {
  SelectQueryNode, SqliteDialect, SqliteDriver, type CompiledQuery, type DatabaseConnection, type Driver, type QueryCompiler,
  type QueryResult, type TransactionSettings,
} from 'kysely';

/**
 * Kysely's SQLite dialect over two connections to one WAL database: a writer and a read-only
 * reader. Kysely's own driver has one connection behind a mutex, held for a whole transaction,
 * so every query waits for the longest transaction of the process (storing a large document's
 * chunks, say). Here a query builder SELECT (WITH … SELECT too) outside a transaction runs on the
 * reader at once and sees the last committed state; writes and every statement of a transaction
 * run on the writer, under the writer driver's mutex, so a write outside a transaction waits for
 * an open one to end and never joins it.
 *
 * Raw SQL (`sql`, `CompiledQuery.raw`) counts as a write: its text could be anything, and some
 * reads (`changes()`, a temporary table) only make sense on the writer. `db.connection()` no
 * longer reserves the writer, only transactions do: the store runs its migrations, which relied
 * on that, before anything else can use it.
 */
export class ReadWriteSqliteDialect extends SqliteDialect {
  constructor(
    private readonly writer: SqliteDatabase.Database,
    private readonly reader: SqliteDatabase.Database,
  ) {
    super({ database: writer });
  }

  override createDriver(): Driver {
    return new ReadWriteSqliteDriver(new SqliteDriver({ database: this.writer }), new SqliteDriver({ database: this.reader }));
  }
}

const isRead = (query: CompiledQuery): boolean => SelectQueryNode.is(query.query);

/** Runs `work` on one of the drivers' connection, taken and given back around it. */
async function using<T>(driver: SqliteDriver, work: (connection: DatabaseConnection) => Promise<T>): Promise<T> {
  const connection = await driver.acquireConnection();
  try {
    return await work(connection);
  } finally {
    await driver.releaseConnection();
  }
}

/**
 * What Kysely sees as a connection: taking one waits for nothing. Each statement takes the
 * reader or the writer for itself, except inside a transaction, which holds the writer from
 * BEGIN until Kysely releases the connection (after COMMIT or ROLLBACK, whichever ran).
 */
class RoutedConnection implements DatabaseConnection {
  /** The writer's connection, while this connection's transaction holds it. */
  held: DatabaseConnection | undefined;

  constructor(
    private readonly writer: SqliteDriver,
    private readonly reader: SqliteDriver,
  ) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.held) return this.held.executeQuery<R>(query);
    return using(isRead(query) ? this.reader : this.writer, (connection) => connection.executeQuery<R>(query));
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    if (this.held) {
      yield* this.held.streamQuery<R>(query, chunkSize);
      return;
    }
    const driver = isRead(query) ? this.reader : this.writer;
    const connection = await driver.acquireConnection();
    try {
      yield* connection.streamQuery<R>(query, chunkSize);
    } finally {
      await driver.releaseConnection();
    }
  }
}

class ReadWriteSqliteDriver implements Driver {
  constructor(
    private readonly writer: SqliteDriver,
    private readonly reader: SqliteDriver,
  ) {}

  async init(): Promise<void> {
    await this.writer.init();
    await this.reader.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new RoutedConnection(this.writer, this.reader);
  }

  async beginTransaction(connection: RoutedConnection, _settings: TransactionSettings): Promise<void> {
    connection.held = await this.writer.acquireConnection();
    await this.writer.beginTransaction(connection.held);
  }

  async commitTransaction(connection: RoutedConnection): Promise<void> {
    await this.writer.commitTransaction(this.heldBy(connection));
  }

  async rollbackTransaction(connection: RoutedConnection): Promise<void> {
    await this.writer.rollbackTransaction(this.heldBy(connection));
  }

  async savepoint(connection: RoutedConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.writer.savepoint(this.heldBy(connection), name, compile);
  }

  async rollbackToSavepoint(connection: RoutedConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.writer.rollbackToSavepoint(this.heldBy(connection), name, compile);
  }

  async releaseSavepoint(connection: RoutedConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    await this.writer.releaseSavepoint(this.heldBy(connection), name, compile);
  }

  /** Kysely releases every connection it took, also when BEGIN or COMMIT failed: the writer is given back here. */
  async releaseConnection(connection: RoutedConnection): Promise<void> {
    if (!connection.held) return;
    connection.held = undefined;
    await this.writer.releaseConnection();
  }

  async destroy(): Promise<void> {
    await this.reader.destroy();
    await this.writer.destroy();
  }

  private heldBy(connection: RoutedConnection): DatabaseConnection {
    if (!connection.held) throw new Error('No transaction is open on this connection.');
    return connection.held;
  }
}
