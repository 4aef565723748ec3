import { KairoError } from '../errors.js';
import { derivedId, isId } from '../ids.js';
import type { Page, PageRequest, Run, Scope, Span, Store, WorkflowRun, WorkflowStepState } from '../store/port.js';
import { isNotional } from '../models/pricing.js';
import { stepSpanId } from '../runs/spans.js';
import { allSteps, childSequences, type Step, type WorkflowDefinition } from '../workflows/definition.js';

export type TraceType = 'agent_run' | 'workflow_run';

/** What the traces list can be narrowed to. */
export interface TraceFilter {
  type?: TraceType;
  agentId?: string;
  workflowId?: string;
  apiKeyId?: string;
  status?: string;
  model?: string;
  minLatencyMs?: number;
  minCostUsd?: number;
  /** Created in [from, to). */
  from?: number;
  to?: number;
}

/** One trace as lists show it: an agent run or a workflow run, with its totals. */
export interface TraceSummary {
  object: 'trace';
  id: string;
  type: TraceType;
  livemode: boolean;
  status: string;
  agent_id: string | null;
  agent_version: number | null;
  workflow_id: string | null;
  workflow_version: number | null;
  parent_trace_id: string | null;
  parent_span_id: string | null;
  api_key_id: string | null;
  model: string | null;
  usage: Run['usage'];
  cost_usd: number;
  cost_notional: boolean;
  latency_ms: Record<string, number>;
  error: { code: string; message: string } | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  duration_ms: number | null;
}

/** A span of a trace's tree (`parent_id` null: a child of the trace itself). */
export interface TraceSpan {
  id: string;
  parent_id: string | null;
  type: Span['kind'] | 'step';
  name: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  duration_ms: number | null;
  attributes: Record<string, unknown>;
  /** Traces started from this span: an agent tool's run, an agent step's runs, a called workflow's run. */
  child_trace_ids: string[];
}

export interface TraceDetail extends TraceSummary {
  name: string | null;
  routing: Record<string, unknown> | null;
  spans: TraceSpan[];
  children: TraceSummary[];
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));
const suffixOf = (id: string): string => id.slice(id.indexOf('_') + 1);

function agentSummary(run: Run): TraceSummary {
  return {
    object: 'trace', id: run.id, type: 'agent_run', livemode: run.scope.livemode, status: run.status, agent_id: run.agentId,
    agent_version: run.agentVersion, workflow_id: run.workflowId, workflow_version: run.workflowVersion, parent_trace_id: run.parentRunId,
    parent_span_id: run.parentSpanId, api_key_id: run.apiKeyId, model: run.model, usage: run.usage, cost_usd: run.costUsd,
    cost_notional: isNotional(run.scope.livemode), latency_ms: run.latency,
    error: run.errorCode ? { code: run.errorCode, message: run.errorMessage ?? '' } : null, created_at: iso(run.createdAt),
    started_at: isoOrNull(run.startedAt), completed_at: isoOrNull(run.completedAt),
    duration_ms: run.completedAt === null ? null : run.completedAt - run.createdAt,
  };
}

function workflowSummary(run: WorkflowRun): TraceSummary {
  const { slot_wait_since: _, ...latency } = run.latency;
  return {
    object: 'trace', id: run.id, type: 'workflow_run', livemode: run.scope.livemode, status: run.status, agent_id: null, agent_version: null,
    workflow_id: run.workflowId, workflow_version: run.workflowVersion, parent_trace_id: run.parentRunId,
    parent_span_id: run.parentRunId && run.parentStepKey ? stepSpanId(run.parentRunId, run.parentStepKey) : null, api_key_id: run.apiKeyId,
    model: null, usage: run.usage, cost_usd: run.costUsd, cost_notional: isNotional(run.scope.livemode), latency_ms: latency,
    error: run.errorCode ? { code: run.errorCode, message: run.errorMessage ?? '' } : null, created_at: iso(run.createdAt),
    started_at: isoOrNull(run.startedAt), completed_at: isoOrNull(run.completedAt),
    duration_ms: run.completedAt === null ? null : run.completedAt - run.createdAt,
  };
}

/**
 * Traces: every agent run and workflow run is one, listed newest first from both kinds of run,
 * and read as a tree of spans — the queue wait, slot waits, retrievals, model calls, tool calls
 * and workflow steps — with links to the traces each started.
 */
