/** The storage port of budgets: limits on what runs may spend or use in a calendar period. */
import type { Page, PageRequest, Scope } from './platform-port.js';

/** What a budget counts: the whole workspace, one API key's runs or one agent's runs. */
export type BudgetSubject = { type: 'workspace' } | { type: 'api_key'; id: string } | { type: 'agent'; id: string };

export type BudgetPeriod = 'day' | 'month';

export interface Budget {
  id: string;
  scope: Scope;
  subject: BudgetSubject;
  period: BudgetPeriod;
  limitUsd: number | null;
  limitTokens: number | null;
  /** Percentages of the limit, ascending. */
  thresholds: number[];
  /** Refuses runs once used up (else only reports). */
  hard: boolean;
  /** The start of the period `reportedPercent` belongs to; null before anything was reported. */
  reportedPeriodStart: number | null;
  /** The highest threshold reported in that period; 100 once `budget.exceeded` was. */
  reportedPercent: number;
  createdAt: number;
  updatedAt: number;
}

/** The fields a change may set (absent: unchanged). */
export type BudgetChanges = Partial<Pick<Budget, 'period' | 'limitUsd' | 'limitTokens' | 'thresholds' | 'hard' | 'reportedPeriodStart' | 'reportedPercent'>> & { updatedAt: number };

export interface BudgetRepo {
  insert(budget: Budget): Promise<void>;
  get(scope: Scope, id: string): Promise<Budget | undefined>;
  /** Newest first. */
  list(scope: Scope, page: PageRequest): Promise<Page<Budget>>;
  /** Every budget of a workspace and mode (read, cached, by each run). */
  listAll(scope: Scope): Promise<Budget[]>;
  /** Returns the budget after the change; undefined when there is none in the scope. */
  update(scope: Scope, id: string, changes: BudgetChanges): Promise<Budget | undefined>;
  delete(scope: Scope, id: string): Promise<boolean>;
  /**
   * Records that thresholds up to `percent` were reported for the period starting at
   * `periodStart`, only if less was recorded for it: false when as much was already (by another
   * run), so that each threshold is reported once.
   */
  markReported(id: string, periodStart: number, percent: number): Promise<boolean>;
}
