import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import type { Database } from './schema.js';
import type { EventRepo, EventsWrittenHook, Repos, StoredEvent, Store, Transaction } from './port.js';
import { kyselyRepos, sharedStatements, type DialectTraits, type SharedStatements } from './kysely/index.js';
import { migrationProvider } from './migrations/index.js';

/**
 * Applies every pending migration; throws with the failing migration's name. PostgreSQL passes
 * the schema that holds its tables: Kysely looks for its migration tables in every schema of
 * the database unless told which one, and would find another schema's.
 */
export async function migrate(
  db: Kysely<Database>,
  options: { migrationTableSchema?: string; dialectMigrations?: Record<string, Migration> } = {},
): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider(options.dialectMigrations),
    ...(options.migrationTableSchema ? { migrationTableSchema: options.migrationTableSchema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    const cause = error instanceof Error ? error.message : String(error);
    throw new Error(`Migration ${failed?.migrationName ?? ''} failed: ${cause}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** A Store over a Kysely instance; adapters pass overrides for their hot paths. */
export class KyselyStore implements Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly workspaces: Repos['workspaces'];
  readonly apiKeys: Repos['apiKeys'];
  readonly idempotency: Repos['idempotency'];
  readonly heartbeats: Repos['heartbeats'];
  readonly jobs: Repos['jobs'];
  readonly outbox: Repos['outbox'];
  readonly meta: Repos['meta'];
  readonly contextSources: Repos['contextSources'];
  readonly contextDocuments: Repos['contextDocuments'];
  readonly contextChunks: Repos['contextChunks'];
  readonly agents: Repos['agents'];
  readonly runs: Repos['runs'];
  readonly runEvents: Repos['runEvents'];
  readonly spans: Repos['spans'];
  readonly threads: Repos['threads'];
  readonly workflows: Repos['workflows'];
  readonly workflowRuns: Repos['workflowRuns'];
  readonly workflowRunEvents: Repos['workflowRunEvents'];
  readonly rollups: Repos['rollups'];
  readonly requestLog: Repos['requestLog'];
  readonly events: Repos['events'];
  readonly webhookEndpoints: Repos['webhookEndpoints'];
  readonly webhookDeliveries: Repos['webhookDeliveries'];
  readonly budgets: Repos['budgets'];
  readonly modelResponses: Repos['modelResponses'];

  constructor(
    protected readonly db: Kysely<Database>,
    private readonly traits: DialectTraits,
    overrides: Partial<Repos> = {},
    private readonly onClose: () => Promise<void> = async () => {},
    private readonly pool?: { totalCount: number; idleCount: number; waitingCount: number },
  ) {
    this.dialect = traits.name;
    this.shared = sharedStatements(traits);
    const repos = { ...kyselyRepos(db, traits, this.shared), ...overrides };
    this.workspaces = repos.workspaces;
    this.apiKeys = repos.apiKeys;
    this.idempotency = repos.idempotency;
    this.heartbeats = repos.heartbeats;
    this.jobs = repos.jobs;
    this.outbox = repos.outbox;
    this.meta = repos.meta;
    this.contextSources = repos.contextSources;
    this.contextDocuments = repos.contextDocuments;
    this.contextChunks = repos.contextChunks;
    this.agents = repos.agents;
    this.runs = repos.runs;
    this.runEvents = repos.runEvents;
    this.spans = repos.spans;
    this.threads = repos.threads;
    this.workflows = repos.workflows;
    this.workflowRuns = repos.workflowRuns;
    this.workflowRunEvents = repos.workflowRunEvents;
    this.rollups = repos.rollups;
    this.requestLog = repos.requestLog;
    this.events = repos.events;
    this.webhookEndpoints = repos.webhookEndpoints;
    this.webhookDeliveries = repos.webhookDeliveries;
    this.budgets = repos.budgets;
    this.modelResponses = repos.modelResponses;
  }

  private readonly shared: SharedStatements;
  private readonly eventsWrittenHooks: EventsWrittenHook[] = [];

  onEventsWritten(hook: EventsWrittenHook): void {
    this.eventsWrittenHooks.push(hook);
  }

  private async runEventsWrittenHooks(tx: Transaction, events: StoredEvent[]): Promise<void> {
    for (const hook of this.eventsWrittenHooks) await hook(tx, events);
  }

  /**
   * Runs `work` in one transaction. Code inside it nests through `tx.transaction`, which joins
   * it; calling the store's `transaction` again would wait for the connection on SQLite forever.
   * (Nested calls are passed the transaction rather than found through AsyncLocalStorage: on
   * Node 20 its first use turns on an async hook that every promise of the process pays for.)
   */
  async transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    const hooks: Array<() => void | Promise<void>> = [];
    let open = true;
    let result: T;
    try {
      result = await this.db.transaction().execute(async (trx) => {
        const repos = kyselyRepos(trx, this.traits, this.shared);
        const tx: Transaction = {
          ...repos,
          events: this.eventsWrittenHooks.length === 0 ? repos.events : withHooks(repos.events, (events) => this.runEventsWrittenHooks(tx, events)),
          afterCommit: (hook) => void hooks.push(hook),
          // Work that outlives the transaction (a detached promise) starts a new one instead.
          transaction: (nested) => (open ? nested(tx) : this.transaction(nested)),
        };
        return work(tx);
      });
    } finally {
      open = false;
    }
    for (const hook of hooks) await hook();
    return result;
  }

  /** A SELECT of the query builder rather than raw SQL: on SQLite it is answered by the reader, also during a long write. */
  async ping(): Promise<void> {
    await this.db.selectNoFrom(sql<number>`1`.as('one')).execute();
  }

  poolStats() {
    return this.pool && { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async close(): Promise<void> {
    await this.onClose();
    await this.db.destroy();
  }
}

/** An event repository that runs `written` after each insert of events, on the same connection. */
function withHooks(events: EventRepo, written: (events: StoredEvent[]) => Promise<void>): EventRepo {
  return {
    async insert(stored) {
      await events.insert(stored);
      if (stored.length > 0) await written(stored);
    },
    get: (scope, id) => events.get(scope, id),
    getMany: (ids) => events.getMany(ids),
    list: (scope, filter, page) => events.list(scope, filter, page),
    purge: (before, limit) => events.purge(before, limit),
  };
}