export class TraceService {
  constructor(private readonly store: Store) {}

  async list(scope: Scope, filter: TraceFilter, page: PageRequest): Promise<Page<TraceSummary>> {
    if (filter.from !== undefined && filter.to !== undefined && filter.to <= filter.from) {
      throw new KairoError('parameter_invalid', { param: 'end', message: 'end must be after start.' });
    }
    // Ids of both kinds sort by creation time after their prefix: a cursor of one kind bounds the other too.
    const cursor = (prefix: 'run' | 'wfrun'): PageRequest => ({
      limit: page.limit,
      ...(page.after !== undefined ? { after: `${prefix}_${suffixOf(page.after)}` } : {}),
      ...(page.before !== undefined ? { before: `${prefix}_${suffixOf(page.before)}` } : {}),
    });
    const created = { ...(filter.from !== undefined ? { createdFrom: filter.from } : {}), ...(filter.to !== undefined ? { createdTo: filter.to } : {}) };
    const common = {
      ...created,
      ...(filter.apiKeyId !== undefined ? { apiKeyId: filter.apiKeyId } : {}),
      ...(filter.minLatencyMs !== undefined ? { minLatencyMs: filter.minLatencyMs } : {}),
      ...(filter.minCostUsd !== undefined ? { minCostUsd: filter.minCostUsd } : {}),
      ...(filter.workflowId !== undefined ? { workflowId: filter.workflowId } : {}),
    };
    const wantAgents = filter.type !== 'workflow_run';
    const wantWorkflows = filter.type !== 'agent_run' && filter.agentId === undefined && filter.model === undefined;
    const [agents, workflows] = await Promise.all([
      wantAgents
        ? this.store.runs.list(scope, {
          ...common, ...(filter.agentId !== undefined ? { agentId: filter.agentId } : {}), ...(filter.model !== undefined ? { model: filter.model } : {}),
          ...(filter.status !== undefined ? { status: filter.status as Run['status'] } : {}),
        }, cursor('run'))
        : { data: [], hasMore: false },
      wantWorkflows
        ? this.store.workflowRuns.list(scope, { ...common, ...(filter.status !== undefined ? { status: filter.status as WorkflowRun['status'] } : {}) }, cursor('wfrun'))
        : { data: [], hasMore: false },
    ]);
    const all = [...agents.data.map(agentSummary), ...workflows.data.map(workflowSummary)];
    // Walking to newer traces keeps the oldest of them; otherwise the newest.
    const newer = page.before !== undefined;
    all.sort((a, b) => (suffixOf(a.id) < suffixOf(b.id) ? 1 : -1) * (newer ? -1 : 1));
    const data = all.slice(0, page.limit);
    if (newer) data.reverse();
    return { data, hasMore: agents.hasMore || workflows.hasMore || all.length > page.limit };
  }

  async get(scope: Scope, id: string): Promise<TraceDetail> {
    if (isId('run', id)) {
      const run = await this.store.runs.get(scope, id);
      if (run) return this.agentTrace(run);
    } else if (isId('wfrun', id)) {
      const run = await this.store.workflowRuns.get(scope, id);
      if (run) return this.workflowTrace(run);
    }
    throw new KairoError('resource_missing', { param: 'id', message: `No such trace: '${id}'.` });
  }

  private async agentTrace(run: Run): Promise<TraceDetail> {
    const [agent, stored, childRuns, childWorkflows] = await Promise.all([
      this.store.agents.get(run.scope, run.agentId), this.store.spans.forRun(run.id), this.store.runs.children(run.id), this.store.workflowRuns.children(run.id),
    ]);
    const children = [...childRuns.map(agentSummary), ...childWorkflows.map(workflowSummary)];
    const spans = [...queueWait(run.id, run.createdAt, run.latency.queue_ms, run.startedAt), ...stored.map(spanView)];
    return { ...agentSummary(run), name: agent?.name ?? null, routing: run.routing, spans: linkChildren(spans, children), children };
  }

