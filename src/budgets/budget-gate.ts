import { KairoError } from '../errors.js';
import { recordEvents, type NewEvent } from '../events/events.js';
import type { RunObserver } from '../runs/observer.js';
import type { RunBudgets, RunPayer } from '../runs/run-budgets.js';
import type { Budget, Run, Scope, Store, Transaction } from '../store/port.js';
import { toTimestamp } from '../timestamps.js';
import type { BudgetCache } from './budget-cache.js';
import { readUsage, type PeriodUsage } from './usage.js';
import { budgetView, EXCEEDED_LEVEL, percentUsed, remainingOf } from './views.js';

export const REMAINING_USD_HEADER = 'KAIRO-Budget-Remaining-USD';
export const REMAINING_TOKENS_HEADER = 'KAIRO-Budget-Remaining-Tokens';

const payerOf = (run: Run): RunPayer => ({ apiKeyId: run.apiKeyId, agentId: run.agentId });

/** What is left of the tightest budgets (per kind of limit) of `measured`, as headers. */
function remainingHeaders(measured: Array<{ budget: Budget; usage: PeriodUsage }>): Record<string, string> {
  let usd: number | undefined;
  let tokens: number | undefined;
  for (const { budget, usage } of measured) {
    const left = remainingOf(budget, usage);
    if (left.usd !== undefined) usd = Math.min(usd ?? Infinity, left.usd);
    if (left.tokens !== undefined) tokens = Math.min(tokens ?? Infinity, left.tokens);
  }
  return {
    ...(usd === undefined ? {} : { [REMAINING_USD_HEADER]: String(usd) }),
    ...(tokens === undefined ? {} : { [REMAINING_TOKENS_HEADER]: String(tokens) }),
  };
}

function describe(budget: Budget): string {
  const limits = [budget.limitUsd === null ? undefined : `${budget.limitUsd} USD`, budget.limitTokens === null ? undefined : `${budget.limitTokens} tokens`]
    .filter(Boolean).join(' or ');
  const of = budget.subject.type === 'workspace' ? 'the workspace' : budget.subject.type === 'api_key' ? `API key ${budget.subject.id}` : `agent ${budget.subject.id}`;
  return `Budget ${budget.id} (${limits} per ${budget.period} for ${of})`;
}

/**
 * Holds runs to their budgets: a hard budget used up refuses new runs and stops running ones
 * between model steps; reaching a threshold, and passing the limit, is reported once per period
 * by an event written in the transaction of the run that got there.
 */
export class BudgetGate implements RunBudgets {
  constructor(private readonly store: Store, private readonly cache: BudgetCache, private readonly now: () => number = Date.now) {}

  async admit(scope: Scope, payer: RunPayer): Promise<Record<string, string>> {
    const budgets = await this.cache.applicable(scope, payer);
    if (budgets.length === 0) return {};
    const measured = await this.measure(budgets);
    const headers = remainingHeaders(measured);
    const spent = measured.find(({ budget, usage }) => budget.hard && percentUsed(budget, usage) >= 100);
    if (spent) {
      throw new KairoError('budget_exceeded', {
        message: `${describe(spent.budget)} is used up until ${toTimestamp(spent.usage.periodEnd)}; raise its limit or make it soft to run now.`,
        headers,
      });
    }
    return headers;
  }

  async stopReason(run: Run): Promise<string | undefined> {
    const hard = (await this.cache.applicable(run.scope, payerOf(run))).filter((b) => b.hard);
    if (hard.length === 0) return undefined;
    for (const { budget, usage } of await this.measure(hard)) {
      const withRun = { costUsd: usage.costUsd + run.costUsd, totalTokens: usage.totalTokens + run.usage.total_tokens };
      if (percentUsed(budget, withRun) >= 100) return `${describe(budget)} was used up while the run went; it stopped after its current step.`;
    }
    return undefined;
  }

  /** Observes runs as `inner` does, and reports the thresholds a finished run made its budgets reach. */
  observe(inner: RunObserver): RunObserver {
    return {
      modelCalls: (tx, calls) => inner.modelCalls(tx, calls),
      agentRunFinished: async (tx, run, calls) => {
        await inner.agentRunFinished(tx, run, calls);
        await this.report(tx, run.scope, payerOf(run));
      },
      workflowRunFinished: (tx, run, steps) => inner.workflowRunFinished(tx, run, steps),
      completionFinished: async (tx, completion) => {
        await inner.completionFinished(tx, completion);
        await this.report(tx, completion.scope, { apiKeyId: completion.apiKeyId, agentId: null });
      },
    };
  }

  /**
   * In a finished run's (or completion's) transaction, its rollup row written: each threshold
   * its budgets now reach, and the limit once passed, not yet reported this period, is marked (a
   * conditional update, so concurrent runs report it once) and written as an event.
   */
  private async report(tx: Transaction, scope: Scope, payer: RunPayer): Promise<void> {
    const budgets = await this.cache.applicable(scope, payer);
    if (budgets.length === 0) return;
    const now = this.now();
    const events: NewEvent[] = [];
    for (const budget of budgets) {
      const usage = await readUsage(tx, budget, now);
      const percent = percentUsed(budget, usage);
      const known = budget.reportedPeriodStart === usage.periodStart ? budget.reportedPercent : 0;
      const levels = [...budget.thresholds.filter((t) => percent >= t), ...(percent >= 100 ? [EXCEEDED_LEVEL] : [])].filter((l) => l > known);
      let reported = known;
      for (const level of levels) {
        if (!(await tx.budgets.markReported(budget.id, usage.periodStart, level))) continue;
        reported = level;
        events.push({
          type: level === EXCEEDED_LEVEL ? 'budget.exceeded' : 'budget.threshold_reached',
          object: budgetView({ ...budget, reportedPeriodStart: usage.periodStart, reportedPercent: level }, usage),
          relatedId: budget.subject.type === 'workspace' ? null : budget.subject.id,
        });
      }
      if (reported > known) {
        // The cached budget learns it too, sparing the next runs of this period the update.
        tx.afterCommit(() => {
          const before = budget.reportedPeriodStart === usage.periodStart ? budget.reportedPercent : 0;
          budget.reportedPeriodStart = usage.periodStart;
          budget.reportedPercent = Math.max(reported, before);
        });
      }
    }
    if (events.length > 0) await recordEvents(tx, scope, events, now);
  }

  private async measure(budgets: Budget[]): Promise<Array<{ budget: Budget; usage: PeriodUsage }>> {
    const now = this.now();
    const measured: Array<{ budget: Budget; usage: PeriodUsage }> = [];
    for (const budget of budgets) measured.push({ budget, usage: await readUsage(this.store, budget, now) });
    return measured;
  }
}
