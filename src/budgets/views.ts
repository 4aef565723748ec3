import type { Budget } from '../store/port.js';
import { toTimestamp } from '../timestamps.js';
import type { PeriodUsage } from './usage.js';

export type BudgetStatus = 'ok' | 'threshold_reached' | 'exceeded';

/** `budget.exceeded` as a level of what was reported, above every threshold (which are at most 100). */
export const EXCEEDED_LEVEL = 101;

/** Sums of floating-point costs, without their binary noise. */
const money = (usd: number): number => Math.round(usd * 1e9) / 1e9;

/** How much of the limit is used, in percent: the larger share when the budget limits both cost and tokens. */
export function percentUsed(budget: Budget, usage: Pick<PeriodUsage, 'costUsd' | 'totalTokens'>): number {
  const shares = [
    budget.limitUsd === null ? 0 : (money(usage.costUsd) / budget.limitUsd) * 100,
    budget.limitTokens === null ? 0 : (usage.totalTokens / budget.limitTokens) * 100,
  ];
  return Math.max(...shares);
}

export function statusOf(budget: Budget, usage: PeriodUsage): BudgetStatus {
  const percent = percentUsed(budget, usage);
  if (percent >= 100) return 'exceeded';
  return budget.thresholds.some((t) => percent >= t) ? 'threshold_reached' : 'ok';
}

/** What remains of each limit the budget has (never below 0). */
export function remainingOf(budget: Budget, usage: Pick<PeriodUsage, 'costUsd' | 'totalTokens'>): { usd?: number; tokens?: number } {
  return {
    ...(budget.limitUsd === null ? {} : { usd: Math.max(0, money(budget.limitUsd - usage.costUsd)) }),
    ...(budget.limitTokens === null ? {} : { tokens: Math.max(0, budget.limitTokens - usage.totalTokens) }),
  };
}

/** The highest threshold already reported in the usage's period; null for none. */
function lastThreshold(budget: Budget, usage: PeriodUsage): number | null {
  if (budget.reportedPeriodStart !== usage.periodStart) return null;
  const reported = budget.thresholds.filter((t) => t <= budget.reportedPercent);
  return reported.length === 0 ? null : reported[reported.length - 1]!;
}

/** A budget as the API (and its events) shows it, with what was used in its current period. */
export function budgetView(budget: Budget, usage: PeriodUsage) {
  return {
    id: budget.id,
    object: 'budget' as const,
    scope: budget.subject,
    period: budget.period,
    limit_usd: budget.limitUsd,
    limit_tokens: budget.limitTokens,
    thresholds: budget.thresholds,
    hard: budget.hard,
    status: statusOf(budget, usage),
    usage: {
      cost_usd: money(usage.costUsd),
      total_tokens: usage.totalTokens,
      period_start: toTimestamp(usage.periodStart),
      period_end: toTimestamp(usage.periodEnd),
    },
    last_threshold_reached: lastThreshold(budget, usage),
    livemode: budget.scope.livemode,
    created_at: toTimestamp(budget.createdAt),
    updated_at: toTimestamp(budget.updatedAt),
  };
}
