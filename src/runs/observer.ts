import type { Run, Scope, Span, Transaction, WorkflowRun } from '../store/port.js';

/** One model call as it ended, with what it cost and what the router made of it. */
export interface ModelCall {
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

/** A model call of an agent run. */
export interface ModelCallOutcome extends ModelCall {
  /** The agent run that made the call (its key, agent, workflow and version are the call's too). */
  run: Run;
}

/**
 * A completion asked of a model (or of `auto`) without an agent, through the OpenAI-compatible
 * API: its calls in order (a failed one before each fallback), the last one answering when `ok`.
 */
export interface CompletionOutcome {
  scope: Scope;
  apiKeyId: string;
  ok: boolean;
  startedAt: number;
  endedAt: number;
  calls: ModelCall[];
}

/** A model call that ended: its span and what it counted, recorded together. */
export interface ModelCallRecord {
  span: Span;
  outcome: ModelCallOutcome;
}

/**
 * Told of every model call and every run that reaches a final status, inside the transaction that
 * records it, so that what it keeps (rollups) commits or rolls back with the run. Anything outside
 * the database (metrics, trace export) it does once the transaction commits.
 */
export interface RunObserver {
  /**
   * Model calls that ended, in the transaction that writes their spans; without one when tracing
   * is off (nothing is written then).
   */
  modelCalls(tx: Transaction | undefined, calls: ModelCallOutcome[]): Promise<void>;
  /** An agent run reached a final status; `calls` (the last step's) are recorded with it. */
  agentRunFinished(tx: Transaction, run: Run, calls: ModelCallOutcome[]): Promise<void>;
  workflowRunFinished(tx: Transaction, run: WorkflowRun, steps: number): Promise<void>;
  /** A completion without an agent ended (answered or not), in the transaction that records it. */
  completionFinished(tx: Transaction, completion: CompletionOutcome): Promise<void>;
}
