import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { Budget, BudgetChanges, BudgetPeriod, BudgetRepo, BudgetSubject, Page, PageRequest, Scope } from '../port.js';
import { mode, num, scopeOf } from './column-values.js';
import { paginate } from './pagination.js';

type BudgetRow = Database['budgets'];

const subjectOf = (row: BudgetRow): BudgetSubject =>
  row.scope_type === 'workspace' ? { type: 'workspace' } : { type: row.scope_type as 'api_key' | 'agent', id: row.scope_id! };

const toBudget = (row: BudgetRow): Budget => ({
  id: row.id,
  scope: scopeOf(row),
  subject: subjectOf(row),
  period: row.period as BudgetPeriod,
  limitUsd: num(row.limit_usd),
  limitTokens: num(row.limit_tokens),
  thresholds: JSON.parse(row.thresholds) as number[],
  hard: Number(row.hard) === 1,
  reportedPeriodStart: num(row.reported_period_start),
  reportedPercent: Number(row.reported_percent),
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

export class KyselyBudgetRepo implements BudgetRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(b: Budget) {
    await this.db.insertInto('budgets').values({
      id: b.id, workspace_id: b.scope.workspaceId, livemode: mode(b.scope.livemode), scope_type: b.subject.type,
      scope_id: b.subject.type === 'workspace' ? null : b.subject.id, period: b.period, limit_usd: b.limitUsd, limit_tokens: b.limitTokens,
      thresholds: JSON.stringify(b.thresholds), hard: b.hard ? 1 : 0, reported_period_start: b.reportedPeriodStart, reported_percent: b.reportedPercent,
      created_at: b.createdAt, updated_at: b.updatedAt,
    }).execute();
  }

  async get(scope: Scope, id: string) {
    const row = await this.scoped(scope).where('id', '=', id).executeTakeFirst();
    return row ? toBudget(row) : undefined;
  }

  async list(scope: Scope, page: PageRequest): Promise<Page<Budget>> {
    const result = await paginate(this.scoped(scope), page);
    return { data: result.data.map(toBudget), hasMore: result.hasMore };
  }

  async listAll(scope: Scope) {
    const rows = await this.scoped(scope).orderBy('id').execute();
    return rows.map(toBudget);
  }

  async update(scope: Scope, id: string, changes: BudgetChanges) {
    const values: Partial<BudgetRow> = { updated_at: changes.updatedAt };
    if (changes.period !== undefined) values.period = changes.period;
    if (changes.limitUsd !== undefined) values.limit_usd = changes.limitUsd;
    if (changes.limitTokens !== undefined) values.limit_tokens = changes.limitTokens;
    if (changes.thresholds !== undefined) values.thresholds = JSON.stringify(changes.thresholds);
    if (changes.hard !== undefined) values.hard = changes.hard ? 1 : 0;
    if (changes.reportedPeriodStart !== undefined) values.reported_period_start = changes.reportedPeriodStart;
    if (changes.reportedPercent !== undefined) values.reported_percent = changes.reportedPercent;
    const result = await this.db.updateTable('budgets').set(values)
      .where('id', '=', id).where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 0 ? undefined : this.get(scope, id);
  }

  async delete(scope: Scope, id: string) {
    const result = await this.db.deleteFrom('budgets')
      .where('id', '=', id).where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode))
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async markReported(id: string, periodStart: number, percent: number) {
    // One statement: on PostgreSQL a concurrent run's update waits for this one and then finds
    // the condition false, so a threshold is never reported twice.
    const result = await this.db.updateTable('budgets').set({ reported_period_start: periodStart, reported_percent: percent })
      .where('id', '=', id)
      .where((eb) => eb.or([
        eb('reported_period_start', 'is', null),
        eb('reported_period_start', '<>', periodStart),
        eb('reported_percent', '<', percent),
      ]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  private scoped(scope: Scope) {
    return this.db.selectFrom('budgets').selectAll().where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode));
  }
}
