import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { Database } from './schema.js';
import type {
  ApiKey, ApiKeyRepo, HeartbeatRepo, IdempotencyRecord, IdempotencyRepo, JobRecord, JobRepo, JobState,
  KeyWithWorkspace, MetaRepo, OutboxEntry, OutboxRepo, Page, PageRequest, PlanName, Repos, Scope, Workspace,
  WorkspaceRepo, ContextChunkRepo,
} from './port.js';
import { KyselyContextDocumentRepo, KyselyContextSourceRepo } from './context-repos.js';
import { KyselyAgentRepo, KyselyRunRepo, KyselySpanRepo, KyselyThreadRepo, SPAN_COLUMNS, spanUpsert } from './agent-repos.js';
import { KyselyWorkflowRepo, KyselyWorkflowRunRepo } from './workflow-repos.js';
import { KyselyRunEventRepo } from './run-event-repo.js';
import { KyselyRollupRepo, ROLLUP_COLUMNS, rollupUpsert, type MergeCounts } from './analytics-repos.js';
import { KyselyRequestLogRepo } from './request-log-repo.js';
import { BulkInsert } from './bulk-insert.js';

/** Dialect differences the shared repositories need to know about. */
export interface DialectTraits {
  name: 'sqlite' | 'postgres';
  /** PostgreSQL locks claimed job rows with FOR UPDATE SKIP LOCKED; SQLite serialises writers. */
  skipLocked: boolean;
  /** The dialect's chunk repository (vector and full-text search differ per database). */
  chunkRepo: (db: Kysely<Database>) => ContextChunkRepo;
  /** Merges two rollup sketch columns, summing the counts of each bin. */
  mergeCounts: MergeCounts;
}

/**
 * Newest-first cursor pagination over a query whose rows have a sortable `id` (TypeIDs sort by
 * creation time). Fetches one extra row to know whether more exist.
 */
export async function paginate<DB, TB extends keyof DB, O extends { id: string }>(
  query: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
): Promise<Page<O>> {
  const idColumn = 'id' as any;
  let q = query;
  if (page.before !== undefined) {
    q = q.where(idColumn, '>', page.before).orderBy(idColumn, 'asc');
  } else {
    if (page.after !== undefined) q = q.where(idColumn, '<', page.after);
    q = q.orderBy(idColumn, 'desc');
  }
  const rows = (await q.limit(page.limit + 1).execute()) as O[];
  const hasMore = rows.length > page.limit;
  const data = rows.slice(0, page.limit);
  if (page.before !== undefined) data.reverse();
  return { data, hasMore };
}

/**
 * A versions cursor — a version's id (`agent_…@3`, `wf_…@3`, as in `last_id`) or its bare number —
 * as a bound the `integer` column compares with alike on every database: rounded to the side that
 * keeps the comparison exact and clamped to 32 bits (PostgreSQL rejects `1.5`, `NaN` and
 * out-of-range integer parameters where SQLite just compares). Undefined for a cursor that names
 * no number: no version lies beyond it.
 */
function versionBound(cursor: string, round: (n: number) => number): number | undefined {
  const text = cursor.slice(cursor.lastIndexOf('@') + 1);
  const n = text.trim() === '' ? NaN : Number(text);
  if (Number.isNaN(n)) return undefined;
  return Math.min(Math.max(round(n), -(2 ** 31)), 2 ** 31 - 1);
}

/** Newest-first cursor pagination of an object's versions (rows with an integer `version`), as `paginate` does by id. */
export async function paginateVersions<DB, TB extends keyof DB, O extends { version: number }>(
  query: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
): Promise<Page<O>> {
  const versionColumn = 'version' as any;
  let q = query;
  if (page.before !== undefined) {
    const bound = versionBound(page.before, Math.floor);
    if (bound === undefined) return { data: [], hasMore: false };
    q = q.where(versionColumn, '>', bound).orderBy(versionColumn, 'asc');
  } else {
    if (page.after !== undefined) {
      const bound = versionBound(page.after, Math.ceil);
      if (bound === undefined) return { data: [], hasMore: false };
      q = q.where(versionColumn, '<', bound);
    }
    q = q.orderBy(versionColumn, 'desc');
  }
  const rows = (await q.limit(page.limit + 1).execute()) as O[];
  const data = rows.slice(0, page.limit);
  if (page.before !== undefined) data.reverse();
  return { data, hasMore: rows.length > page.limit };
}

