import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Database } from './schema.js';
import type {
  Agent, AgentRepo, AgentStatus, AgentVersion, Page, PageRequest, Run, RunFilter, RunRepo, RunStatus, Scope, Span, SpanRepo,
  ThreadMessage, ThreadRepo, Usage,
} from './port.js';
import { emptyUsage } from './port.js';
import { idAtTime, type IdPrefix } from '../ids.js';
import { paginate, paginateVersions } from './kysely-repos.js';
import { BulkInsert } from './bulk-insert.js';

/** Rows per insert statement of the bulk paths. */
const INSERT_BATCH = 200;

/**
 * Narrows a query of rows with time-sortable `id`s to those created in [createdFrom, createdTo):
 * an id range (the index) widened by a second for clock skew between the id and `created_at`,
 * then the exact bound on `created_at`.
 */
export function withinCreated<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  prefix: IdPrefix,
  range: { createdFrom?: number; createdTo?: number },
): SelectQueryBuilder<DB, TB, O> {
  let q = query;
  const id = 'id' as any;
  const createdAt = 'created_at' as any;
  if (range.createdFrom !== undefined) q = q.where(id, '>=', idAtTime(prefix, range.createdFrom - 1000)).where(createdAt, '>=', range.createdFrom);
  if (range.createdTo !== undefined) q = q.where(id, '<', idAtTime(prefix, range.createdTo + 1000)).where(createdAt, '<', range.createdTo);
  return q;
}

const mode = (livemode: boolean): number => (livemode ? 1 : 0);
const scopeOf = (row: { workspace_id: string; livemode: number }): Scope => ({ workspaceId: row.workspace_id, livemode: Number(row.livemode) === 1 });
const json = <T>(text: string | null): T => (text === null ? (null as T) : (JSON.parse(text) as T));
const num = (value: number | null): number | null => (value === null ? null : Number(value));

