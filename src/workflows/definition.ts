/**
 * The workflow definition: JSON data, validated once on create/replace (validate.ts) and then
 * executed by the durable engine (engine/) without replay. Steps run in order; `branch`,
 * `parallel`, `map` and `approval` (its timeout path) hold nested sequences of steps.
 *
 * Expressions are JSONata, evaluated against
 * `{ input, steps: { <step id>: <output> }, item, index, run: { id, workflow_id, trigger } }`
 * (`item`/`index` only inside a `map`). Strings that are templates (`url`, header values)
 * interpolate `{{ expression }}`.
 */

import type { Step } from './step-schemas.js';

export type { Step } from './step-schemas.js';

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  max_attempts: number;
  /** First backoff; each retry waits backoff_ms × 2^(attempt-1), capped at max_backoff_ms. */
  backoff_ms: number;
  max_backoff_ms: number;
}

export const DEFAULT_RETRY: RetryPolicy = { max_attempts: 3, backoff_ms: 1_000, max_backoff_ms: 60_000 };

/** Each step type's fields are described in step-schemas.ts. */
export type AgentStep = Extract<Step, { type: 'agent' }>;
export type HttpStep = Extract<Step, { type: 'http' }>;
export type TransformStep = Extract<Step, { type: 'transform' }>;
export type BranchStep = Extract<Step, { type: 'branch' }>;
export type ParallelStep = Extract<Step, { type: 'parallel' }>;
export type MapStep = Extract<Step, { type: 'map' }>;
export type DelayStep = Extract<Step, { type: 'delay' }>;
export type ApprovalStep = Extract<Step, { type: 'approval' }>;
export type WorkflowCallStep = Extract<Step, { type: 'workflow' }>;
export type StepType = Step['type'];

export const STEP_TYPES: readonly StepType[] = ['agent', 'http', 'transform', 'branch', 'parallel', 'map', 'delay', 'approval', 'workflow'];

export interface ScheduleDefinition {
  /** Five fields, or six with seconds first (croner syntax). */
  cron: string;
  /** IANA time zone; default UTC. */
  timezone: string;
  /** The input each scheduled run starts with. */
  input: unknown;
}

/** A validated workflow definition (what a workflow version stores). */
export interface WorkflowDefinition {
  name: string;
  description: string | null;
  input_schema: Record<string, unknown> | null;
  steps: Step[];
  /** Expression: the run's output; default the last top-level step's output. */
  output: string | null;
  retry: RetryPolicy;
  schedule: ScheduleDefinition | null;
}

/** The nested sequences of a step, in execution order of their declaration. */
export function childSequences(step: Step): Step[][] {
  switch (step.type) {
    case 'branch':
      return [...step.cases.map((c) => c.steps), ...(step.default ? [step.default] : [])];
    case 'parallel':
      return step.branches.map((b) => b.steps);
    case 'map':
      return [step.steps];
    case 'approval':
      return step.on_timeout ? [step.on_timeout] : [];
    default:
      return [];
  }
}

/** Every step of a sequence, nested ones included, depth first. */
export function* allSteps(steps: Step[]): Generator<Step> {
  for (const step of steps) {
    yield step;
    for (const sequence of childSequences(step)) yield* allSteps(sequence);
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `30s`, `5m`, `2h`, `1d` (also combined: `1h30m`) in milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(ms|s|m|h|d))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(amount) * DURATION_UNITS[unit!]!;
  return total;
}
