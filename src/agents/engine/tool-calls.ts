import type { RunEventLog } from '../../runs/event-log.js';
import type { SpanWriter } from '../../runs/spans.js';
import type { Run } from '../../store/port.js';
import type { ToolResult } from '../tools/ports.js';
import type { EngineState, PendingCall, PreparedTools, ToolCall } from './types.js';

/**
 * The tool calls of a run. Server-side tools run here, each a span with its events; their
 * results, errors included, go back to the model as tool results (a failing tool does not fail
 * the run). Function tools and tools that need approval are left for the client.
 */
export class ToolCalls {
  constructor(private readonly deps: { events: RunEventLog; spans: SpanWriter; now: () => number }) {}

  /** Runs the server-side calls of a model step, in order; returns the calls the client must answer. */
  async handle(run: Run, state: EngineState, tools: PreparedTools, calls: ToolCall[], signal: AbortSignal): Promise<PendingCall[]> {
    const pending: PendingCall[] = [];
    for (const call of calls) {
      const definition = tools.definitionOf(call.name);
      if (!definition) {
        await this.addResult(run, state, call, { ok: false, output: { error: `Unknown tool ${call.name}` }, error: 'unknown tool', latencyMs: 0 });
      } else if (definition.requires_approval) {
        pending.push({ ...call, type: 'approval' });
      } else if (definition.type === 'function') {
        pending.push({ ...call, type: 'function' });
      } else {
        await this.run(run, state, tools, call, signal);
      }
    }
    return pending;
  }

  /** Runs one server-side tool call; an error it throws becomes its result, unless the run was aborted. */
  async run(run: Run, state: EngineState, tools: PreparedTools, call: ToolCall, signal: AbortSignal): Promise<void> {
    const started = this.deps.now();
    const span = this.deps.spans.start(run.id, 'tool_call', call.name, { startedAt: started });
    await this.deps.events.append(run.id, 'run.tool_call.started', { tool_call_id: call.id, name: call.name, arguments: call.arguments });
    let result: ToolResult;
    try {
      result = await tools.execute(call.name, call.arguments, { id: call.id, spanId: span.id }, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      result = { ok: false, output: { error: error instanceof Error ? error.message : String(error) }, error: 'tool error', latencyMs: this.deps.now() - started };
    }
    run.latency = { ...run.latency, tools_ms: (run.latency.tools_ms ?? 0) + (this.deps.now() - started) };
    await this.deps.spans.end(span, result.ok ? 'ok' : 'error', {
      tool: call.name, tool_type: tools.definitionOf(call.name)?.type ?? null, tool_call_id: call.id, ok: result.ok, ...(result.error ? { error: result.error } : {}),
    });
    await this.addResult(run, state, call, result);
  }

  /** Adds a tool's result to the conversation and the event log; a denied call reaches the model as a denial, not as output. */
  async addResult(run: Run, state: EngineState, call: Omit<ToolCall, 'arguments'>, result: ToolResult, denial?: { reason?: string }): Promise<void> {
    const output = denial
      ? { type: 'execution-denied' as const, ...(denial.reason !== undefined ? { reason: denial.reason } : {}) }
      : { type: 'json' as const, value: (result.output ?? null) as any };
    state.messages.push({ role: 'tool', content: [{ type: 'tool-result', toolCallId: call.id, toolName: call.name, output }] });
    await this.deps.events.append(run.id, 'run.tool_call.completed', { tool_call_id: call.id, name: call.name, ok: result.ok, output: result.output });
  }
}