function toAgent(row: Database['agents']): Agent {
  return {
    id: row.id,
    scope: scopeOf(row),
    name: row.name,
    status: row.status as AgentStatus,
    version: Number(row.version),
    config: json(row.config),
    metadata: json(row.metadata),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toRun(row: Database['runs']): Run {
  return {
    id: row.id,
    scope: scopeOf(row),
    agentId: row.agent_id,
    agentVersion: Number(row.agent_version),
    threadId: row.thread_id,
    status: row.status as RunStatus,
    mode: row.mode as Run['mode'],
    input: json(row.input),
    state: json(row.state),
    output: row.output,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    model: row.model,
    routing: json(row.routing),
    usage: { ...emptyUsage(), ...json<Partial<Usage>>(row.usage) },
    costUsd: Number(row.cost_usd),
    latency: json(row.latency),
    requiredAction: json(row.required_action),
    cancelRequested: Number(row.cancel_requested) === 1,
    metadata: json(row.metadata),
    createdAt: Number(row.created_at),
    startedAt: num(row.started_at),
    completedAt: num(row.completed_at),
    updatedAt: Number(row.updated_at),
    apiKeyId: row.api_key_id,
    parentRunId: row.parent_run_id,
    parentSpanId: row.parent_span_id,
    workflowId: row.workflow_id,
    workflowVersion: num(row.workflow_version),
  };
}

function runRow(run: Run): Database['runs'] {
  return {
    id: run.id,
    workspace_id: run.scope.workspaceId,
    livemode: mode(run.scope.livemode),
    agent_id: run.agentId,
    agent_version: run.agentVersion,
    thread_id: run.threadId,
    status: run.status,
    mode: run.mode,
    input: JSON.stringify(run.input),
    state: JSON.stringify(run.state),
    output: run.output,
    error_code: run.errorCode,
    error_message: run.errorMessage,
    model: run.model,
    routing: run.routing === null ? null : JSON.stringify(run.routing),
    usage: JSON.stringify(run.usage),
    cost_usd: run.costUsd,
    latency: JSON.stringify(run.latency),
    required_action: run.requiredAction === null ? null : JSON.stringify(run.requiredAction),
    cancel_requested: run.cancelRequested ? 1 : 0,
    metadata: JSON.stringify(run.metadata),
    created_at: run.createdAt,
    started_at: run.startedAt,
    completed_at: run.completedAt,
    updated_at: run.updatedAt,
    api_key_id: run.apiKeyId,
    parent_run_id: run.parentRunId,
    parent_span_id: run.parentSpanId,
    workflow_id: run.workflowId,
    workflow_version: run.workflowVersion,
  };
}

export class KyselyAgentRepo implements AgentRepo {
  constructor(private readonly db: Kysely<Database>) {}

  private scoped(scope: Scope) {
    return this.db
      .selectFrom('agents')
      .selectAll()
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .where('deleted_at', 'is', null);
  }

  async create(agent: Agent) {
    await this.db
      .insertInto('agents')
      .values({
        id: agent.id, workspace_id: agent.scope.workspaceId, livemode: mode(agent.scope.livemode), name: agent.name, status: agent.status,
        version: agent.version, config: JSON.stringify(agent.config), metadata: JSON.stringify(agent.metadata),
        created_at: agent.createdAt, updated_at: agent.updatedAt, deleted_at: null,
      })
      .execute();
    await this.db.insertInto('agent_versions').values({ agent_id: agent.id, version: agent.version, config: JSON.stringify(agent.config), created_at: agent.createdAt }).execute();
    return agent;
  }

  async get(scope: Scope, id: string) {
    const row = await this.scoped(scope).where('id', '=', id).executeTakeFirst();
    return row && toAgent(row);
  }

  async list(scope: Scope, page: PageRequest, filter: { status?: AgentStatus } = {}): Promise<Page<Agent>> {
    let query = this.scoped(scope);
    if (filter.status) query = query.where('status', '=', filter.status);
    const result = await paginate(query, page);
    return { data: result.data.map(toAgent), hasMore: result.hasMore };
  }

  async update(agent: Agent, newVersion: boolean) {
    await this.db
      .updateTable('agents')
      .set({ name: agent.name, status: agent.status, version: agent.version, config: JSON.stringify(agent.config), metadata: JSON.stringify(agent.metadata), updated_at: agent.updatedAt })
      .where('id', '=', agent.id)
      .execute();
    if (newVersion) {
      await this.db.insertInto('agent_versions').values({ agent_id: agent.id, version: agent.version, config: JSON.stringify(agent.config), created_at: agent.updatedAt }).execute();
    }
    return agent;
  }

  async delete(scope: Scope, id: string, at: number) {
    const result = await this.db
      .updateTable('agents')
      .set({ deleted_at: at, status: 'archived' })
      .where('id', '=', id)
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async versions(agentId: string, page: PageRequest): Promise<Page<AgentVersion>> {
    const result = await paginateVersions(this.db.selectFrom('agent_versions').selectAll().where('agent_id', '=', agentId), page);
    return {
      data: result.data.map((r) => ({ agentId: r.agent_id, version: Number(r.version), config: json<Record<string, unknown>>(r.config), createdAt: Number(r.created_at) })),
      hasMore: result.hasMore,
    };
  }

  async getVersion(agentId: string, version: number) {
    const row = await this.db.selectFrom('agent_versions').selectAll().where('agent_id', '=', agentId).where('version', '=', version).executeTakeFirst();
    return row && { agentId: row.agent_id, version: Number(row.version), config: json<Record<string, unknown>>(row.config), createdAt: Number(row.created_at) };
  }
}

export class KyselyRunRepo implements RunRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(run: Run) {
    await this.db.insertInto('runs').values(runRow(run)).execute();
    return run;
  }

  async get(scope: Scope, id: string) {
    const row = await this.db
      .selectFrom('runs')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .executeTakeFirst();
    return row && toRun(row);
  }

  async getById(id: string) {
    const row = await this.db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRun(row);
  }

  async createMany(runs: Run[]) {
    for (let i = 0; i < runs.length; i += INSERT_BATCH) await this.db.insertInto('runs').values(runs.slice(i, i + INSERT_BATCH).map(runRow)).execute();
  }

  async list(scope: Scope, filter: RunFilter, page: PageRequest) {
    let query = this.db
      .selectFrom('runs')
      .selectAll()
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode));
    if (filter.agentId !== undefined) query = query.where('agent_id', '=', filter.agentId);
    if (filter.workflowId !== undefined) query = query.where('workflow_id', '=', filter.workflowId);
    if (filter.apiKeyId !== undefined) query = query.where('api_key_id', '=', filter.apiKeyId);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.model !== undefined) query = query.where('model', '=', filter.model);
    if (filter.minCostUsd !== undefined) query = query.where('cost_usd', '>=', filter.minCostUsd);
    if (filter.minLatencyMs !== undefined) query = query.where('completed_at', 'is not', null).where(sql<number>`completed_at - created_at`, '>=', filter.minLatencyMs);
    query = withinCreated(query, 'run', filter);
    const result = await paginate(query, page);
    return { data: result.data.map(toRun), hasMore: result.hasMore };
  }

  async children(parentRunId: string) {
    const rows = await this.db.selectFrom('runs').selectAll().where('parent_run_id', '=', parentRunId).orderBy('id').execute();
    return rows.map(toRun);
  }

  async save(run: Run, expectStatus?: RunStatus[]) {
    const { id, workspace_id, livemode, created_at, cancel_requested, ...changes } = runRow(run);
    let update = this.db.updateTable('runs').set(changes).where('id', '=', id);
    if (expectStatus) update = update.where('status', 'in', expectStatus);
    const result = await update.executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async requestCancel(id: string, at: number) {
    await this.db.updateTable('runs').set({ cancel_requested: 1, updated_at: at }).where('id', '=', id).execute();
  }

  async touch(id: string, at: number) {
    await this.db.updateTable('runs').set({ updated_at: at }).where('id', '=', id).execute();
  }

  async listAbandoned(before: number, limit: number) {
    const rows = await this.db
      .selectFrom('runs')
      .selectAll()
      .where('status', 'in', ['queued', 'running'])
      .where('mode', '!=', 'background')
      .where('updated_at', '<', before)
      .limit(limit)
      .execute();
    return rows.map(toRun);
  }

}

