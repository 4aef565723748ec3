import type { Run, Transaction, WorkflowRun } from '../store/port.js';

/** One model call as it ended, with what it cost and what the router made of it. */
export interface ModelCallOutcome {
  /** The agent run that made the call (its key, agent, workflow and version are the call's too). */
  run: Run;
  model: string;
  provider: string;
  ok: boolean;
  startedAt: number;
  endedAt: number;
  timeToFirstTokenMs: number | null;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costUsd: number;
  /** The run's first call, to the model that `"auto"` routing chose. */
  autoChosen: boolean;
  /** The call failed with a retryable error and the run moved on to the next candidate. */
  fellBack: boolean;
}

/**
 * Told of every model call and every run that reaches a final status, inside the transaction that
 * records it, so that what it keeps (rollups) commits or rolls back with the run. Anything outside
 * the database (metrics, trace export) it does once the transaction commits.
 */
export interface RunObserver {
  /** Called with tracing on only, in the transaction that writes the call's span. */
  modelCall(tx: Transaction, call: ModelCallOutcome): Promise<void>;
  agentRunFinished(tx: Transaction, run: Run): Promise<void>;
  workflowRunFinished(tx: Transaction, run: WorkflowRun, steps: number): Promise<void>;
}

/** An observer that keeps nothing (analytics off). */
export const ignoreRuns: RunObserver = {
  async modelCall() {},
  async agentRunFinished() {},
  async workflowRunFinished() {},
};
