import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { idBytes } from '../../ids.js';
import type { Run, Scope, Store, WorkflowRun } from '../../store/port.js';
import type { RunListener } from '../run-listeners.js';
import type { TraceDetail, TraceService, TraceSpan } from '../traces.js';

/** Where and how traces are exported (the standard OTEL_EXPORTER_OTLP_* settings, parsed in config). */
export interface OtlpOptions {
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  url: string;
  headers: Record<string, string>;
  serviceName: string;
  serviceVersion: string;
  traces: TraceService;
  store: Store;
  onError: (error: unknown) => void;
}

/** Runs nest at most a few levels (workflow → agent → sub-agents): more parents than this is a loop. */
const MAX_DEPTH = 16;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
/** A trace id: the 128 bits of the root run's id. */
const traceIdOf = (runId: string): string => hex(idBytes(runId));
/** A span id: the last 64 bits (random, or hashed for derived ids) of a KAIRO id. */
const spanIdOf = (id: string): string => hex(idBytes(id).subarray(8));
const hrTime = (iso: string): HrTime => {
  const ms = Date.parse(iso);
  return [Math.floor(ms / 1000), (ms % 1000) * 1_000_000];
};
const duration = (start: HrTime, end: HrTime): HrTime => {
  let seconds = end[0] - start[0];
  let nanos = end[1] - start[1];
  if (nanos < 0) {
    seconds -= 1;
    nanos += 1_000_000_000;
  }
  return [seconds, nanos];
};

/** What a stored span or run becomes, before times and ids are attached. */
interface SpanDraft {
  name: string;
  kind: SpanKind;
  context: SpanContext;
  parent: SpanContext | undefined;
  start: string;
  end: string;
  /** `ok` and `error` set the status; anything else (skipped, still running) leaves it unset. */
  status: string;
  /** The `error.type` of a failed span. */
  errorType?: string | undefined;
  errorMessage?: string | undefined;
  attributes: Attributes;
}

/**
 * Exports each finished run's trace over OTLP/HTTP (JSON), as OpenTelemetry spans with the GenAI
 * semantic conventions, so Langfuse, Phoenix or Jaeger show KAIRO's traces. A run is a span (an
 * `invoke_agent` or `invoke_workflow`), and its model calls, tool calls, retrievals, steps and
 * waits are its children. A run started by another run (an agent step, an agent tool) is exported
 * into the trace of the top-level run, under the span that started it, so one tree shows the whole.
 * Spans are built from what was stored (the run has finished) and handed to a batch processor:
 * export never delays a run, and a failure is reported to `onError`, never thrown.
 */