type WorkspaceRow = Database['workspaces'];
type KeyRow = Database['api_keys'];
type JobRow = Database['jobs'];

export const toWorkspace = (row: WorkspaceRow): Workspace => ({
  id: row.id,
  name: row.name,
  plan: row.plan as PlanName,
  createdAt: Number(row.created_at),
});

export const toApiKey = (row: KeyRow): ApiKey => ({
  id: row.id,
  workspaceId: row.workspace_id,
  livemode: Number(row.livemode) === 1,
  name: row.name,
  secretHash: row.secret_hash,
  last4: row.last4,
  createdAt: Number(row.created_at),
  revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
});

const toJob = (row: JobRow): JobRecord => ({
  id: row.id,
  queue: row.queue,
  kind: row.kind,
  payload: row.payload,
  state: row.state as JobState,
  runAt: Number(row.run_at),
  leaseUntil: row.lease_until === null ? null : Number(row.lease_until),
  leaseToken: row.lease_token,
  attempts: Number(row.attempts),
  maxAttempts: Number(row.max_attempts),
  backoffMs: Number(row.backoff_ms),
  lastError: row.last_error,
  result: row.result,
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

const toIdempotency = (row: Database['idempotency_keys']): IdempotencyRecord => ({
  scope: { workspaceId: row.workspace_id, livemode: Number(row.livemode) === 1 },
  key: row.key,
  requestHash: row.request_hash,
  state: row.state as IdempotencyRecord['state'],
  responseStatus: row.response_status === null ? null : Number(row.response_status),
  responseBody: row.response_body,
  responseHeaders: row.response_headers === null ? null : (JSON.parse(row.response_headers) as Record<string, string>),
  createdAt: Number(row.created_at),
  lockedUntil: Number(row.locked_until),
});

const mode = (livemode: boolean): number => (livemode ? 1 : 0);

class KyselyWorkspaceRepo implements WorkspaceRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(workspace: Workspace): Promise<Workspace> {
    await this.db
      .insertInto('workspaces')
      .values({ id: workspace.id, name: workspace.name, plan: workspace.plan, created_at: workspace.createdAt })
      .execute();
    return workspace;
  }

  async get(id: string): Promise<Workspace | undefined> {
    const row = await this.db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toWorkspace(row);
  }

  async list(page: PageRequest): Promise<Page<Workspace>> {
    const result = await paginate(this.db.selectFrom('workspaces').selectAll(), page);
    return { data: result.data.map(toWorkspace), hasMore: result.hasMore };
  }
}

export class KyselyApiKeyRepo implements ApiKeyRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(key: ApiKey): Promise<ApiKey> {
    await this.db
      .insertInto('api_keys')
      .values({
        id: key.id,
        workspace_id: key.workspaceId,
        livemode: mode(key.livemode),
        name: key.name,
        secret_hash: key.secretHash,
        last4: key.last4,
        created_at: key.createdAt,
        revoked_at: key.revokedAt,
        last_used_at: key.lastUsedAt,
      })
      .execute();
    return key;
  }

  async findBySecretHash(secretHash: string): Promise<KeyWithWorkspace | undefined> {
    const key = await this.db.selectFrom('api_keys').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst();
    if (!key) return undefined;
    const workspace = await this.db.selectFrom('workspaces').selectAll().where('id', '=', key.workspace_id).executeTakeFirst();
    if (!workspace) return undefined;
    return { key: toApiKey(key), workspace: toWorkspace(workspace) };
  }

  revokedAtBySecretHash(secretHash: string): ReturnType<ApiKeyRepo['revokedAtBySecretHash']> {
    return this.db
      .selectFrom('api_keys')
      .select('revoked_at')
      .where('secret_hash', '=', secretHash)
      .executeTakeFirst()
      .then((row) => (row === undefined ? undefined : row.revoked_at === null ? null : Number(row.revoked_at)));
  }

  async get(scope: Scope, id: string): Promise<ApiKey | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .executeTakeFirst();
    return row && toApiKey(row);
  }

  async list(scope: Scope, page: PageRequest): Promise<Page<ApiKey>> {
    const query = this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode));
    const result = await paginate(query, page);
    return { data: result.data.map(toApiKey), hasMore: result.hasMore };
  }

  async listAll(page: PageRequest): Promise<Page<ApiKey>> {
    const result = await paginate(this.db.selectFrom('api_keys').selectAll(), page);
    return { data: result.data.map(toApiKey), hasMore: result.hasMore };
  }

  async revoke(id: string, at: number, scope?: Scope): Promise<ApiKey | undefined> {
    let update = this.db.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null);
    if (scope) update = update.where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode));
    await update.execute();
    if (scope) return this.get(scope, id);
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toApiKey(row);
  }

  async touch(id: string, at: number): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
  }
}

