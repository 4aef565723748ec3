import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type {
  Page, PageRequest, Scope, Workflow, WorkflowRepo, WorkflowRun, WorkflowRunFilter, WorkflowRunRepo, WorkflowRunStatus, WorkflowStepState,
  WorkflowVersion,
} from '../port.js';
import { ACTIVE_WORKFLOW_RUN_STATUSES } from '../port.js';
import { mode, num } from './column-values.js';
import { withinCreated } from './created-range.js';
import { paginate, paginateVersions } from './pagination.js';
import { pick, preparedQuery, preparedVariants } from './prepared-query.js';
import {
  runChanges, STEP_CHANGE_COLUMNS, STEP_COLUMNS, stepRow, toStep, toWorkflow, toWorkflowRun, toWorkflowVersion, WORKFLOW_RUN_CHANGE_COLUMNS,
  WORKFLOW_RUN_COLUMNS, workflowRunRow,
} from './workflow-rows.js';

type ScopedId = { workspaceId: string; livemode: number; id: string };
type Lease = { id: string; owner: string; until: number };

/** The statements every workflow run makes, compiled once. */
const statements = {
  workflow: preparedQuery((db, p: ScopedId) =>
    db.selectFrom('workflows').selectAll().where('workspace_id', '=', p.workspaceId).where('livemode', '=', p.livemode).where('deleted_at', 'is', null).where('id', '=', p.id)),
  workflowById: preparedQuery((db, p: { id: string }) => db.selectFrom('workflows').selectAll().where('id', '=', p.id).where('deleted_at', 'is', null)),
  version: preparedQuery((db, p: { workflowId: string; version: number }) =>
    db.selectFrom('workflow_versions').selectAll().where('workflow_id', '=', p.workflowId).where('version', '=', p.version)),
  insertRun: preparedQuery((db, row: Database['workflow_runs']) => db.insertInto('workflow_runs').values(pick(row, WORKFLOW_RUN_COLUMNS))),
  run: preparedQuery((db, p: ScopedId) =>
    db.selectFrom('workflow_runs').selectAll().where('id', '=', p.id).where('workspace_id', '=', p.workspaceId).where('livemode', '=', p.livemode)),
  runById: preparedQuery((db, p: { id: string }) => db.selectFrom('workflow_runs').selectAll().where('id', '=', p.id)),
  /** A run's save, from any status ('*') or only from the listed ones (comma-separated). */
  saveRun: preparedVariants((expected: string) =>
    preparedQuery((db, row: Pick<Database['workflow_runs'], 'id' | (typeof WORKFLOW_RUN_CHANGE_COLUMNS)[number]>) => {
      const update = db.updateTable('workflow_runs').set(pick(row, WORKFLOW_RUN_CHANGE_COLUMNS)).where('id', '=', row.id);
      return expected === '*' ? update : update.where('status', 'in', expected.split(','));
    })),
  claim: preparedQuery((db, p: Lease & { now: number }) =>
    db
      .updateTable('workflow_runs')
      .set({ lease_owner: p.owner, lease_until: p.until })
      .where('id', '=', p.id)
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_until', '<', p.now), eb('lease_owner', '=', p.owner)]))),
  renew: preparedQuery((db, p: Lease) =>
    db.updateTable('workflow_runs').set({ lease_until: p.until }).where('id', '=', p.id).where('lease_owner', '=', p.owner).returning('cancel_requested')),
  release: preparedQuery((db, p: { id: string; owner: string }) =>
    db.updateTable('workflow_runs').set({ lease_owner: null, lease_until: null }).where('id', '=', p.id).where('lease_owner', '=', p.owner)),
  steps: preparedQuery((db, p: { runId: string }) => db.selectFrom('workflow_steps').selectAll().where('run_id', '=', p.runId).orderBy('position').orderBy('key')),
  saveStep: preparedQuery((db, row: Database['workflow_steps']) =>
    db
      .insertInto('workflow_steps')
      .values(pick(row, STEP_COLUMNS))
      .onConflict((oc) => oc.columns(['run_id', 'key']).doUpdateSet(pick(row, STEP_CHANGE_COLUMNS)))),
};

const scopedId = (scope: Scope, id: string): ScopedId => ({ workspaceId: scope.workspaceId, livemode: mode(scope.livemode), id });

export class KyselyWorkflowRepo implements WorkflowRepo {
  constructor(private readonly db: Kysely<Database>) {}

  private scoped(scope: Scope) {
    return this.db
      .selectFrom('workflows')
      .selectAll()
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .where('deleted_at', 'is', null);
  }

  async create(workflow: Workflow) {
    await this.db
      .insertInto('workflows')
      .values({
        id: workflow.id, workspace_id: workflow.scope.workspaceId, livemode: mode(workflow.scope.livemode), name: workflow.name,
        version: workflow.version, definition: JSON.stringify(workflow.definition), metadata: JSON.stringify(workflow.metadata),
        next_fire_at: workflow.nextFireAt, created_at: workflow.createdAt, updated_at: workflow.updatedAt, deleted_at: null,
      })
      .execute();
    await this.insertVersion(workflow);
    return workflow;
  }

  private async insertVersion(workflow: Workflow) {
    await this.db
      .insertInto('workflow_versions')
      .values({ workflow_id: workflow.id, version: workflow.version, definition: JSON.stringify(workflow.definition), created_at: workflow.updatedAt })
      .execute();
  }

  async get(scope: Scope, id: string) {
    const row = await statements.workflow.first(this.db, scopedId(scope, id));
    return row && toWorkflow(row);
  }

  async getById(id: string) {
    const row = await statements.workflowById.first(this.db, { id });
    return row && toWorkflow(row);
  }

  async list(scope: Scope, page: PageRequest) {
    const result = await paginate(this.scoped(scope), page);
    return { data: result.data.map(toWorkflow), hasMore: result.hasMore };
  }

  async replace(workflow: Workflow) {
    await this.db
      .updateTable('workflows')
      .set({
        name: workflow.name, version: workflow.version, definition: JSON.stringify(workflow.definition), metadata: JSON.stringify(workflow.metadata),
        next_fire_at: workflow.nextFireAt, updated_at: workflow.updatedAt,
      })
      .where('id', '=', workflow.id)
      .execute();
    await this.insertVersion(workflow);
  }

  async delete(scope: Scope, id: string, at: number) {
    const result = await this.db
      .updateTable('workflows')
      .set({ deleted_at: at, updated_at: at, next_fire_at: null })
      .where('id', '=', id)
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async versions(workflowId: string, page: PageRequest): Promise<Page<WorkflowVersion>> {
    const result = await paginateVersions(this.db.selectFrom('workflow_versions').selectAll().where('workflow_id', '=', workflowId), page);
    return { data: result.data.map(toWorkflowVersion), hasMore: result.hasMore };
  }

  async getVersion(workflowId: string, version: number) {
    const row = await statements.version.first(this.db, { workflowId, version });
    return row && toWorkflowVersion(row);
  }

  async dueSchedules(now: number, limit: number) {
    const rows = await this.db
      .selectFrom('workflows')
      .selectAll()
      .where('next_fire_at', 'is not', null)
      .where('next_fire_at', '<=', now)
      .where('deleted_at', 'is', null)
      .orderBy('next_fire_at')
      .limit(limit)
      .execute();
    return rows.map(toWorkflow);
  }

  async advanceSchedule(id: string, expected: number, next: number | null) {
    const result = await this.db.updateTable('workflows').set({ next_fire_at: next }).where('id', '=', id).where('next_fire_at', '=', expected).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}

export class KyselyWorkflowRunRepo implements WorkflowRunRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(run: WorkflowRun) {
    await statements.insertRun.execute(this.db, workflowRunRow(run));
    return run;
  }

  async get(scope: Scope, id: string) {
    const row = await statements.run.first(this.db, scopedId(scope, id));
    return row && toWorkflowRun(row);
  }

  async getById(id: string) {
    const row = await statements.runById.first(this.db, { id });
    return row && toWorkflowRun(row);
  }

  async list(scope: Scope, filter: WorkflowRunFilter, page: PageRequest) {
    let query = this.db
      .selectFrom('workflow_runs')
      .selectAll()
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode));
    if (filter.workflowId !== undefined) query = query.where('workflow_id', '=', filter.workflowId);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.trigger !== undefined) query = query.where('trigger', '=', filter.trigger);
    if (filter.apiKeyId !== undefined) query = query.where('api_key_id', '=', filter.apiKeyId);
    if (filter.minCostUsd !== undefined) query = query.where('cost_usd', '>=', filter.minCostUsd);
    if (filter.minLatencyMs !== undefined) query = query.where('completed_at', 'is not', null).where(sql<number>`completed_at - created_at`, '>=', filter.minLatencyMs);
    query = withinCreated(query, 'wfrun', filter);
    const result = await paginate(query, page);
    return { data: result.data.map(toWorkflowRun), hasMore: result.hasMore };
  }

  async children(parentRunId: string) {
    const rows = await this.db.selectFrom('workflow_runs').selectAll().where('parent_run_id', '=', parentRunId).orderBy('id').execute();
    return rows.map(toWorkflowRun);
  }

  async save(run: WorkflowRun, expectStatus?: WorkflowRunStatus[]) {
    // No status to expect matches nothing (and `in ()` is a syntax error on PostgreSQL).
    if (expectStatus && expectStatus.length === 0) return false;
    const statement = statements.saveRun(expectStatus ? expectStatus.join(',') : '*');
    return (await statement.affectedRows(this.db, { id: run.id, ...runChanges(run) })) === 1;
  }

  async requestCancel(id: string, at: number) {
    await this.db.updateTable('workflow_runs').set({ cancel_requested: 1, updated_at: at }).where('id', '=', id).execute();
  }

  async countActive(workflowId: string) {
    const row = await this.db
      .selectFrom('workflow_runs')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('workflow_id', '=', workflowId)
      .where('status', 'in', ACTIVE_WORKFLOW_RUN_STATUSES)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async claim(id: string, owner: string, until: number, now: number) {
    return (await statements.claim.affectedRows(this.db, { id, owner, until, now })) === 1;
  }

  async renew(id: string, owner: string, until: number) {
    const row = await statements.renew.first(this.db, { id, owner, until });
    return row && { cancelRequested: Number(row.cancel_requested) === 1 };
  }

  async release(id: string, owner: string) {
    await statements.release.execute(this.db, { id, owner });
  }

  async leaseUntil(id: string) {
    const row = await this.db.selectFrom('workflow_runs').select('lease_until').where('id', '=', id).executeTakeFirst();
    return row ? num(row.lease_until) : null;
  }

  async steps(runId: string) {
    const rows = await statements.steps.rows(this.db, { runId });
    return rows.map(toStep);
  }

  async saveStep(step: WorkflowStepState) {
    await statements.saveStep.execute(this.db, stepRow(step));
  }

  async recordFire(workflowId: string, dueAt: number, runId: string, at: number) {
    const result = await this.db
      .insertInto('workflow_schedule_fires')
      .values({ workflow_id: workflowId, due_at: dueAt, run_id: runId, created_at: at })
      .onConflict((oc) => oc.columns(['workflow_id', 'due_at']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }
}
