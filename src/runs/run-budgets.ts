import type { Run, Scope } from '../store/port.js';

/**
 * Whose spending a run counts as: the key that started it (none for background work) and its
 * agent (none for a completion asked of a model without an agent).
 */
export interface RunPayer {
  apiKeyId: string | null;
  agentId: string | null;
}

/**
 * The budgets runs are held to, as the run engine sees them: asked before a run is created and
 * between its model steps. Cheap for a workspace without budgets (nothing is read).
 */
export interface RunBudgets {
  /**
   * Before a run is created: throws `budget_exceeded` when a hard budget that applies is used up;
   * else the headers that say what remains of the tightest budget that applies (none without budgets).
   */
  admit(scope: Scope, payer: RunPayer): Promise<Record<string, string>>;
  /** Between model steps: why the run must stop (a hard budget used up, its own cost so far counted), or undefined. */
  stopReason(run: Run): Promise<string | undefined>;
}

/** No budgets: every run may start and go on. */
export const noRunBudgets: RunBudgets = {
  admit: async () => ({}),
  stopReason: async () => undefined,
};