export class OtlpTraceExporter implements RunListener {
  private readonly exporter: ReportingExporter;
  private readonly processor: BatchSpanProcessor;
  private readonly resource: Resource;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: OtlpOptions) {
    this.exporter = new ReportingExporter(new OTLPTraceExporter({ url: options.url, headers: options.headers }), options.onError);
    this.processor = new BatchSpanProcessor({ exporter: this.exporter, scheduledDelayMillis: 1000, maxQueueSize: 8192 });
    this.resource = resourceFromAttributes({ 'service.name': options.serviceName, 'service.version': options.serviceVersion });
  }

  agentRunFinished(run: Run): void {
    this.schedule(run.scope, run.id, run.threadId);
  }

  workflowRunFinished(run: WorkflowRun): void {
    this.schedule(run.scope, run.id, null);
  }

  /** Waits for the traces being built and sends every span still buffered. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.processor.shutdown().catch((error: unknown) => {
      // A failed export was reported as it failed; what is left (a flush timeout) is not yet.
      if (!this.exporter.reported(error)) this.options.onError(error);
    });
  }

  private schedule(scope: Scope, runId: string, threadId: string | null): void {
    const work = this.export(scope, runId, threadId).catch(this.options.onError);
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private async export(scope: Scope, runId: string, threadId: string | null): Promise<void> {
    const trace = await this.options.traces.get(scope, runId);
    const traceId = traceIdOf(await this.rootOf(trace));
    const context = (id: string): SpanContext => ({ traceId, spanId: spanIdOf(id), traceFlags: TraceFlags.SAMPLED });
    const runSpan = context(trace.id);
    const ofRun = { 'kairo.run.id': trace.id };
    this.processor.onEnd(this.span({
      name: trace.type === 'agent_run' ? `invoke_agent ${trace.name ?? trace.agent_id}` : `invoke_workflow ${trace.name ?? trace.workflow_id}`,
      kind: SpanKind.INTERNAL,
      context: runSpan,
      // The step or tool call that started this run: the same id the parent's export derives for it.
      parent: trace.parent_span_id ? context(trace.parent_span_id) : undefined,
      start: trace.created_at,
      end: trace.completed_at ?? trace.created_at,
      // A cancelled agent run stores no error code; it did not finish its work all the same.
      status: trace.error || trace.status === 'cancelled' ? 'error' : 'ok',
      errorType: trace.error?.code ?? (trace.status === 'cancelled' ? 'cancelled' : undefined),
      errorMessage: trace.error?.message,
      attributes: runAttributes(trace, scope, threadId),
    }));
    for (const span of trace.spans) {
      const shape = spanShape(span);
      this.processor.onEnd(this.span({
        ...shape,
        attributes: { ...shape.attributes, ...ofRun },
        context: context(span.id),
        parent: span.parent_id ? context(span.parent_id) : runSpan,
        start: span.started_at,
        end: span.ended_at ?? span.started_at,
        status: span.status,
        errorType: span.status === 'error' ? errorType(span) : undefined,
        errorMessage: errorMessage(span),
      }));
    }
  }

  /** The top-level run of the runs that started this one. */
  private async rootOf(trace: TraceDetail): Promise<string> {
    let id = trace.id;
    let parent = trace.parent_trace_id;
    for (let depth = 0; parent && depth < MAX_DEPTH; depth++) {
      id = parent;
      const run = parent.startsWith('wfrun_') ? await this.options.store.workflowRuns.getById(parent) : await this.options.store.runs.getById(parent);
      parent = run?.parentRunId ?? null;
    }
    return id;
  }

  private span(draft: SpanDraft): ReadableSpan {
    const startTime = hrTime(draft.start);
    const endTime = hrTime(draft.end);
    const failed = draft.status === 'error';
    const status: SpanStatus = failed
      ? { code: SpanStatusCode.ERROR, ...(draft.errorMessage ? { message: draft.errorMessage } : {}) }
      : { code: draft.status === 'ok' ? SpanStatusCode.OK : SpanStatusCode.UNSET };
    return {
      name: draft.name,
      kind: draft.kind,
      spanContext: () => draft.context,
      ...(draft.parent ? { parentSpanContext: draft.parent } : {}),
      startTime,
      endTime,
      duration: duration(startTime, endTime),
      status,
      attributes: failed ? { ...draft.attributes, 'error.type': draft.errorType ?? '_OTHER' } : draft.attributes,
      links: [],
      events: [],
      ended: true,
      resource: this.resource,
      instrumentationScope: { name: 'kairo', version: this.options.serviceVersion },
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }
}

/**
 * The OTLP exporter, reporting each batch that fails: the batch processor alone would hand the
 * failure to OpenTelemetry's process-wide error handler, which logs nothing unless configured.
 */
class ReportingExporter implements SpanExporter {
  private readonly failures = new WeakSet<object>();

