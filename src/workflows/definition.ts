/**
 * The workflow definition: JSON data, validated once on create/replace (validate.ts) and then
 * executed by the durable engine (engine.ts) without replay. Steps run in order; `branch`,
 * `parallel`, `map` and `approval` (its timeout path) hold nested sequences of steps.
 *
 * Expressions are JSONata, evaluated against
 * `{ input, steps: { <step id>: <output> }, item, index, run: { id, workflow_id, trigger } }`
 * (`item`/`index` only inside a `map`). Strings that are templates (`url`, header values)
 * interpolate `{{ expression }}`.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  max_attempts: number;
  /** First backoff; each retry waits backoff_ms × 2^(attempt-1), capped at max_backoff_ms. */
  backoff_ms: number;
  max_backoff_ms: number;
}

export const DEFAULT_RETRY: RetryPolicy = { max_attempts: 3, backoff_ms: 1_000, max_backoff_ms: 60_000 };

interface StepBase {
  /** Unique within the whole definition (nested steps included): `^[a-zA-Z][a-zA-Z0-9_]{0,63}$`. */
  id: string;
  name?: string;
  /** Overrides the workflow's retry policy for this step (agent, http and workflow steps retry). */
  retry?: Partial<RetryPolicy>;
}

export interface AgentStep extends StepBase {
  type: 'agent';
  /** An agent id (`agent_…`) of the same workspace and mode; its active version at the time the step runs. */
  agent: string;
  /** Expression: the agent's input (a string; anything else is sent as JSON text). */
  input: string;
}

export interface HttpStep extends StepBase {
  type: 'http';
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Template: `https://api.example.com/leads/{{ input.id }}`. */
  url: string;
  /** Header values are templates. `Idempotency-Key` is always set by KAIRO (stable per step). */
  headers?: Record<string, string>;
  /** Expression: the JSON body (not sent for GET and DELETE). */
  body?: string;
  /** Default 15 000, at most 60 000. */
  timeout_ms?: number;
}

export interface TransformStep extends StepBase {
  type: 'transform';
  /** Expression: the step's output. */
  expression: string;
}

export interface BranchStep extends StepBase {
  type: 'branch';
  /** Ordered; the first case whose `when` is truthy runs. */
  cases: Array<{ when: string; steps: Step[] }>;
  /** Runs when no case matches (nothing runs when absent). */
  default?: Step[];
}

export interface ParallelStep extends StepBase {
  type: 'parallel';
  /** Run at once and joined; the output is `{ <branch name>: <last step's output> }`. */
  branches: Array<{ name: string; steps: Step[] }>;
}

export interface MapStep extends StepBase {
  type: 'map';
  /** Expression: the array to iterate (evaluated once; the list is stored). */
  items: string;
  /** The sub-sequence run for each item, with `item` and `index` in scope. */
  steps: Step[];
  /** Items processed at once; default 4, at most 50. */
  concurrency?: number;
}

export interface DelayStep extends StepBase {
  type: 'delay';
  /** `500ms`, `30s`, `5m`, `2h`, `1d` (one of duration / until). */
  duration?: string;
  /** Expression: an RFC 3339 time or epoch milliseconds to wait until. */
  until?: string;
}

export interface ApprovalStep extends StepBase {
  type: 'approval';
  /** Shown to whoever resumes the run. */
  prompt?: string;
  /** How long to wait (`duration` syntax); without it the run waits until resumed or cancelled. */
  timeout?: string;
  /** Run when the timeout passes (the step's output is then null); without it the run fails. */
  on_timeout?: Step[];
}

export interface WorkflowCallStep extends StepBase {
  type: 'workflow';
  /** A workflow id (`wf_…`) of the same workspace and mode; its current version. */
  workflow: string;
  /** Expression: the called workflow's input (default `{}`). */
  input?: string;
}

export type Step = AgentStep | HttpStep | TransformStep | BranchStep | ParallelStep | MapStep | DelayStep | ApprovalStep | WorkflowCallStep;
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
