import { APICallError, generateText, jsonSchema, streamText, tool, type LanguageModelUsage, type ModelMessage, type ToolSet } from 'ai';
import { providerOf } from '../../models/provider-of.js';
import type { Run, Store } from '../../store/port.js';
import type { ModelCatalogue, ModelRouter } from '../../models/ports.js';
import { callCost, isNotional } from '../../models/pricing.js';
import type { RunEventLog } from '../../runs/event-log.js';
import type { ModelCallRecord, RunObserver } from '../../runs/observer.js';
import type { SpanWriter } from '../../runs/spans.js';
import type { AgentConfig } from '../agent-config.js';
import type { ToolSpec } from '../tools/ports.js';

/** What one model call asked for (text so far and tool calls), and which model answered. */
export interface ModelStepResult {
  model: string;
  text: string;
  toolCalls: Array<{ id: string; name: string; arguments: unknown }>;
  /** The answering call, not written yet: the caller writes it with what comes next (see ModelStep). */
  record: ModelCallRecord;
}

/** The step's last call failed; its record is not written yet. `retryable`: the provider's verdict on the failure. */
export class ModelStepFailed extends Error {
  constructor(readonly failure: unknown, readonly record: ModelCallRecord, readonly retryable: boolean) {
    super(failure instanceof Error ? failure.message : String(failure));
  }
}

/** The conversation a model step sends. */
export interface ModelStepInput {
  system: string;
  messages: ModelMessage[];
  /** The step's number in the run (1 for the first call). */
  step: number;
}

interface CallTokens {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
}

const tokensOf = (usage: LanguageModelUsage): CallTokens => ({
  inputTokens: usage.inputTokens ?? 0,
  cachedInputTokens: usage.inputTokenDetails?.cacheReadTokens ?? usage.cachedInputTokens ?? 0,
  outputTokens: usage.outputTokens ?? 0,
  reasoningTokens: usage.outputTokenDetails?.reasoningTokens ?? usage.reasoningTokens ?? 0,
});

/**
 * One model step of an agent run: calls the first candidate model and, on a retryable provider
 * error, the next. Every call is a span with its tokens, cost and timings, written together with
 * what the observer keeps of it (rollups) in one transaction; the run's usage, cost and latency
 * grow by each successful call. A call that falls back is written at once; the step's last call is
 * handed back unwritten, so that the engine writes it in the transaction that follows it at once
 * (the run's end), or at once itself when tools run next.
 */
export class ModelStep {
  constructor(
    private readonly deps: {
      store: Store;
      catalogue: ModelCatalogue;
      router: ModelRouter;
      events: RunEventLog;
      spans: SpanWriter;
      observer: RunObserver;
      now: () => number;
    },
  ) {}

