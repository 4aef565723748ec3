import type { Database } from '../schema.js';
import type { Usage, Workflow, WorkflowRun, WorkflowRunStatus, WorkflowStepState, WorkflowStepStatus, WorkflowVersion } from '../port.js';
import { emptyUsage } from '../port.js';
import { everyColumn, json, jsonText, mode, num, scopeOf } from './column-values.js';

export function toWorkflow(row: Database['workflows']): Workflow {
  return {
    id: row.id,
    scope: scopeOf(row),
    name: row.name,
    version: Number(row.version),
    definition: json(row.definition),
    metadata: json(row.metadata),
    nextFireAt: num(row.next_fire_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export const toWorkflowVersion = (row: Database['workflow_versions']): WorkflowVersion => ({
  workflowId: row.workflow_id,
  version: Number(row.version),
  definition: json(row.definition),
  createdAt: Number(row.created_at),
});

export function toWorkflowRun(row: Database['workflow_runs']): WorkflowRun {
  return {
    id: row.id,
    scope: scopeOf(row),
    workflowId: row.workflow_id,
    workflowVersion: Number(row.workflow_version),
    status: row.status as WorkflowRunStatus,
    mode: row.mode as WorkflowRun['mode'],
    trigger: row.trigger as WorkflowRun['trigger'],
    scheduledFor: num(row.scheduled_for),
    parentRunId: row.parent_run_id,
    parentStepKey: row.parent_step_key,
    input: json(row.input),
    output: json(row.output),
    errorCode: row.error_code,
    errorMessage: row.error_message,
    errorStep: row.error_step,
    cancelRequested: Number(row.cancel_requested) === 1,
    metadata: json(row.metadata),
    createdAt: Number(row.created_at),
    startedAt: num(row.started_at),
    completedAt: num(row.completed_at),
    updatedAt: Number(row.updated_at),
    apiKeyId: row.api_key_id,
    usage: { ...emptyUsage(), ...json<Partial<Usage>>(row.usage) },
    costUsd: Number(row.cost_usd),
    latency: json(row.latency),
  };
}

/** The columns save() writes: everything but identity, ownership, the cancel flag and the lease. */
/** The columns a workflow run's save rewrites (runChanges). */
export const WORKFLOW_RUN_CHANGE_COLUMNS = [
  'status', 'output', 'error_code', 'error_message', 'error_step', 'metadata', 'started_at', 'completed_at', 'updated_at', 'usage', 'cost_usd', 'latency',
] as const satisfies ReadonlyArray<keyof Database['workflow_runs']>;

export const WORKFLOW_RUN_COLUMNS = everyColumn<Database['workflow_runs']>()([
  'id', 'workspace_id', 'livemode', 'workflow_id', 'workflow_version', 'mode', 'trigger', 'scheduled_for', 'parent_run_id', 'parent_step_key',
  'api_key_id', 'input', 'cancel_requested', 'lease_owner', 'lease_until', 'created_at', ...WORKFLOW_RUN_CHANGE_COLUMNS,
]);

/** A new workflow run's row: not leased yet. */
export function workflowRunRow(run: WorkflowRun): Database['workflow_runs'] {
  return {
    id: run.id, workspace_id: run.scope.workspaceId, livemode: mode(run.scope.livemode), workflow_id: run.workflowId,
    workflow_version: run.workflowVersion, mode: run.mode, trigger: run.trigger, scheduled_for: run.scheduledFor,
    parent_run_id: run.parentRunId, parent_step_key: run.parentStepKey, api_key_id: run.apiKeyId, input: jsonText(run.input),
    cancel_requested: run.cancelRequested ? 1 : 0, lease_owner: null, lease_until: null, created_at: run.createdAt, ...runChanges(run),
  };
}

export function runChanges(run: WorkflowRun) {
  return {
    status: run.status,
    output: run.output === undefined ? null : JSON.stringify(run.output),
    error_code: run.errorCode,
    error_message: run.errorMessage,
    error_step: run.errorStep,
    metadata: JSON.stringify(run.metadata),
    started_at: run.startedAt,
    completed_at: run.completedAt,
    updated_at: run.updatedAt,
    usage: JSON.stringify(run.usage),
    cost_usd: run.costUsd,
    latency: JSON.stringify(run.latency),
  };
}

/** The columns a step's save rewrites when the step has a row already. */
export const STEP_CHANGE_COLUMNS = [
  'status', 'input', 'output', 'state', 'error_code', 'error_message', 'attempts', 'wake_at', 'started_at', 'completed_at', 'updated_at',
] as const satisfies ReadonlyArray<keyof Database['workflow_steps']>;

export const STEP_COLUMNS = everyColumn<Database['workflow_steps']>()(['run_id', 'key', 'step_id', 'type', 'position', ...STEP_CHANGE_COLUMNS]);

export function stepRow(step: WorkflowStepState): Database['workflow_steps'] {
  return {
    run_id: step.runId, key: step.key, step_id: step.stepId, type: step.type, position: step.position, status: step.status,
    input: jsonText(step.input), output: jsonText(step.output), state: JSON.stringify(step.state), error_code: step.errorCode,
    error_message: step.errorMessage, attempts: step.attempts, wake_at: step.wakeAt, started_at: step.startedAt,
    completed_at: step.completedAt, updated_at: step.updatedAt,
  };
}

export function toStep(row: Database['workflow_steps']): WorkflowStepState {
  return {
    runId: row.run_id,
    key: row.key,
    stepId: row.step_id,
    type: row.type,
    status: row.status as WorkflowStepStatus,
    position: Number(row.position),
    input: json(row.input),
    output: json(row.output),
    state: json(row.state),
    errorCode: row.error_code,
    errorMessage: row.error_message,
    attempts: Number(row.attempts),
    wakeAt: num(row.wake_at),
    startedAt: num(row.started_at),
    completedAt: num(row.completed_at),
    updatedAt: Number(row.updated_at),
  };
}
