import { compactedUntil } from '../analytics/compaction.js';
import { coveringGrouping } from '../analytics/groupings.js';
import { segments } from '../analytics/queries.js';
import { DAY_MS } from '../analytics/rollup-writer.js';
import type { Budget, BudgetPeriod, Repos, RollupDims } from '../store/port.js';

/** What a budget's runs used in its current period. */
export interface PeriodUsage {
  costUsd: number;
  totalTokens: number;
  periodStart: number;
  periodEnd: number;
}

/** The UTC calendar day or month that holds `now`. */
export function periodAt(period: BudgetPeriod, now: number): { start: number; end: number } {
  const date = new Date(now);
  if (period === 'day') {
    const start = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
    return { start, end: start + DAY_MS };
  }
  return { start: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1), end: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) };
}

/** The rollup dimension a budget's runs are filtered on. */
function filtersOf(budget: Budget): Partial<RollupDims> {
  if (budget.subject.type === 'api_key') return { apiKeyId: budget.subject.id };
  if (budget.subject.type === 'agent') return { agentId: budget.subject.id };
  return {};
}

/**
 * The cost and tokens of the agent runs (and completions without an agent) a budget counts that
 * finished in its current period, from
 * the rollups analytics keeps: day and hour rows where they are derived, minute rows after (a
 * run's minute row is written in its final transaction, so `repos` as a transaction sees it).
 */
export async function readUsage(repos: Pick<Repos, 'meta' | 'rollups'>, budget: Budget, now: number): Promise<PeriodUsage> {
  const { start, end } = periodAt(budget.period, now);
  const filters = filtersOf(budget);
  const grouping = coveringGrouping(Object.keys(filters) as Array<keyof RollupDims>);
  const usage: PeriodUsage = { costUsd: 0, totalTokens: 0, periodStart: start, periodEnd: end };
  for (const segment of segments(start, end, DAY_MS, await compactedUntil(repos, now))) {
    const rows = await repos.rollups.sums({
      scope: budget.scope, subjects: ['agent_run', 'completion'], width: segment.width, grouping: segment.width === 'minute' ? '*' : grouping,
      from: segment.from, to: segment.to, filters,
    }, []);
    for (const { sums } of rows) {
      usage.costUsd += sums.costUsd;
      usage.totalTokens += sums.inputTokens + sums.outputTokens;
    }
  }
  return usage;
}