class KyselyIdempotencyRepo implements IdempotencyRepo {
  constructor(private readonly db: Kysely<Database>) {}

  private whereKey(scope: Scope, key: string) {
    return this.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .where('key', '=', key);
  }

  async claim(record: IdempotencyRecord): ReturnType<IdempotencyRepo['claim']> {
    const inserted = await this.db
      .insertInto('idempotency_keys')
      .values({
        workspace_id: record.scope.workspaceId,
        livemode: mode(record.scope.livemode),
        key: record.key,
        request_hash: record.requestHash,
        state: 'in_progress',
        response_status: null,
        response_body: null,
        response_headers: null,
        created_at: record.createdAt,
        locked_until: record.lockedUntil,
      })
      .onConflict((oc) => oc.columns(['workspace_id', 'livemode', 'key']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return { claimed: true as const };

    // The owner of an in-progress claim may have died: take it over once its lock has expired.
    const takeover = await this.db
      .updateTable('idempotency_keys')
      .set({ locked_until: record.lockedUntil, created_at: record.createdAt })
      .where('workspace_id', '=', record.scope.workspaceId)
      .where('livemode', '=', mode(record.scope.livemode))
      .where('key', '=', record.key)
      .where('state', '=', 'in_progress')
      .where('request_hash', '=', record.requestHash)
      .where('locked_until', '<', record.createdAt)
      .executeTakeFirst();
    if (Number(takeover.numUpdatedRows) === 1) return { claimed: true as const };

    const existing = await this.whereKey(record.scope, record.key).executeTakeFirst();
    if (!existing) return this.claim(record); // released between our insert and read: try again
    return { claimed: false as const, existing: toIdempotency(existing) };
  }

  async complete(scope: Scope, key: string, status: number, body: string, headers: Record<string, string>) {
    await this.db
      .updateTable('idempotency_keys')
      .set({ state: 'completed', response_status: status, response_body: body, response_headers: JSON.stringify(headers) })
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .where('key', '=', key)
      .execute();
  }

  async release(scope: Scope, key: string) {
    await this.db
      .deleteFrom('idempotency_keys')
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .where('key', '=', key)
      .where('state', '=', 'in_progress')
      .execute();
  }

  async purge(before: number) {
    const result = await this.db.deleteFrom('idempotency_keys').where('created_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

class KyselyHeartbeatRepo implements HeartbeatRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async record(minute: number) {
    await this.db.insertInto('heartbeats').values({ minute }).onConflict((oc) => oc.column('minute').doNothing()).execute();
  }

  async countBetween(fromMinute: number, toMinute: number) {
    const row = await this.db
      .selectFrom('heartbeats')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('minute', '>=', fromMinute)
      .where('minute', '<=', toMinute)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async first() {
    const row = await this.db
      .selectFrom('heartbeats')
      .select((eb) => eb.fn.min<number>('minute').as('first'))
      .executeTakeFirst();
    return row?.first === null || row?.first === undefined ? undefined : Number(row.first);
  }
}

class KyselyJobRepo implements JobRepo {
  constructor(private readonly db: Kysely<Database>, private readonly traits: DialectTraits) {}

  async insert(job: JobRecord) {
    const result = await this.db
      .insertInto('jobs')
      .values({
        id: job.id,
        queue: job.queue,
        kind: job.kind,
        payload: job.payload,
        state: job.state,
        run_at: job.runAt,
        lease_until: job.leaseUntil,
        lease_token: job.leaseToken,
        attempts: job.attempts,
        max_attempts: job.maxAttempts,
        backoff_ms: job.backoffMs,
        last_error: job.lastError,
        result: job.result,
        created_at: job.createdAt,
        updated_at: job.updatedAt,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async get(id: string) {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toJob(row);
  }

  async claim(queue: string, now: number, leaseUntil: number, leaseToken: string, limit: number) {
    let due = this.db
      .selectFrom('jobs')
      .select('id')
      .where('queue', '=', queue)
      // Narrows the (queue, state, run_at) index to the two states the OR below can match, so
      // the finished jobs that pile up between purges are never scanned.
      .where('state', 'in', ['waiting', 'active'])
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'waiting'), eb('run_at', '<=', now)]),
          eb.and([eb('state', '=', 'active'), eb('lease_until', '<', now)]),
        ]),
      )
      .orderBy('run_at')
      .limit(limit);
    if (this.traits.skipLocked) due = due.forUpdate().skipLocked();
    const rows = await this.db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'active',
        lease_until: leaseUntil,
        lease_token: leaseToken,
        attempts: eb('attempts', '+', 1),
        updated_at: now,
      }))
      .where('id', 'in', due)
      .returningAll()
      .execute();
    return rows.map(toJob).sort((a, b) => a.runAt - b.runAt);
  }

  async renew(id: string, leaseToken: string, leaseUntil: number, now: number) {
    const result = await this.db
      .updateTable('jobs')
      .set({ lease_until: leaseUntil, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where('lease_token', '=', leaseToken)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async complete(id: string, leaseToken: string, result: string | null, now: number) {
    const update = await this.db
      .updateTable('jobs')
      .set({ state: 'completed', result, lease_until: null, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where('lease_token', '=', leaseToken)
      .executeTakeFirst();
    return Number(update.numUpdatedRows) === 1;
  }

  async fail(id: string, leaseToken: string, error: string, retryAt: number | null, now: number) {
    const update = await this.db
      .updateTable('jobs')
      .set(
        retryAt === null
          ? { state: 'failed', last_error: error, lease_until: null, updated_at: now }
          : { state: 'waiting', last_error: error, run_at: retryAt, lease_until: null, updated_at: now },
      )
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where('lease_token', '=', leaseToken)
      .executeTakeFirst();
    return Number(update.numUpdatedRows) === 1;
  }

  async postpone(id: string, leaseToken: string, runAt: number, now: number) {
    const update = await this.db
      .updateTable('jobs')
      .set((eb) => ({ state: 'waiting', run_at: runAt, attempts: eb('attempts', '-', 1), lease_until: null, updated_at: now }))
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where('lease_token', '=', leaseToken)
      .executeTakeFirst();
    return Number(update.numUpdatedRows) === 1;
  }

  async nextDue(queue: string) {
    const row = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.min<number>('run_at').as('next'))
      .where('queue', '=', queue)
      .where('state', '=', 'waiting')
      .executeTakeFirst();
    return row?.next === null || row?.next === undefined ? undefined : Number(row.next);
  }

  async purgeFinished(before: number) {
    const result = await this.db.deleteFrom('jobs').where('state', 'in', ['completed', 'failed']).where('updated_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async countDelayed(queue: string, now: number) {
    const row = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('queue', '=', queue)
      .where('state', '=', 'waiting')
      .where('run_at', '>', now)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async countByState(queue: string) {
    const rows = await this.db
      .selectFrom('jobs')
      .select(['state', (eb) => eb.fn.countAll<number>().as('count')])
      .where('queue', '=', queue)
      .groupBy('state')
      .execute();
    const counts: Record<JobState, number> = { waiting: 0, active: 0, completed: 0, failed: 0 };
    for (const row of rows) counts[row.state as JobState] = Number(row.count);
    return counts;
  }
}

class KyselyOutboxRepo implements OutboxRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(entry: OutboxEntry) {
    await this.db
      .insertInto('outbox')
      .values({
        id: entry.id,
        queue: entry.queue,
        kind: entry.kind,
        payload: entry.payload,
        options: entry.options,
        created_at: entry.createdAt,
      })
      .execute();
  }

  async list(createdBefore: number, limit: number) {
    const rows = await this.db
      .selectFrom('outbox')
      .selectAll()
      .where('created_at', '<', createdBefore)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      id: row.id,
      queue: row.queue,
      kind: row.kind,
      payload: row.payload,
      options: row.options,
      createdAt: Number(row.created_at),
    }));
  }

  async delete(id: string) {
    await this.db.deleteFrom('outbox').where('id', '=', id).execute();
  }
}

class KyselyMetaRepo implements MetaRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async get(key: string) {
    const row = await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  }

  async setIfAbsent(key: string, value: string) {
    await this.db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).execute();
    return (await this.get(key))!;
  }

  async set(key: string, value: string) {
    await this.db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
  }
}

