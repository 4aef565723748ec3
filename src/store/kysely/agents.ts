import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type {
  Agent, AgentRepo, AgentStatus, AgentVersion, Page, PageRequest, Run, RunFilter, RunRepo, RunStatus, Scope, Span, SpanRepo, ThreadMessage,
  ThreadRepo,
} from '../port.js';
import { idAtTime } from '../../ids.js';
import { BulkInsert } from './bulk-insert.js';
import { mode } from './column-values.js';
import { withinCreated } from './created-range.js';
import { paginate, paginateVersions } from './pagination.js';
import { pick, preparedQuery, preparedVariants } from './prepared-query.js';
import { MESSAGE_COLUMNS, messageRow, toAgent, toAgentVersion, toMessage } from './agent-rows.js';
import { RUN_CHANGE_COLUMNS, RUN_COLUMNS, runRow, SPAN_COLUMNS, spanRow, toRun, toSpan } from './run-rows.js';

/** Rows per insert statement of the bulk paths. */
const INSERT_BATCH = 200;

type ScopedId = { workspaceId: string; livemode: number; id: string };

/** The statements every agent run makes, compiled once. */
const statements = {
  agent: preparedQuery((db, p: ScopedId) =>
    db.selectFrom('agents').selectAll().where('workspace_id', '=', p.workspaceId).where('livemode', '=', p.livemode).where('deleted_at', 'is', null).where('id', '=', p.id)),
  insertRun: preparedQuery((db, row: Database['runs']) => db.insertInto('runs').values(pick(row, RUN_COLUMNS))),
  run: preparedQuery((db, p: ScopedId) =>
    db.selectFrom('runs').selectAll().where('id', '=', p.id).where('workspace_id', '=', p.workspaceId).where('livemode', '=', p.livemode)),
  runById: preparedQuery((db, p: { id: string }) => db.selectFrom('runs').selectAll().where('id', '=', p.id)),
  /** A run's save, from any status ('*') or only from the listed ones (comma-separated). */
  saveRun: preparedVariants((expected: string) =>
    preparedQuery((db, row: Database['runs']) => {
      const update = db.updateTable('runs').set(pick(row, RUN_CHANGE_COLUMNS)).where('id', '=', row.id);
      return expected === '*' ? update : update.where('status', 'in', expected.split(','));
    })),
  touchRun: preparedQuery((db, p: { id: string; at: number }) => db.updateTable('runs').set({ updated_at: p.at }).where('id', '=', p.id)),
  insertThread: preparedQuery((db, row: Database['threads']) =>
    db.insertInto('threads').values(pick(row, ['id', 'workspace_id', 'livemode', 'created_at', 'updated_at']))),
  threadExists: preparedQuery((db, p: ScopedId) =>
    db.selectFrom('threads').select('id').where('id', '=', p.id).where('workspace_id', '=', p.workspaceId).where('livemode', '=', p.livemode)),
};

const messageInsert = new BulkInsert('thread_messages', MESSAGE_COLUMNS);

const scopedId = (scope: Scope, id: string): ScopedId => ({ workspaceId: scope.workspaceId, livemode: mode(scope.livemode), id });

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
    const row = await statements.agent.first(this.db, scopedId(scope, id));
    return row && toAgent(row);
  }

  async named(scope: Scope, name: string, limit: number) {
    const rows = await this.scoped(scope).where('name', '=', name).orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toAgent);
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
    return { data: result.data.map(toAgentVersion), hasMore: result.hasMore };
  }

  async getVersion(agentId: string, version: number) {
    const row = await this.db.selectFrom('agent_versions').selectAll().where('agent_id', '=', agentId).where('version', '=', version).executeTakeFirst();
    return row && toAgentVersion(row);
  }
}

export class KyselyRunRepo implements RunRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(run: Run) {
    await statements.insertRun.execute(this.db, runRow(run));
    return run;
  }

  async get(scope: Scope, id: string) {
    const row = await statements.run.first(this.db, scopedId(scope, id));
    return row && toRun(row);
  }

  async getById(id: string) {
    const row = await statements.runById.first(this.db, { id });
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
    // No status to expect matches nothing (and `in ()` is a syntax error on PostgreSQL).
    if (expectStatus && expectStatus.length === 0) return false;
    return (await statements.saveRun(expectStatus ? expectStatus.join(',') : '*').affectedRows(this.db, runRow(run))) === 1;
  }

  async requestCancel(id: string, at: number) {
    await this.db.updateTable('runs').set({ cancel_requested: 1, updated_at: at }).where('id', '=', id).execute();
  }

  async touch(id: string, at: number) {
    await statements.touchRun.execute(this.db, { id, at });
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

export class KyselyThreadRepo implements ThreadRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(thread: { id: string; scope: Scope; createdAt: number }) {
    await statements.insertThread.execute(this.db, {
      id: thread.id, workspace_id: thread.scope.workspaceId, livemode: mode(thread.scope.livemode), created_at: thread.createdAt, updated_at: thread.createdAt,
    });
  }

  async exists(scope: Scope, id: string) {
    return (await statements.threadExists.first(this.db, scopedId(scope, id))) !== undefined;
  }

  async addMessages(messages: ThreadMessage[]) {
    await messageInsert.run(this.db, messages.map(messageRow));
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
    return rows.map(toSpan);
  }

  async purge(before: number, limit: number) {
    // Span ids sort by creation time: the primary key finds the old ones.
    const old = this.db.selectFrom('spans').select('id').where('id', '<', idAtTime('span', before)).orderBy('id').limit(limit);
    const result = await this.db.deleteFrom('spans').where('id', 'in', old).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