  private async workflowTrace(run: WorkflowRun): Promise<TraceDetail> {
    const [version, stored, steps, childRuns, childWorkflows] = await Promise.all([
      this.store.workflows.getVersion(run.workflowId, run.workflowVersion), this.store.spans.forRun(run.id), this.store.workflowRuns.steps(run.id),
      this.store.runs.children(run.id), this.store.workflowRuns.children(run.id),
    ]);
    const definition = version?.definition as unknown as WorkflowDefinition | undefined;
    const children = [...childRuns.map(agentSummary), ...childWorkflows.map(workflowSummary)];
    const parents = definition ? declaredParents(definition.steps) : new Map<string, Step>();
    const spans = [
      ...queueWait(run.id, run.createdAt, run.latency.queue_ms, run.startedAt),
      ...stored.map(spanView),
      ...steps.filter((s) => s.startedAt !== null).map((s) => stepSpan(run.id, s, parents)),
    ].sort((a, b) => (a.started_at < b.started_at ? -1 : a.started_at > b.started_at ? 1 : 0));
    return { ...workflowSummary(run), name: definition?.name ?? null, routing: null, spans: linkChildren(spans, children), children };
  }
}

/** The wait from creation until the run first started (without any slot wait, a span of its own). */
function queueWait(runId: string, createdAt: number, queueMs: number | undefined, startedAt: number | null): TraceSpan[] {
  if (startedAt === null) return [];
  const ms = queueMs ?? startedAt - createdAt;
  return [{
    id: derivedId('span', `${runId}/queue`), parent_id: null, type: 'queue_wait', name: 'queue', status: 'ok', started_at: iso(createdAt),
    ended_at: iso(createdAt + ms), duration_ms: ms, attributes: {}, child_trace_ids: [],
  }];
}

function spanView(span: Span): TraceSpan {
  return {
    id: span.id, parent_id: span.parentId, type: span.kind, name: span.name, status: span.status, started_at: iso(span.startedAt),
    ended_at: isoOrNull(span.endedAt), duration_ms: span.endedAt === null ? null : span.endedAt - span.startedAt, attributes: span.attributes,
    child_trace_ids: [],
  };
}

const STEP_STATUS: Record<string, string> = { succeeded: 'ok', failed: 'error', skipped: 'skipped' };

/** A workflow step's span, read from its stored state; nested steps hang under the step that holds them. */
function stepSpan(runId: string, step: WorkflowStepState, parents: Map<string, Step>): TraceSpan {
  const prefix = step.key.slice(0, step.key.length - step.stepId.length);
  const parent = parents.get(step.stepId);
  // Inside a map's iteration (`each[2].fetch`) the map step is the prefix without its index;
  // inside a branch or parallel step, that step in the same iteration.
  const parentKey = parent === undefined ? null : parent.type === 'map' ? prefix.replace(/\[\d+\]\.$/, '') : `${prefix}${parent.id}`;
  const notes = step.state as { agent_run_ids?: string[]; child_run_id?: string; usage?: unknown; cost_usd?: number };
  return {
    id: stepSpanId(runId, step.key), parent_id: parentKey === null ? null : stepSpanId(runId, parentKey), type: 'step', name: step.key,
    status: STEP_STATUS[step.status] ?? 'running', started_at: iso(step.startedAt!), ended_at: isoOrNull(step.completedAt),
    duration_ms: step.completedAt === null ? null : step.completedAt - step.startedAt!,
    attributes: {
      step_id: step.stepId, step_type: step.type, step_status: step.status, attempts: step.attempts,
      ...(step.errorCode ? { error: { code: step.errorCode, message: step.errorMessage ?? '' } } : {}),
      ...(notes.usage ? { usage: notes.usage, cost_usd: notes.cost_usd ?? 0 } : {}),
    },
    child_trace_ids: [],
  };
}

/** Each step id's enclosing step in the definition. */
function declaredParents(steps: Step[]): Map<string, Step> {
  const parents = new Map<string, Step>();
  for (const step of allSteps(steps)) {
    for (const sequence of childSequences(step)) for (const child of sequence) parents.set(child.id, step);
  }
  return parents;
}

/** Adds to each span the traces that name it as their parent span. */
function linkChildren(spans: TraceSpan[], children: TraceSummary[]): TraceSpan[] {
  const byId = new Map(spans.map((s) => [s.id, s]));
  for (const child of children) if (child.parent_span_id) byId.get(child.parent_span_id)?.child_trace_ids.push(child.id);
  return spans;
}
