import type { Budget, Scope, Store } from '../store/port.js';
import type { RunPayer } from '../runs/run-budgets.js';

/** How long a process keeps a workspace's budgets before reading them again; changes made elsewhere show within it. */
export const BUDGET_CACHE_MS = 5_000;

/** Whether a budget counts a run of `payer`. */
export function applies(budget: Budget, payer: RunPayer): boolean {
  if (budget.subject.type === 'workspace') return true;
  if (budget.subject.type === 'api_key') return budget.subject.id === payer.apiKeyId;
  return budget.subject.id === payer.agentId;
}

/**
 * Each workspace's budgets (per mode) as runs read them: one query every few seconds at most, so a
 * workspace without budgets costs its runs nothing else. A change made through this process is
 * seen at once; one made through another within BUDGET_CACHE_MS.
 */
export class BudgetCache {
  private readonly entries = new Map<string, { budgets: Promise<Budget[]>; readAt: number }>();

  constructor(private readonly store: Store, private readonly now: () => number = Date.now, private readonly ttlMs = BUDGET_CACHE_MS) {}

  async of(scope: Scope): Promise<Budget[]> {
    const key = keyOf(scope);
    const now = this.now();
    let entry = this.entries.get(key);
    if (!entry || now - entry.readAt >= this.ttlMs) {
      entry = { budgets: this.store.budgets.listAll(scope), readAt: now };
      this.entries.set(key, entry);
      const read = entry;
      read.budgets.catch(() => {
        if (this.entries.get(key) === read) this.entries.delete(key);
      });
    }
    return entry.budgets;
  }

  /** The budgets that count a run of `payer`. */
  async applicable(scope: Scope, payer: RunPayer): Promise<Budget[]> {
    const budgets = await this.of(scope);
    return budgets.length === 0 ? budgets : budgets.filter((b) => applies(b, payer));
  }

  invalidate(scope: Scope): void {
    this.entries.delete(keyOf(scope));
  }
}

const keyOf = (scope: Scope): string => `${scope.workspaceId}:${scope.livemode ? 1 : 0}`;