  constructor(private readonly inner: SpanExporter, private readonly onError: (error: unknown) => void) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) {
        const error = result.error ?? new Error(`OTLP export of ${spans.length} spans failed.`);
        this.failures.add(error);
        this.onError(error);
      }
      done(result);
    });
  }

  /** True when `error` is an export failure already reported. */
  reported(error: unknown): boolean {
    return typeof error === 'object' && error !== null && this.failures.has(error);
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** Attributes of the run's own span. */
function runAttributes(trace: TraceDetail, scope: Scope, threadId: string | null): Attributes {
  const common: Attributes = {
    'kairo.run.id': trace.id,
    'kairo.workspace.id': scope.workspaceId,
    'kairo.livemode': trace.livemode,
    'kairo.status': trace.status,
    'kairo.cost_usd': trace.cost_usd,
    'kairo.cost_notional': trace.cost_notional,
    'gen_ai.usage.input_tokens': trace.usage.input_tokens,
    'gen_ai.usage.output_tokens': trace.usage.output_tokens,
    'gen_ai.usage.cache_read.input_tokens': trace.usage.cached_input_tokens,
    'gen_ai.usage.reasoning.output_tokens': trace.usage.reasoning_tokens,
    ...(trace.workflow_id ? { 'kairo.workflow.id': trace.workflow_id, 'kairo.workflow.version': trace.workflow_version ?? 0 } : {}),
    ...(trace.api_key_id ? { 'kairo.api_key.id': trace.api_key_id } : {}),
    ...(trace.parent_trace_id ? { 'kairo.parent_run.id': trace.parent_trace_id } : {}),
  };
  if (trace.type === 'workflow_run') return { ...common, 'gen_ai.operation.name': 'invoke_workflow', ...(trace.name ? { 'gen_ai.workflow.name': trace.name } : {}) };
  const routing = trace.routing as { model?: string } | null;
  return {
    ...common,
    'gen_ai.operation.name': 'invoke_agent',
    'gen_ai.agent.id': trace.agent_id!,
    ...(trace.name ? { 'gen_ai.agent.name': trace.name } : {}),
    'gen_ai.agent.version': String(trace.agent_version ?? 0),
    ...(threadId ? { 'gen_ai.conversation.id': threadId } : {}),
    ...(routing?.model ? { 'gen_ai.request.model': routing.model } : {}),
    ...(trace.model ? { 'gen_ai.response.model': trace.model } : {}),
  };
}

/** A stored span's OpenTelemetry name, kind and attributes (GenAI conventions where they apply). */
function spanShape(span: TraceSpan): { name: string; kind: SpanKind; attributes: Attributes } {
  const a = span.attributes as Record<string, unknown>;
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  const number = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
  const texts = (value: unknown): string[] | undefined => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined);
  const defined = (attributes: Record<string, string | number | boolean | string[] | undefined>): Attributes =>
    Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined)) as Attributes;
  switch (span.type) {
    case 'model_call':
      return {
        name: `chat ${span.name}`,
        kind: SpanKind.CLIENT,
        attributes: defined({
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': text(a.provider),
          'gen_ai.request.model': span.name,
          'gen_ai.response.model': text(a.model),
          'gen_ai.usage.input_tokens': number(a.input_tokens),
          'gen_ai.usage.output_tokens': number(a.output_tokens),
          'gen_ai.usage.cache_read.input_tokens': number(a.cached_input_tokens),
          'gen_ai.usage.reasoning.output_tokens': number(a.reasoning_tokens),
          'gen_ai.response.finish_reasons': text(a.finish_reason) ? [text(a.finish_reason)!] : undefined,
          'kairo.cost_usd': number(a.cost_usd),
          'kairo.cost_notional': typeof a.cost_notional === 'boolean' ? a.cost_notional : undefined,
          'kairo.time_to_first_token_ms': number(a.time_to_first_token_ms),
          'kairo.model_call.step': number(a.step),
          'kairo.model_call.tool_calls': number(a.tool_calls),
          'kairo.model_call.retryable': typeof a.retryable === 'boolean' ? a.retryable : undefined,
        }),
      };
    case 'tool_call':
      return {
        name: `execute_tool ${span.name}`,
        kind: SpanKind.INTERNAL,
        attributes: defined({
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': span.name,
          'gen_ai.tool.call.id': text(a.tool_call_id),
          'kairo.tool.type': text(a.tool_type),
        }),
      };
    case 'retrieval':
      return {
        name: 'retrieval',
        kind: SpanKind.INTERNAL,
        attributes: defined({
          'gen_ai.operation.name': 'retrieval',
          'kairo.retrieval.sources': texts(a.sources),
          'kairo.retrieval.mode': text(a.mode),
          'kairo.retrieval.chunks': number(a.chunks),
          'kairo.retrieval.tokens': number(a.tokens),
        }),
      };
    case 'step': {
      const usage = a.usage as { input_tokens?: unknown; output_tokens?: unknown } | undefined;
      return {
        name: `step ${span.name}`,
        kind: SpanKind.INTERNAL,
        attributes: defined({
          'kairo.step.key': span.name,
          'kairo.step.id': text(a.step_id),
          'kairo.step.type': text(a.step_type),
          'kairo.step.status': text(a.step_status),
          'kairo.step.attempts': number(a.attempts),
          // Not gen_ai.usage.*: the step's agent runs carry those, and a backend would count them twice.
          'kairo.step.input_tokens': number(usage?.input_tokens),
          'kairo.step.output_tokens': number(usage?.output_tokens),
          'kairo.cost_usd': number(a.cost_usd),
        }),
      };
    }
    default:
      return { name: span.name === 'queue' ? 'queue wait' : span.name, kind: SpanKind.INTERNAL, attributes: { 'kairo.span.type': span.type } };
  }
}

/** A failed span's `error.type`: the step's error code, the model call's retryability, or the tool's failure. */
function errorType(span: TraceSpan): string | undefined {
  const a = span.attributes as { error?: unknown; retryable?: unknown };
  if (a.error && typeof a.error === 'object' && 'code' in a.error) return String((a.error as { code: unknown }).code);
  if (span.type === 'model_call') return a.retryable ? 'retryable_provider_error' : 'provider_error';
  if (span.type === 'tool_call') return 'tool_error';
  return undefined;
}

/** A failed span's message: the error text stored on it (a string, or a step's `{code, message}`). */
function errorMessage(span: TraceSpan): string | undefined {
  const error = (span.attributes as { error?: unknown }).error;
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object' && 'message' in error && typeof error.message === 'string' && error.message) return error.message;
  return undefined;
}
