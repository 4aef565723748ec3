import type { AreaModule, AreaRunning } from '../area-module.js';
import type { Store } from '../store/port.js';
import { BudgetCache } from './budget-cache.js';
import { BudgetGate } from './budget-gate.js';
import { BudgetService } from './budgets.js';

/** The budgets area: managing budgets, and the gate runs pass (refusals, stops, threshold events). */
export class BudgetsModule implements AreaModule {
  readonly budgets: BudgetService;
  readonly gate: BudgetGate;

  constructor(deps: { store: Store; now?: () => number }) {
    const now = deps.now ?? Date.now;
    const cache = new BudgetCache(deps.store, now);
    this.budgets = new BudgetService(deps.store, cache, now);
    this.gate = new BudgetGate(deps.store, cache, now);
  }

  registerJobs(): void {}

  start(): AreaRunning {
    return { stop: () => {} };
  }
}