const spanRow = (span: Span): Database['spans'] => ({
  id: span.id, run_id: span.runId, parent_id: span.parentId, kind: span.kind, name: span.name, status: span.status,
  attributes: JSON.stringify(span.attributes), started_at: span.startedAt, ended_at: span.endedAt,
});

/** The span table's columns, in the order spanRow lists them. */
export const SPAN_COLUMNS = ['id', 'run_id', 'parent_id', 'kind', 'name', 'status', 'attributes', 'started_at', 'ended_at'] as const satisfies ReadonlyArray<keyof Database['spans']>;

/** Inserts spans, or replaces a span saved before (a running span saved again when it ends). */
export function spanUpsert(): BulkInsert<'spans'> {
  return new BulkInsert('spans', SPAN_COLUMNS, (insert) =>
    insert.onConflict((oc) => oc.column('id').doUpdateSet((eb) => Object.fromEntries(
      SPAN_COLUMNS.filter((c) => c !== 'id' && c !== 'run_id').map((c) => [c, eb.ref(`excluded.${c}`)]),
    ) as any)));
}

export class KyselySpanRepo implements SpanRepo {
  constructor(private readonly db: Kysely<Database>, private readonly upsert: BulkInsert<'spans'>, private readonly insert: BulkInsert<'spans'>) {}

  async save(span: Span) {
    await this.upsert.run(this.db, [spanRow(span)]);
  }

  async saveMany(spans: Span[]) {
    await this.insert.run(this.db, spans.map(spanRow));
  }

  async forRun(runId: string) {
    const rows = await this.db.selectFrom('spans').selectAll().where('run_id', '=', runId).orderBy('started_at').orderBy('id').execute();
    return rows.map((r) => ({
      id: r.id, runId: r.run_id, parentId: r.parent_id, kind: r.kind as Span['kind'], name: r.name, status: r.status as Span['status'],
      attributes: json<Record<string, unknown>>(r.attributes), startedAt: Number(r.started_at), endedAt: num(r.ended_at),
    }));
  }

  async purge(before: number, limit: number) {
    // Span ids sort by creation time: the primary key finds the old ones.
    const old = this.db.selectFrom('spans').select('id').where('id', '<', idAtTime('span', before)).orderBy('id').limit(limit);
    const result = await this.db.deleteFrom('spans').where('id', 'in', old).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

export class KyselyThreadRepo implements ThreadRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(thread: { id: string; scope: Scope; createdAt: number }) {
    await this.db
      .insertInto('threads')
      .values({ id: thread.id, workspace_id: thread.scope.workspaceId, livemode: mode(thread.scope.livemode), created_at: thread.createdAt, updated_at: thread.createdAt })
      .execute();
  }

  async exists(scope: Scope, id: string) {
    const row = await this.db
      .selectFrom('threads')
      .select('id')
      .where('id', '=', id)
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .executeTakeFirst();
    return row !== undefined;
  }

  async addMessages(messages: ThreadMessage[]) {
    if (messages.length === 0) return;
    await this.db
      .insertInto('thread_messages')
      .values(messages.map((m) => ({ id: m.id, thread_id: m.threadId, run_id: m.runId, role: m.role, content: JSON.stringify(m.content), created_at: m.createdAt })))
      .execute();
  }

  async messages(threadId: string, page: PageRequest) {
    const result = await paginate(this.db.selectFrom('thread_messages').selectAll().where('thread_id', '=', threadId), page);
    return { data: result.data.map(toMessage), hasMore: result.hasMore };
  }

  async history(threadId: string) {
    const rows = await this.db.selectFrom('thread_messages').selectAll().where('thread_id', '=', threadId).orderBy('id').execute();
    return rows.map(toMessage);
  }
}

function toMessage(row: Database['thread_messages']): ThreadMessage {
  return { id: row.id, threadId: row.thread_id, runId: row.run_id, role: row.role as ThreadMessage['role'], content: json(row.content), createdAt: Number(row.created_at) };
}
