import type { Run, RollupDims, RollupMetrics, RollupRow, RollupSubject, Scope, Transaction, WorkflowRun } from '../store/port.js';
import type { ModelCatalogue } from '../models/ports.js';
import { providerOf } from '../models/provider-of.js';
import type { CompletionOutcome, ModelCall, ModelCallOutcome, RunObserver } from '../runs/observer.js';
import { addValue, type Sketches } from './sketch.js';
import { combineRows, zeroMetrics } from './groupings.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export const floorTo = (time: number, width: number): number => Math.floor(time / width) * width;

/** Dimensions with none set. */
export const noDims = (): RollupDims => ({
  apiKeyId: null, agentId: null, agentVersion: null, workflowId: null, workflowVersion: null, model: null, provider: null, status: null, route: null,
});

/** Measures with nothing counted. */
export { zeroMetrics };

/** A minute row of one event (a call, a run, a request). */
export function minuteRow(scope: Scope, subject: RollupSubject, at: number, dims: Partial<RollupDims>, metrics: Partial<RollupMetrics>): RollupRow {
  return {
    scope, subject, width: 'minute', grouping: '*', bucketStart: floorTo(at, MINUTE_MS),
    dims: { ...noDims(), ...dims }, metrics: { ...zeroMetrics(), ...metrics },
  };
}

/** What an agent run contributes to: its key, agent (and version), workflow (and version). */
function runDims(run: Run): Partial<RollupDims> {
  return { apiKeyId: run.apiKeyId, agentId: run.agentId, agentVersion: run.agentVersion, workflowId: run.workflowId, workflowVersion: run.workflowVersion };
}

/** The minute row of one model call of an agent run. */
export function modelCallRow(call: ModelCallOutcome): RollupRow {
  return callRow(call.run.scope, runDims(call.run), call);
}

function callRow(scope: Scope, caller: Partial<RollupDims>, call: ModelCall): RollupRow {
  const sketches: Sketches = {};
  addValue(sketches, 'latency', call.endedAt - call.startedAt);
  addValue(sketches, 'ttft', call.timeToFirstTokenMs);
  return minuteRow(scope, 'model_call', call.endedAt, {
    ...caller, model: call.model, provider: call.provider, status: call.ok ? 'ok' : 'error',
  }, {
    count: 1, errors: call.ok ? 0 : 1, inputTokens: call.inputTokens, cachedInputTokens: call.cachedInputTokens, outputTokens: call.outputTokens,
    reasoningTokens: call.reasoningTokens, costUsd: call.costUsd, autoChosen: call.autoChosen ? 1 : 0, fallbacks: call.fellBack ? 1 : 0, sketches,
  });
}

/**
 * The minute row of an agent run that reached a final status. Latency sketches count only what
 * happened: a run without retrieval (or tool calls, or a first token) adds nothing to that metric.
 */
export function agentRunRow(run: Run, catalogue: ModelCatalogue): RollupRow {
  const l = run.latency;
  const sketches: Sketches = {};
  addValue(sketches, 'total', l.total_ms);
  addValue(sketches, 'queue', l.queue_ms);
  if (l.slot_wait_ms) addValue(sketches, 'slot_wait', l.slot_wait_ms);
  if (l.retrieval_ms) addValue(sketches, 'retrieval', l.retrieval_ms);
  if (l.model_ms) addValue(sketches, 'model', l.model_ms);
  addValue(sketches, 'ttft', l.time_to_first_token_ms);
  if (l.tools_ms) addValue(sketches, 'tools', l.tools_ms);
  const u = run.usage;
  return minuteRow(run.scope, 'agent_run', run.completedAt ?? run.updatedAt, {
    ...runDims(run), model: run.model, provider: run.model === null ? null : providerOf(catalogue, run.model),
    status: run.status,
  }, {
    count: 1, errors: run.status === 'failed' ? 1 : 0, inputTokens: u.input_tokens, cachedInputTokens: u.cached_input_tokens,
    outputTokens: u.output_tokens, reasoningTokens: u.reasoning_tokens, costUsd: run.costUsd, sketches,
  });
}

/** The minute row of a finished workflow run; its tokens and cost stay with its steps' agent runs, so nothing counts twice. */
export function workflowRunRow(run: WorkflowRun, steps: number): RollupRow {
  const sketches: Sketches = {};
  addValue(sketches, 'total', run.latency.total_ms);
  addValue(sketches, 'queue', run.latency.queue_ms);
  if (run.latency.slot_wait_ms) addValue(sketches, 'slot_wait', run.latency.slot_wait_ms);
  return minuteRow(run.scope, 'workflow_run', run.completedAt ?? run.updatedAt, {
    apiKeyId: run.apiKeyId, workflowId: run.workflowId, workflowVersion: run.workflowVersion, status: run.status,
  }, { count: 1, errors: run.status === 'failed' ? 1 : 0, steps, sketches });
}

/**
 * The minute rows of a completion without an agent: one per model call, and the completion's own
 * (its tokens and cost are its calls', its model the last one tried, its status `completed` or `failed`).
 */
export function completionRows(completion: CompletionOutcome): RollupRow[] {
  const caller = { apiKeyId: completion.apiKeyId };
  const last = completion.calls.at(-1);
  const sketches: Sketches = {};
  addValue(sketches, 'total', completion.endedAt - completion.startedAt);
  const sum = (measure: (call: ModelCall) => number) => completion.calls.reduce((total, call) => total + measure(call), 0);
  const row = minuteRow(completion.scope, 'completion', completion.endedAt, {
    ...caller, model: last?.model ?? null, provider: last?.provider ?? null, status: completion.ok ? 'completed' : 'failed',
  }, {
    count: 1, errors: completion.ok ? 0 : 1, inputTokens: sum((c) => c.inputTokens), cachedInputTokens: sum((c) => c.cachedInputTokens),
    outputTokens: sum((c) => c.outputTokens), reasoningTokens: sum((c) => c.reasoningTokens), costUsd: sum((c) => c.costUsd), sketches,
  });
  return [...completion.calls.map((call) => callRow(completion.scope, caller, call)), row];
}

/**
 * Keeps the per-minute rollups as runs go: a row for each model call when it ends, for each agent
 * run and workflow run when it reaches a final status, written in the transaction that records
 * it, so that a crash can neither lose nor double a count.
 */
export class RollupWriter implements RunObserver {
  constructor(private readonly catalogue: ModelCatalogue) {}

  async modelCalls(tx: Transaction | undefined, calls: ModelCallOutcome[]): Promise<void> {
    if (tx) await tx.rollups.add(combineRows(calls.map(modelCallRow)));
  }

  /** The run's row and those of its last calls, in one statement. */
  async agentRunFinished(tx: Transaction, run: Run, calls: ModelCallOutcome[]): Promise<void> {
    await tx.rollups.add(combineRows([...calls.map(modelCallRow), agentRunRow(run, this.catalogue)]));
  }

  async workflowRunFinished(tx: Transaction, run: WorkflowRun, steps: number): Promise<void> {
    await tx.rollups.add([workflowRunRow(run, steps)]);
  }

  async completionFinished(tx: Transaction, completion: CompletionOutcome): Promise<void> {
    await tx.rollups.add(combineRows(completionRows(completion)));
  }
}