/** What a store's repositories share across transactions: statements compiled once. */
export interface SharedStatements {
  rollupUpsert: BulkInsert<'rollups'>;
  rollupInsert: BulkInsert<'rollups'>;
  spanUpsert: BulkInsert<'spans'>;
  spanInsert: BulkInsert<'spans'>;
}

export const sharedStatements = (traits: DialectTraits): SharedStatements => ({
  rollupUpsert: rollupUpsert(traits.mergeCounts),
  rollupInsert: new BulkInsert('rollups', ROLLUP_COLUMNS),
  spanUpsert: spanUpsert(),
  spanInsert: new BulkInsert('spans', SPAN_COLUMNS),
});

/** The repositories over a Kysely executor: the database itself or an open transaction. */
export function kyselyRepos(db: Kysely<Database>, traits: DialectTraits, shared: SharedStatements): Repos {
  return {
    workspaces: new KyselyWorkspaceRepo(db),
    apiKeys: new KyselyApiKeyRepo(db),
    idempotency: new KyselyIdempotencyRepo(db),
    heartbeats: new KyselyHeartbeatRepo(db),
    jobs: new KyselyJobRepo(db, traits),
    outbox: new KyselyOutboxRepo(db),
    meta: new KyselyMetaRepo(db),
    contextSources: new KyselyContextSourceRepo(db),
    contextDocuments: new KyselyContextDocumentRepo(db),
    contextChunks: traits.chunkRepo(db),
    agents: new KyselyAgentRepo(db),
    runs: new KyselyRunRepo(db),
    runEvents: new KyselyRunEventRepo(db, 'run'),
    spans: new KyselySpanRepo(db, shared.spanUpsert, shared.spanInsert),
    threads: new KyselyThreadRepo(db),
    workflows: new KyselyWorkflowRepo(db),
    workflowRuns: new KyselyWorkflowRunRepo(db),
    workflowRunEvents: new KyselyRunEventRepo(db, 'wfrun'),
    rollups: new KyselyRollupRepo(db, shared.rollupUpsert, shared.rollupInsert),
    requestLog: new KyselyRequestLogRepo(db),
  };
}
