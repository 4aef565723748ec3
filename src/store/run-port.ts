/** The storage port of runs: agent runs, the event logs of both kinds of run, and their spans. */
import type { Page, PageRequest, Scope } from './platform-port.js';

export type RunStatus = 'queued' | 'running' | 'requires_action' | 'completed' | 'failed' | 'cancelled';

/** Tokens a run (or a workflow run, over its agent steps) used, by kind. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  /** Input tokens read from the provider's prompt cache (part of input_tokens). */
  cached_input_tokens: number;
  /** Output tokens spent on reasoning (part of output_tokens). */
  reasoning_tokens: number;
  total_tokens: number;
}

export const emptyUsage = (): Usage => ({ input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0, total_tokens: 0 });

export interface Run {
  id: string;
  scope: Scope;
  agentId: string;
  agentVersion: number;
  threadId: string | null;
  status: RunStatus;
  mode: 'wait' | 'stream' | 'background';
  input: unknown;
  /** The engine's resumable state: conversation so far, pending tool calls, step count. */
  state: Record<string, unknown>;
  output: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  model: string | null;
  routing: Record<string, unknown> | null;
  usage: Usage;
  costUsd: number;
  latency: Record<string, number>;
  requiredAction: Record<string, unknown> | null;
  cancelRequested: boolean;
  metadata: Record<string, string>;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  updatedAt: number;
  /** The API key whose request started the run (or the run it is part of); null for scheduled work. */
  apiKeyId: string | null;
  /** The run that started this one: an agent run (agent tool) or a workflow run (agent step). */
  parentRunId: string | null;
  /** The span of the parent that started it: the tool call, or the workflow step. */
  parentSpanId: string | null;
  /** The workflow this run is part of, when a workflow step (directly or through agents) started it. */
  workflowId: string | null;
  workflowVersion: number | null;
}

export interface RunEvent {
  runId: string;
  seq: number;
  type: string;
  data: Record<string, unknown>;
  createdAt: number;
}

/**
 * A run's event log: every event a client can see, numbered from 1. Agent runs and workflow runs
 * each keep one, with this same contract.
 */
export interface RunEventRepo {
  /** Appends an event; a sequence number the run already has is refused. */
  appendEvent(event: RunEvent): Promise<void>;
  /** Appends several events (a burst of output deltas) in as few statements as it can. */
  appendEvents(events: RunEvent[]): Promise<void>;
  /** Events with seq > afterSeq, in order. */
  events(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]>;
  /** The last event's sequence number (0 when there is none). */
  lastEventSeq(runId: string): Promise<number>;
  /** Deletes up to `limit` events of runs created before `before`; returns how many. */
  purge(before: number, limit: number): Promise<number>;
}

export type SpanKind = 'model_call' | 'tool_call' | 'retrieval' | 'queue_wait' | 'slot_wait';

/**
 * A timed part of a run's trace. The run itself (agent or workflow run) is the trace's root, so
 * `parentId` null means a child of the run. Workflow steps are read from their stored state.
 */
export interface Span {
  id: string;
  /** The run of either kind (`run_…` or `wfrun_…`) whose trace this is. */
  runId: string;
  parentId: string | null;
  kind: SpanKind;
  name: string;
  status: 'running' | 'ok' | 'error';
  attributes: Record<string, unknown>;
  startedAt: number;
  endedAt: number | null;
}

/** Which runs a list holds (every field narrows it). */
export interface RunFilter {
  agentId?: string;
  workflowId?: string;
  apiKeyId?: string;
  status?: RunStatus;
  model?: string;
  /** Created in [createdFrom, createdTo). */
  createdFrom?: number;
  createdTo?: number;
  /** Finished runs that took at least this long from creation to completion. */
  minLatencyMs?: number;
  minCostUsd?: number;
}

export interface RunRepo {
  create(run: Run): Promise<Run>;
  /** Inserts many finished runs at once (imports, benchmarks); one statement per batch. */
  createMany(runs: Run[]): Promise<void>;
  get(scope: Scope, id: string): Promise<Run | undefined>;
  getById(id: string): Promise<Run | undefined>;
  list(scope: Scope, filter: RunFilter, page: PageRequest): Promise<Page<Run>>;
  /** The runs another run started (agent tools, agent steps), oldest first. */
  children(parentRunId: string): Promise<Run[]>;
  /** Saves the run (not its cancel flag); with `expectStatus`, only if its status is still one of those (never for an empty list). */
  save(run: Run, expectStatus?: RunStatus[]): Promise<boolean>;
  requestCancel(id: string, at: number): Promise<void>;
  /** Records that the run's engine is alive (runs executing in a request touch it every few seconds). */
  touch(id: string, at: number): Promise<void>;
  /** Wait and stream runs, queued or running, not touched since `before`: their process died. */
  listAbandoned(before: number, limit: number): Promise<Run[]>;
}

/** Spans of both kinds of run. */
export interface SpanRepo {
  /** Inserts or replaces a span (a running span is saved again when it ends). */
  save(span: Span): Promise<void>;
  saveMany(spans: Span[]): Promise<void>;
  /** A run's spans, by start time. */
  forRun(runId: string): Promise<Span[]>;
  /** Deletes up to `limit` spans that started before `before`; returns how many. */
  purge(before: number, limit: number): Promise<number>;
}
