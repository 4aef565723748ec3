import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
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

/**
 * Exports each finished run's trace over OTLP/HTTP (JSON), as OpenTelemetry spans with the GenAI
 * semantic conventions, so Langfuse, Phoenix or Jaeger show KAIRO's traces. A run is a span (an
 * `invoke_agent` or `invoke_workflow`), and its model calls, tool calls, retrievals, steps and
 * waits are its children. A run started by another run (an agent step, an agent tool) is exported
 * into the trace of the top-level run, under the span that started it, so one tree shows the whole.
 * Spans are built from what was stored (the run has finished) and handed to a batch processor:
 * export never delays a run, and a failure is reported, not thrown.
 */
export class OtlpTraceExporter implements RunListener {
  private readonly processor: BatchSpanProcessor;
  private readonly resource: Resource;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: OtlpOptions) {
    this.processor = new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: options.url, headers: options.headers }), scheduledDelayMillis: 1000, maxQueueSize: 8192 });
    this.resource = resourceFromAttributes({ 'service.name': options.serviceName, 'service.version': options.serviceVersion });
  }

  agentRunFinished(run: Run): void {
    this.schedule(run.scope, run.id);
  }

  workflowRunFinished(run: WorkflowRun): void {
    this.schedule(run.scope, run.id);
  }

  /** Waits for the traces being built and sends every span still buffered. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.processor.shutdown().catch(this.options.onError);
  }

  private schedule(scope: Scope, runId: string): void {
    const work = this.export(scope, runId).catch(this.options.onError);
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private async export(scope: Scope, runId: string): Promise<void> {
    const trace = await this.options.traces.get(scope, runId);
    const traceId = traceIdOf(await this.rootOf(trace));
    const context = (id: string): SpanContext => ({ traceId, spanId: spanIdOf(id), traceFlags: TraceFlags.SAMPLED });
    const runSpan = context(trace.id);
    const threadId = trace.type === 'agent_run' ? (await this.options.store.runs.getById(trace.id))?.threadId ?? null : null;
    this.processor.onEnd(this.span({
      name: trace.type === 'agent_run' ? `invoke_agent ${trace.name ?? trace.agent_id}` : `invoke_workflow ${trace.name ?? trace.workflow_id}`,
      kind: SpanKind.INTERNAL,
      context: runSpan,
      parent: trace.parent_span_id ? context(trace.parent_span_id) : undefined,
      start: trace.created_at,
      end: trace.completed_at ?? trace.created_at,
      error: trace.error?.code ?? null,
      message: trace.error?.message,
      attributes: runAttributes(trace, threadId),
    }));
    for (const span of trace.spans) {
      this.processor.onEnd(this.span({
        ...spanShape(span),
        context: context(span.id),
        parent: span.parent_id ? context(span.parent_id) : runSpan,
        start: span.started_at,
        end: span.ended_at ?? span.started_at,
        error: span.status === 'error' ? String(errorType(span) ?? 'error') : null,
        message: typeof span.attributes.error === 'string' ? span.attributes.error : undefined,
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

  private span(s: { name: string; kind: SpanKind; context: SpanContext; parent: SpanContext | undefined; start: string; end: string; error: string | null; message?: string | undefined; attributes: Attributes }): ReadableSpan {
    const startTime = hrTime(s.start);
    const endTime = hrTime(s.end);
    const attributes = s.error ? { ...s.attributes, 'error.type': s.error } : s.attributes;
    return {
      name: s.name,
      kind: s.kind,
      spanContext: () => s.context,
      ...(s.parent ? { parentSpanContext: s.parent } : {}),
      startTime,
      endTime,
      duration: duration(startTime, endTime),
      status: s.error ? { code: SpanStatusCode.ERROR, ...(s.message ? { message: s.message } : {}) } : { code: SpanStatusCode.OK },
      attributes,
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

/** Attributes of the run's own span. */
function runAttributes(trace: TraceDetail, threadId: string | null): Attributes {
  const common: Attributes = {
    'kairo.run.id': trace.id,
    'kairo.livemode': trace.livemode,
    'kairo.status': trace.status,
    'kairo.cost_usd': trace.cost_usd,
    'kairo.cost_notional': trace.cost_notional,
    'gen_ai.usage.input_tokens': trace.usage.input_tokens,
    'gen_ai.usage.output_tokens': trace.usage.output_tokens,
    ...(trace.workflow_id ? { 'kairo.workflow.id': trace.workflow_id, 'kairo.workflow.version': trace.workflow_version ?? 0 } : {}),
    ...(trace.api_key_id ? { 'kairo.api_key.id': trace.api_key_id } : {}),
  };
  if (trace.type === 'workflow_run') return { ...common, 'gen_ai.operation.name': 'invoke_workflow', ...(trace.name ? { 'kairo.workflow.name': trace.name } : {}) };
  const routing = trace.routing as { model?: string } | null;
  return {
    ...common,
    'gen_ai.operation.name': 'invoke_agent',
    'gen_ai.agent.id': trace.agent_id!,
    ...(trace.name ? { 'gen_ai.agent.name': trace.name } : {}),
    'kairo.agent.version': trace.agent_version ?? 0,
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
          'gen_ai.response.finish_reasons': text(a.finish_reason) ? [text(a.finish_reason)!] : undefined,
          'kairo.usage.cached_input_tokens': number(a.cached_input_tokens),
          'kairo.usage.reasoning_tokens': number(a.reasoning_tokens),
          'kairo.cost_usd': number(a.cost_usd),
          'kairo.cost_notional': typeof a.cost_notional === 'boolean' ? a.cost_notional : undefined,
          'kairo.time_to_first_token_ms': number(a.time_to_first_token_ms),
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
          'kairo.retrieval.chunks': number(a.chunks),
          'kairo.retrieval.tokens': number(a.tokens),
          'kairo.retrieval.sources': Array.isArray(a.sources) ? (a.sources as string[]) : undefined,
        }),
      };
    case 'step':
      return {
        name: `step ${span.name}`,
        kind: SpanKind.INTERNAL,
        attributes: defined({
          'kairo.step.key': span.name,
          'kairo.step.id': text(a.step_id),
          'kairo.step.type': text(a.step_type),
          'kairo.step.status': text(a.step_status),
          'kairo.step.attempts': number(a.attempts),
          'kairo.cost_usd': number(a.cost_usd),
        }),
      };
    default:
      return { name: span.name === 'queue' ? 'queue wait' : span.name, kind: SpanKind.INTERNAL, attributes: { 'kairo.span.type': span.type } };
  }
}

/** A failed span's error type: the step's error code, or the model call's retryability. */
function errorType(span: TraceSpan): string | undefined {
  const a = span.attributes as { error?: unknown; retryable?: unknown };
  if (a.error && typeof a.error === 'object' && 'code' in a.error) return String((a.error as { code: unknown }).code);
  if (span.type === 'model_call') return a.retryable ? 'retryable_provider_error' : 'provider_error';
  return undefined;
}
