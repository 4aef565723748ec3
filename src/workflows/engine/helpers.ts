import { emptyUsage, type Usage, type WorkflowRun, type WorkflowStepState } from '../../store/port.js';
import { allSteps, type Step, type WorkflowDefinition } from '../definition.js';
import { AttemptFailed } from './errors.js';
import type { WorkflowDataLimits } from './ports.js';

/** Each step's place in the definition, depth first: the order a run's steps are listed in. */
export function positionsOf(definition: WorkflowDefinition): Map<string, number> {
  const positions = new Map<string, number>();
  for (const step of allSteps(definition.steps)) positions.set(step.id, positions.size);
  return positions;
}

/** The state of a step that has not begun. */
export function newStepState(run: WorkflowRun, positions: Map<string, number>, step: Step, key: string, now: number): WorkflowStepState {
  return {
    runId: run.id, key, stepId: step.id, type: step.type, status: 'pending', position: positions.get(step.id) ?? 0, input: null,
    output: null, state: {}, errorCode: null, errorMessage: null, attempts: 0, wakeAt: null, startedAt: null, completedAt: null, updatedAt: now,
  };
}

/** The error for a step output or input over the data limit, if it is over. */
export function oversize(limits: WorkflowDataLimits, key: string, what: 'output' | 'input', value: unknown): AttemptFailed | undefined {
  if (value === null || typeof value !== 'object') {
    if (typeof value !== 'string' || value.length * 3 <= limits.maxWorkflowDataBytes) return undefined;
  }
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
  if (bytes <= limits.maxWorkflowDataBytes) return undefined;
  return new AttemptFailed(
    what === 'output' ? 'step_output_too_large' : 'step_input_too_large',
    `Step '${key}': its ${what} is ${bytes} bytes of JSON, more than the ${limits.maxWorkflowDataBytes} allowed (--max-workflow-data-bytes / KAIRO_MAX_WORKFLOW_DATA_BYTES).`,
    false,
  );
}

/** Adds a child run (an agent step's attempt) to a step's notes: its id, and its tokens and cost to the step's. */
export function noteChildRun(state: WorkflowStepState, list: string, runId: string, usage: Usage, costUsd: number): void {
  const notes = state.state;
  notes[list] = [...((notes[list] as string[] | undefined) ?? []), runId];
  notes.usage = addUsage((notes.usage as Usage | undefined) ?? emptyUsage(), usage);
  notes.cost_usd = ((notes.cost_usd as number | undefined) ?? 0) + costUsd;
}

function addUsage(a: Usage, b: Usage): Usage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cached_input_tokens: a.cached_input_tokens + b.cached_input_tokens,
    reasoning_tokens: a.reasoning_tokens + b.reasoning_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  };
}

/** A workflow run's usage and cost: the sums over its steps' agent runs and called workflows. */
export function stepTotals(steps: WorkflowStepState[]): { usage: Usage; costUsd: number } {
  let usage = emptyUsage();
  let costUsd = 0;
  for (const step of steps) {
    const notes = step.state as { usage?: Usage; cost_usd?: number };
    if (notes.usage) usage = addUsage(usage, { ...emptyUsage(), ...notes.usage });
    costUsd += notes.cost_usd ?? 0;
  }
  return { usage, costUsd };
}
