import { KairoError } from '../errors.js';
import { isId, newId } from '../ids.js';
import type { Budget, BudgetChanges, BudgetPeriod, BudgetSubject, Page, PageRequest, Scope, Store } from '../store/port.js';
import type { BudgetCache } from './budget-cache.js';
import { readUsage, type PeriodUsage } from './usage.js';

export const DEFAULT_THRESHOLDS = [50, 80, 100];

/** Fields a client sets on create (API names, already checked for type and range). */
export interface BudgetInput {
  scope: BudgetSubject;
  period: BudgetPeriod;
  limit_usd?: number | null;
  limit_tokens?: number | null;
  thresholds?: number[];
  hard?: boolean;
}

export type BudgetUpdate = Partial<Omit<BudgetInput, 'scope'>>;

/** A budget with what its runs used in the current period. */
export interface BudgetWithUsage {
  budget: Budget;
  usage: PeriodUsage;
}

const ascending = (thresholds: number[]): number[] => [...new Set(thresholds)].sort((a, b) => a - b);

function requireALimit(limitUsd: number | null, limitTokens: number | null): void {
  if (limitUsd === null && limitTokens === null) {
    throw new KairoError('parameter_missing', { param: 'limit_usd', message: 'A budget needs limit_usd, limit_tokens or both.' });
  }
}

/** Budgets: create, read, change and delete; every change is seen at once by this process's runs. */
export class BudgetService {
  constructor(private readonly store: Store, private readonly cache: BudgetCache, private readonly now: () => number = Date.now) {}

  async create(scope: Scope, input: BudgetInput): Promise<BudgetWithUsage> {
    await this.checkSubject(scope, input.scope);
    const limitUsd = input.limit_usd ?? null;
    const limitTokens = input.limit_tokens ?? null;
    requireALimit(limitUsd, limitTokens);
    const now = this.now();
    const budget: Budget = {
      id: newId('budget'), scope, subject: input.scope, period: input.period, limitUsd, limitTokens,
      thresholds: ascending(input.thresholds ?? DEFAULT_THRESHOLDS), hard: input.hard ?? false, reportedPeriodStart: null, reportedPercent: 0,
      createdAt: now, updatedAt: now,
    };
    await this.store.budgets.insert(budget);
    this.cache.invalidate(scope);
    return this.withUsage(budget);
  }

  async get(scope: Scope, id: string): Promise<BudgetWithUsage> {
    return this.withUsage(await this.find(scope, id));
  }

  async list(scope: Scope, page: PageRequest): Promise<Page<BudgetWithUsage>> {
    const found = await this.store.budgets.list(scope, page);
    const data: BudgetWithUsage[] = [];
    for (const budget of found.data) data.push(await this.withUsage(budget));
    return { data, hasMore: found.hasMore };
  }

  /** Applies a change. A new period, limit or thresholds starts reporting thresholds afresh. */
  async update(scope: Scope, id: string, input: BudgetUpdate): Promise<BudgetWithUsage> {
    const budget = await this.find(scope, id);
    const limitUsd = input.limit_usd === undefined ? budget.limitUsd : input.limit_usd;
    const limitTokens = input.limit_tokens === undefined ? budget.limitTokens : input.limit_tokens;
    requireALimit(limitUsd, limitTokens);
    const changes: BudgetChanges = { updatedAt: this.now() };
    if (input.period !== undefined) changes.period = input.period;
    if (input.limit_usd !== undefined) changes.limitUsd = input.limit_usd;
    if (input.limit_tokens !== undefined) changes.limitTokens = input.limit_tokens;
    if (input.thresholds !== undefined) changes.thresholds = ascending(input.thresholds);
    if (input.hard !== undefined) changes.hard = input.hard;
    const measured = input.period !== undefined || input.limit_usd !== undefined || input.limit_tokens !== undefined || input.thresholds !== undefined;
    if (measured) Object.assign(changes, { reportedPeriodStart: null, reportedPercent: 0 });
    const updated = await this.store.budgets.update(scope, id, changes);
    if (!updated) throw missing(id);
    this.cache.invalidate(scope);
    return this.withUsage(updated);
  }

  async delete(scope: Scope, id: string): Promise<Budget> {
    const budget = await this.find(scope, id);
    if (!(await this.store.budgets.delete(scope, id))) throw missing(id);
    this.cache.invalidate(scope);
    return budget;
  }

  private async withUsage(budget: Budget): Promise<BudgetWithUsage> {
    return { budget, usage: await readUsage(this.store, budget, this.now()) };
  }

  private async find(scope: Scope, id: string): Promise<Budget> {
    const budget = isId('budget', id) ? await this.store.budgets.get(scope, id) : undefined;
    if (!budget) throw missing(id);
    return budget;
  }

  /** The key or agent a budget counts must exist in the workspace and mode. */
  private async checkSubject(scope: Scope, subject: BudgetSubject): Promise<void> {
    if (subject.type === 'workspace') return;
    const found = subject.type === 'api_key'
      ? isId('key', subject.id) && (await this.store.apiKeys.get(scope, subject.id)) !== undefined
      : isId('agent', subject.id) && (await this.store.agents.get(scope, subject.id)) !== undefined;
    if (!found) {
      const what = subject.type === 'api_key' ? 'API key' : 'agent';
      throw new KairoError('resource_missing', { param: 'scope.id', message: `No such ${what}: '${subject.id}'.` });
    }
  }
}

const missing = (id: string) => new KairoError('resource_missing', { param: 'id', message: `No such budget: '${id}'.` });
