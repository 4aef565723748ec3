import type { Database } from '../schema.js';
import type { Usage, Workflow, WorkflowRun, WorkflowRunStatus, WorkflowStepState, WorkflowStepStatus, WorkflowVersion } from '../port.js';
import { emptyUsage } from '../port.js';
import { json, num, scopeOf } from './column-values.js';

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
