/** The storage port of workflows: definitions and versions, workflow runs, per-step state, schedule fires. */
import type { Page, PageRequest, Scope } from './platform-port.js';
import type { Usage } from './run-port.js';

export interface Workflow {
  id: string;
  scope: Scope;
  name: string;
  version: number;
  /** The current version's validated definition (src/workflows/definition.ts). */
  definition: Record<string, unknown>;
  metadata: Record<string, string>;
  /** The schedule's next due time, null without a schedule. */
  nextFireAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface WorkflowVersion {
  workflowId: string;
  version: number;
  definition: Record<string, unknown>;
  createdAt: number;
}

export type WorkflowRunStatus = 'queued' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';
export const ACTIVE_WORKFLOW_RUN_STATUSES: WorkflowRunStatus[] = ['queued', 'running', 'waiting'];

export interface WorkflowRun {
  id: string;
  scope: Scope;
  workflowId: string;
  workflowVersion: number;
  status: WorkflowRunStatus;
  mode: 'wait' | 'stream' | 'background';
  trigger: 'api' | 'schedule' | 'workflow';
  /** The due time a scheduled run was fired for. */
  scheduledFor: number | null;
  /** For a run started by a `workflow` step: the calling run and step. */
  parentRunId: string | null;
  parentStepKey: string | null;
  input: unknown;
  output: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  /** The key of the step that failed the run. */
  errorStep: string | null;
  cancelRequested: boolean;
  metadata: Record<string, string>;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  updatedAt: number;
  /** The API key whose request started the run; null for scheduled runs. */
  apiKeyId: string | null;
  /** Tokens and cost of the agent runs and called workflows of its steps. */
  usage: Usage;
  costUsd: number;
  /** queue_ms, slot_wait_ms, total_ms once known. */
  latency: Record<string, number>;
}

export type WorkflowStepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'waiting';

/** One step's stored state in one run; a step inside a `map` has one per item (`each[2].fetch`). */
export interface WorkflowStepState {
  runId: string;
  /** Unique in the run: the step id, prefixed by the map iterations it is in. */
  key: string;
  stepId: string;
  type: string;
  status: WorkflowStepStatus;
  /** Where the step is declared, depth first: orders the steps of a run for display. */
  position: number;
  input: unknown;
  output: unknown;
  /** The engine's own notes: the branch taken, a map's items, a called run's id. */
  state: Record<string, unknown>;
  errorCode: string | null;
  errorMessage: string | null;
  attempts: number;
  /** When a waiting step (delay, approval timeout, retry backoff) is due. */
  wakeAt: number | null;
  startedAt: number | null;
  completedAt: number | null;
  updatedAt: number;
}

export interface WorkflowRepo {
  /** Inserts the workflow and its first version. */
  create(workflow: Workflow): Promise<Workflow>;
  get(scope: Scope, id: string): Promise<Workflow | undefined>;
  getById(id: string): Promise<Workflow | undefined>;
  list(scope: Scope, page: PageRequest): Promise<Page<Workflow>>;
  /** Saves a new version (the workflow row and a version row). */
  replace(workflow: Workflow): Promise<void>;
  delete(scope: Scope, id: string, at: number): Promise<boolean>;
  versions(workflowId: string, page: PageRequest): Promise<Page<WorkflowVersion>>;
  getVersion(workflowId: string, version: number): Promise<WorkflowVersion | undefined>;
  /** Workflows whose schedule is due at `now` or earlier. */
  dueSchedules(now: number, limit: number): Promise<Workflow[]>;
  /** Moves a schedule on from `expected` to `next`; false when another process already did. */
  advanceSchedule(id: string, expected: number, next: number | null): Promise<boolean>;
}

export interface WorkflowRunFilter {
  workflowId?: string;
  status?: WorkflowRunStatus;
  trigger?: WorkflowRun['trigger'];
  apiKeyId?: string;
  /** Created in [createdFrom, createdTo). */
  createdFrom?: number;
  createdTo?: number;
  minLatencyMs?: number;
  minCostUsd?: number;
}

export interface WorkflowRunRepo {
  create(run: WorkflowRun): Promise<WorkflowRun>;
  get(scope: Scope, id: string): Promise<WorkflowRun | undefined>;
  getById(id: string): Promise<WorkflowRun | undefined>;
  list(scope: Scope, filter: WorkflowRunFilter, page: PageRequest): Promise<Page<WorkflowRun>>;
  /** The workflow runs a run's `workflow` steps started, oldest first. */
  children(parentRunId: string): Promise<WorkflowRun[]>;
  /** Saves the run (not its lease or cancel flag); with `expectStatus`, only if its status is still one of those (never for an empty list). */
  save(run: WorkflowRun, expectStatus?: WorkflowRunStatus[]): Promise<boolean>;
  requestCancel(id: string, at: number): Promise<void>;
  countActive(workflowId: string): Promise<number>;
  /**
   * Takes the run's execution lease for `owner` until `until`, if it is free, expired (before
   * `now`) or already the owner's. One engine advances a run at a time.
   */
  claim(id: string, owner: string, until: number, now: number): Promise<boolean>;
  /** Extends the owner's lease; undefined when it was lost, else whether a cancel was asked for. */
  renew(id: string, owner: string, until: number): Promise<{ cancelRequested: boolean } | undefined>;
  release(id: string, owner: string): Promise<void>;
  /** When the lease of a claimed run ends (null when free). */
  leaseUntil(id: string): Promise<number | null>;
  steps(runId: string): Promise<WorkflowStepState[]>;
  /** Inserts or replaces a step's state. */
  saveStep(step: WorkflowStepState): Promise<void>;
  /** Records that a schedule fired for `dueAt`; false when that due time already fired. */
  recordFire(workflowId: string, dueAt: number, runId: string, at: number): Promise<boolean>;
}