  async call(
    run: Run, config: AgentConfig, input: ModelStepInput, specs: ToolSpec[], candidates: string[], signal: AbortSignal,
    fallbacks: Array<{ model: string; error: string }>,
  ): Promise<ModelStepResult> {
    const toolSet: ToolSet = Object.fromEntries(
      specs.map((s) => [s.name, tool({ description: s.description, inputSchema: jsonSchema(s.parameters as any) })]),
    );
    const auto = config.model === 'auto';
    for (const [attempt, model] of candidates.entries()) {
      // A run that fails names the model it failed on.
      run.model = model;
      const started = this.deps.now();
      const span = this.deps.spans.start(run.id, 'model_call', model, { startedAt: started });
      let firstTokenAt: number | undefined;
      let text = '';
      const toolCalls: ModelStepResult['toolCalls'] = [];
      let tokens: CallTokens = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 };
      let finishReason: string | null = null;
      let failure: unknown;
      try {
        const call = {
          model: this.deps.catalogue.languageModel(model, run.scope.livemode),
          system: input.system || undefined,
          messages: input.messages,
          // A run started through the OpenAI-compatible API carries its caller's system messages in its input.
          allowSystemInMessages: true,
          tools: toolSet,
          maxRetries: 0,
          abortSignal: signal,
          ...(config.settings.temperature !== null ? { temperature: config.settings.temperature } : {}),
          ...(config.settings.max_output_tokens !== null ? { maxOutputTokens: config.settings.max_output_tokens } : {}),
        };
        if (run.mode !== 'stream') {
          // Nobody watches a wait or background run token by token: one non-streaming call is
          // several times cheaper, and its text is logged as one delta.
          const result = await generateText(call);
          firstTokenAt = this.deps.now();
          text = result.text;
          if (text) await this.deps.events.appendBuffered(run.id, 'run.output_text.delta', { delta: text, step: input.step });
          for (const c of result.toolCalls) toolCalls.push({ id: c.toolCallId, name: c.toolName, arguments: c.input });
          tokens = tokensOf(result.usage);
          finishReason = result.finishReason;
        } else {
          // Errors arrive as stream parts and are handled below (fallback or failure), not logged.
          const result = streamText({ ...call, onError: () => {} });
          for await (const part of result.fullStream) {
            if (part.type === 'text-delta') {
              firstTokenAt ??= this.deps.now();
              text += part.text;
              await this.deps.events.append(run.id, 'run.output_text.delta', { delta: part.text, step: input.step });
            } else if (part.type === 'tool-call') {
              firstTokenAt ??= this.deps.now();
              toolCalls.push({ id: part.toolCallId, name: part.toolName, arguments: part.input });
            } else if (part.type === 'finish-step') {
              tokens = tokensOf(part.usage);
              finishReason = part.finishReason;
            } else if (part.type === 'error') {
              failure = part.error;
            }
          }
        }
      } catch (error) {
        failure = error;
      }
      // A wait or background run's buffered text is written with what follows: the run's end
      // (in its transaction) or its next event.
      // An aborted stream ends quietly: treat it as the abort it is.
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
      const ended = this.deps.now();
      const provider = providerOf(this.deps.catalogue, model);
      const autoChosen = auto && input.step === 1 && attempt === 0;
      const ttft = firstTokenAt === undefined ? null : firstTokenAt - started;
      if (failure === undefined) {
        this.deps.router.recordOutcome(model, { ok: true, latencyMs: ended - started });
        const cost = callCost(this.deps.catalogue, model, tokens, run.scope.livemode);
        addUsage(run, tokens, cost);
        run.latency = {
          ...run.latency,
          model_ms: (run.latency.model_ms ?? 0) + (ended - started),
          ...(run.latency.time_to_first_token_ms === undefined && ttft !== null ? { time_to_first_token_ms: ttft } : {}),
        };
        const record: ModelCallRecord = {
          span: this.deps.spans.ended(span, 'ok', {
            provider, model, input_tokens: tokens.inputTokens, output_tokens: tokens.outputTokens, cached_input_tokens: tokens.cachedInputTokens,
            reasoning_tokens: tokens.reasoningTokens, cost_usd: cost, cost_notional: isNotional(run.scope.livemode), finish_reason: finishReason,
            time_to_first_token_ms: ttft, tool_calls: toolCalls.length, step: input.step,
          }, ended),
          outcome: { run, model, provider, ok: true, startedAt: started, endedAt: ended, timeToFirstTokenMs: ttft, ...tokens, costUsd: cost, autoChosen, fellBack: false },
        };
        return { model, text, toolCalls, record };
      }
      // The provider boundary: the AI SDK's verdict becomes ours here and nowhere else.
      const retryable = APICallError.isInstance(failure) ? failure.isRetryable : false;
      const message = failure instanceof Error ? failure.message : String(failure);
      this.deps.router.recordOutcome(model, { ok: false, latencyMs: ended - started, retryable });
      const fellBack = retryable && attempt < candidates.length - 1;
      const record: ModelCallRecord = {
        span: this.deps.spans.ended(span, 'error', { provider, model, error: message.slice(0, 500), retryable, step: input.step }, ended),
        outcome: {
          run, model, provider, ok: false, startedAt: started, endedAt: ended, timeToFirstTokenMs: ttft,
          inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, costUsd: 0, autoChosen, fellBack,
        },
      };
      if (!fellBack) throw new ModelStepFailed(failure, record, retryable);
      await this.write([record]);
      fallbacks.push({ model, error: message.slice(0, 300) });
      await this.deps.events.append(run.id, 'run.model_fallback', { model, error: message.slice(0, 300) });
    }
    throw new Error('No model to call.');
  }

  /** Writes calls' spans and what the observer keeps of them, in one transaction (only the observer is told with tracing off). */
  async write(records: ModelCallRecord[]): Promise<void> {
    if (records.length === 0) return;
    // The spans refer to the run: a deferred creation (and the events before them) go first.
    for (const runId of new Set(records.map((r) => r.outcome.run.id))) await this.deps.events.flush(runId);
    const outcomes = records.map((r) => r.outcome);
    if (!this.deps.spans.enabled) {
      await this.deps.observer.modelCalls(undefined, outcomes);
      return;
    }
    await this.deps.store.transaction(async (tx) => {
      await this.deps.spans.write(records.map((r) => r.span), tx);
      await this.deps.observer.modelCalls(tx, outcomes);
    });
  }
}

function addUsage(run: Run, tokens: CallTokens, cost: number): void {
  const u = run.usage;
  run.usage = {
    input_tokens: u.input_tokens + tokens.inputTokens,
    output_tokens: u.output_tokens + tokens.outputTokens,
    cached_input_tokens: u.cached_input_tokens + tokens.cachedInputTokens,
    reasoning_tokens: u.reasoning_tokens + tokens.reasoningTokens,
    total_tokens: u.total_tokens + tokens.inputTokens + tokens.outputTokens,
  };
  run.costUsd += cost;
}
