/** Workflows, their versions, runs and steps as the API shows them (responses and events alike). */
import type { Workflow, WorkflowRun, WorkflowStepState, WorkflowVersion } from '../store/port.js';
import { isNotional } from '../models/pricing.js';
import { toNullableTimestamp, toTimestamp } from '../timestamps.js';
import type { WorkflowDefinition } from './definition.js';

export function workflowView(workflow: Workflow) {
  const definition = workflow.definition as unknown as WorkflowDefinition;
  return {
    object: 'workflow' as const,
    id: workflow.id,
    livemode: workflow.scope.livemode,
    version: workflow.version,
    name: definition.name,
    description: definition.description,
    input_schema: definition.input_schema,
    steps: redactSteps(definition.steps as unknown as Array<Record<string, unknown>>),
    output: definition.output,
    retry: definition.retry as unknown as Record<string, unknown>,
    schedule: definition.schedule as unknown as Record<string, unknown> | null,
    next_run_at: toNullableTimestamp(workflow.nextFireAt),
    metadata: workflow.metadata,
    created_at: toTimestamp(workflow.createdAt),
    updated_at: toTimestamp(workflow.updatedAt),
  };
}

/** Header values of http steps may carry credentials: write-only, like agents' tool headers. */
function redactSteps(steps: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return steps.map((step) => {
    const copy: Record<string, unknown> = { ...step };
    if (copy.headers && typeof copy.headers === 'object') copy.headers = Object.fromEntries(Object.keys(copy.headers).map((k) => [k, '[redacted]']));
    for (const field of ['steps', 'default', 'on_timeout']) if (Array.isArray(copy[field])) copy[field] = redactSteps(copy[field] as Array<Record<string, unknown>>);
    if (Array.isArray(copy.cases)) copy.cases = (copy.cases as Array<Record<string, unknown>>).map((c) => ({ ...c, steps: redactSteps(c.steps as Array<Record<string, unknown>>) }));
    if (Array.isArray(copy.branches)) copy.branches = (copy.branches as Array<Record<string, unknown>>).map((b) => ({ ...b, steps: redactSteps(b.steps as Array<Record<string, unknown>>) }));
    return copy;
  });
}

export function versionView(version: WorkflowVersion) {
  const definition = version.definition as unknown as WorkflowDefinition;
  return {
    object: 'workflow_version' as const, id: `${version.workflowId}@${version.version}`, workflow_id: version.workflowId, version: version.version,
    definition: { ...version.definition, steps: redactSteps(definition.steps as unknown as Array<Record<string, unknown>>) }, created_at: toTimestamp(version.createdAt),
  };
}

export function stepView(step: WorkflowStepState) {
  return {
    key: step.key,
    step_id: step.stepId,
    type: step.type,
    status: step.status,
    attempts: step.attempts,
    input: step.input,
    output: step.output,
    error: step.errorCode ? { code: step.errorCode, message: step.errorMessage ?? '' } : null,
    ...(typeof step.state.child_run_id === 'string' ? { child_run_id: step.state.child_run_id } : {}),
    ...(Array.isArray(step.state.agent_run_ids) ? { agent_run_ids: step.state.agent_run_ids as string[] } : {}),
    wake_at: step.status === 'waiting' || step.status === 'pending' ? toNullableTimestamp(step.wakeAt) : null,
    started_at: toNullableTimestamp(step.startedAt),
    completed_at: toNullableTimestamp(step.completedAt),
    duration_ms: step.startedAt !== null && step.completedAt !== null ? step.completedAt - step.startedAt : null,
  };
}

/** The latency breakdown without the engine's bookkeeping (when a slot wait began). */
function publicLatency(latency: Record<string, number>): Record<string, number> {
  const { slot_wait_since: _, ...rest } = latency;
  return rest;
}

export function runView(run: WorkflowRun, steps?: WorkflowStepState[]) {
  return {
    object: 'workflow_run' as const,
    id: run.id,
    workflow_id: run.workflowId,
    workflow_version: run.workflowVersion,
    livemode: run.scope.livemode,
    status: run.status,
    mode: run.mode,
    trigger: run.trigger,
    scheduled_for: toNullableTimestamp(run.scheduledFor),
    parent_run_id: run.parentRunId,
    input: run.input,
    output: run.output,
    error: run.errorCode ? { code: run.errorCode, message: run.errorMessage ?? '', step: run.errorStep } : null,
    cancel_requested: run.cancelRequested,
    usage: run.usage,
    cost_usd: run.costUsd,
    cost_notional: isNotional(run.scope.livemode),
    latency_ms: publicLatency(run.latency),
    api_key_id: run.apiKeyId,
    ...(steps ? { steps: steps.map(stepView) } : {}),
    metadata: run.metadata,
    created_at: toTimestamp(run.createdAt),
    started_at: toNullableTimestamp(run.startedAt),
    completed_at: toNullableTimestamp(run.completedAt),
  };
}
