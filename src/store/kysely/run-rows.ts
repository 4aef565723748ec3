import type { Database } from '../schema.js';
import type { Run, RunEvent, RunStatus, Span, Usage } from '../port.js';
import { emptyUsage } from '../port.js';
import { everyColumn, json, jsonText, mode, num, scopeOf } from './column-values.js';

/** The run columns a save rewrites: all but the run's identity, scope, creation and cancel flag. */
export const RUN_CHANGE_COLUMNS = [
  'agent_id', 'agent_version', 'thread_id', 'status', 'mode', 'input', 'state', 'output', 'error_code', 'error_message', 'model', 'routing',
  'usage', 'cost_usd', 'latency', 'required_action', 'metadata', 'started_at', 'completed_at', 'updated_at', 'api_key_id', 'parent_run_id',
  'parent_span_id', 'workflow_id', 'workflow_version',
] as const satisfies ReadonlyArray<keyof Database['runs']>;

export const RUN_COLUMNS = everyColumn<Database['runs']>()(['id', 'workspace_id', 'livemode', 'created_at', 'cancel_requested', ...RUN_CHANGE_COLUMNS]);

export function toRun(row: Database['runs']): Run {
  return {
    id: row.id,
    scope: scopeOf(row),
    agentId: row.agent_id,
    agentVersion: Number(row.agent_version),
    threadId: row.thread_id,
    status: row.status as RunStatus,
    mode: row.mode as Run['mode'],
    input: json(row.input),
    state: json(row.state),
    output: row.output,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    model: row.model,
    routing: json(row.routing),
    usage: { ...emptyUsage(), ...json<Partial<Usage>>(row.usage) },
    costUsd: Number(row.cost_usd),
    latency: json(row.latency),
    requiredAction: json(row.required_action),
    cancelRequested: Number(row.cancel_requested) === 1,
    metadata: json(row.metadata),
    createdAt: Number(row.created_at),
    startedAt: num(row.started_at),
    completedAt: num(row.completed_at),
    updatedAt: Number(row.updated_at),
    apiKeyId: row.api_key_id,
    parentRunId: row.parent_run_id,
    parentSpanId: row.parent_span_id,
    workflowId: row.workflow_id,
    workflowVersion: num(row.workflow_version),
  };
}

export function runRow(run: Run): Database['runs'] {
  return {
    id: run.id,
    workspace_id: run.scope.workspaceId,
    livemode: mode(run.scope.livemode),
    agent_id: run.agentId,
    agent_version: run.agentVersion,
    thread_id: run.threadId,
    status: run.status,
    mode: run.mode,
    input: jsonText(run.input),
    state: JSON.stringify(run.state),
    output: run.output,
    error_code: run.errorCode,
    error_message: run.errorMessage,
    model: run.model,
    routing: run.routing === null ? null : JSON.stringify(run.routing),
    usage: JSON.stringify(run.usage),
    cost_usd: run.costUsd,
    latency: JSON.stringify(run.latency),
    required_action: run.requiredAction === null ? null : JSON.stringify(run.requiredAction),
    cancel_requested: run.cancelRequested ? 1 : 0,
    metadata: JSON.stringify(run.metadata),
    created_at: run.createdAt,
    started_at: run.startedAt,
    completed_at: run.completedAt,
    updated_at: run.updatedAt,
    api_key_id: run.apiKeyId,
    parent_run_id: run.parentRunId,
    parent_span_id: run.parentSpanId,
    workflow_id: run.workflowId,
    workflow_version: run.workflowVersion,
  };
}

export const spanRow = (span: Span): Database['spans'] => ({
  id: span.id, run_id: span.runId, parent_id: span.parentId, kind: span.kind, name: span.name, status: span.status,
  attributes: JSON.stringify(span.attributes), started_at: span.startedAt, ended_at: span.endedAt,
});

/** The span table's columns, in the order spanRow lists them. */
export const SPAN_COLUMNS = ['id', 'run_id', 'parent_id', 'kind', 'name', 'status', 'attributes', 'started_at', 'ended_at'] as const satisfies ReadonlyArray<keyof Database['spans']>;

export const toSpan = (r: Database['spans']): Span => ({
  id: r.id, runId: r.run_id, parentId: r.parent_id, kind: r.kind as Span['kind'], name: r.name, status: r.status as Span['status'],
  attributes: json<Record<string, unknown>>(r.attributes), startedAt: Number(r.started_at), endedAt: num(r.ended_at),
});

export const eventRow = (e: RunEvent): Database['run_events'] => ({ run_id: e.runId, seq: e.seq, type: e.type, data: JSON.stringify(e.data), created_at: e.createdAt });

/** The event tables' columns. */
export const EVENT_COLUMNS = ['run_id', 'seq', 'type', 'data', 'created_at'] as const satisfies ReadonlyArray<keyof Database['run_events']>;

export const toEvent = (r: Database['run_events']): RunEvent => ({
  runId: r.run_id, seq: Number(r.seq), type: r.type, data: JSON.parse(r.data) as Record<string, unknown>, createdAt: Number(r.created_at),
});
