import { APICallError, generateText, jsonSchema, streamText, tool, type LanguageModelUsage, type ModelMessage, type ToolChoice, type ToolSet } from 'ai';
import { KairoError } from '../errors.js';
import { countTokens } from '../context/tokens.js';
import type { ModelCatalogue, ModelRouter } from '../models/ports.js';
import { callCost } from '../models/pricing.js';
import { providerOf } from '../models/provider-of.js';
import { NoModelAvailableError } from '../models/router.js';
import type { ModelCall } from '../runs/observer.js';
import { lastUserText } from '../models/task-classifier.js';

/** A function the caller's model may call; the caller runs it and sends the result back. */
export interface FunctionTool {
  name: string;
  description?: string;
  parameters?: object;
}

/** Sampling settings a request may set (each absent: the provider's default). */
export interface SamplingOptions {
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
}

/** One completion asked of a catalogue model, or of the model `"auto"` routes to. */
export interface CompletionRequest {
  livemode: boolean;
  /** `auto` or a catalogue model id. */
  model: string;
  messages: ModelMessage[];
  tools: FunctionTool[];
  toolChoice?: ToolChoice<ToolSet>;
  sampling: SamplingOptions;
  signal?: AbortSignal;
  /** Told of each model call as it ends (a failed one before its fallback), for the accounting. */
  onCall?: (call: ModelCall) => void;
}

export interface CompletionUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  reasoningTokens: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface CompletionToolCall {
  id: string;
  name: string;
  /** The arguments as JSON text, as OpenAI's wire format carries them. */
  arguments: string;
}

export interface CompletionResult {
  /** The model that answered. */
  model: string;
  text: string;
  toolCalls: CompletionToolCall[];
  finishReason: FinishReason;
  usage: CompletionUsage;
}

/** What a streamed completion yields: the answering model first, then deltas, then the end. */
export type CompletionPart =
  | { type: 'start'; model: string }
  | { type: 'text'; delta: string }
  | { type: 'tool_call'; call: CompletionToolCall }
  | { type: 'finish'; finishReason: FinishReason; usage: CompletionUsage };

/** Every model tried failed; `retryable`: the provider's verdict on the last failure. */
export class ModelCallFailed extends Error {
  constructor(message: string, readonly model: string, readonly retryable: boolean) {
    super(message);
    this.name = 'ModelCallFailed';
  }
}

const usageOf = (usage: LanguageModelUsage | undefined): CompletionUsage => ({
  inputTokens: usage?.inputTokens ?? 0,
  outputTokens: usage?.outputTokens ?? 0,
  cachedInputTokens: usage?.inputTokenDetails?.cacheReadTokens ?? usage?.cachedInputTokens ?? 0,
  reasoningTokens: usage?.outputTokenDetails?.reasoningTokens ?? usage?.reasoningTokens ?? 0,
});

function finishReasonOf(reason: string, toolCalls: number): FinishReason {
  if (toolCalls > 0 || reason === 'tool-calls') return 'tool_calls';
  if (reason === 'length') return 'length';
  if (reason === 'content-filter') return 'content_filter';
  return 'stop';
}

/**
 * Completions of a catalogue model or of `"auto"` (the router's pick, then its fallbacks in
 * order on a retryable provider error), without an agent: nothing is stored here (each call is
 * told to the request's `onCall`, which OpenAiCompat records). Test mode
 * (`livemode: false`) runs on the simulator, live mode calls the provider. Unknown models, and
 * in live mode models whose provider is not configured, are refused as `resource_missing` on
 * `model`.
 */
export class ModelCompletions {
  constructor(private readonly deps: { catalogue: ModelCatalogue; router: ModelRouter; now?: () => number }) {}

  private get now() {
    return this.deps.now ?? Date.now;
  }

  /** Whether `model` names something this class completes (`auto` or a catalogue model). */
  serves(model: string): boolean {
    return model === 'auto' || this.deps.catalogue.get(model) !== undefined;
  }

  /** The models to try, best first. */
  candidates(request: CompletionRequest): string[] {
    if (request.model !== 'auto') {
      const info = this.deps.catalogue.get(request.model);
      if (!info) throw new KairoError('resource_missing', { message: `The model '${request.model}' does not exist: GET /v1/models lists the models, or name an agent.`, param: 'model' });
      if (request.livemode && !info.available) {
        throw new KairoError('resource_missing', { message: `The model '${request.model}' is not available: its provider ${info.provider} is not configured on this server.`, param: 'model' });
      }
      return [info.id];
    }
    const promptTokens = request.messages.reduce((sum, m) => sum + countTokens(JSON.stringify(m.content)), 0) + request.tools.length * 50;
    try {
      return this.deps.router.route({
        livemode: request.livemode, promptTokens, needsTools: request.tools.length > 0, text: lastUserText(request.messages), optimize: 'balanced',
      }).candidates;
    } catch (error) {
      if (error instanceof NoModelAvailableError) throw new KairoError('resource_missing', { message: error.message, param: 'model' });
      throw error;
    }
  }

  private call(request: CompletionRequest, model: string) {
    const tools: ToolSet = Object.fromEntries(request.tools.map((t) => [
      t.name, tool({ description: t.description, inputSchema: jsonSchema((t.parameters ?? { type: 'object', properties: {} }) as any) }),
    ]));
    const s = request.sampling;
    return {
      model: this.deps.catalogue.languageModel(model, request.livemode),
      messages: request.messages,
      // The caller's own system messages, as OpenAI's APIs take them.
      allowSystemInMessages: true,
      ...(request.tools.length > 0 ? { tools, ...(request.toolChoice ? { toolChoice: request.toolChoice } : {}) } : {}),
      maxRetries: 0,
      ...(request.signal ? { abortSignal: request.signal } : {}),
      ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
      ...(s.topP !== undefined ? { topP: s.topP } : {}),
      ...(s.maxOutputTokens !== undefined ? { maxOutputTokens: s.maxOutputTokens } : {}),
      ...(s.stopSequences !== undefined ? { stopSequences: s.stopSequences } : {}),
      ...(s.seed !== undefined ? { seed: s.seed } : {}),
      ...(s.presencePenalty !== undefined ? { presencePenalty: s.presencePenalty } : {}),
      ...(s.frequencyPenalty !== undefined ? { frequencyPenalty: s.frequencyPenalty } : {}),
    };
  }

  /** Tells the router and the request's accounting how a call ended. */
  private ended(request: CompletionRequest, attempt: number, model: string, started: number, firstTokenAt: number | undefined, outcome: { usage: CompletionUsage } | { retryable: boolean; fellBack: boolean }): void {
    const ended = this.now();
    const ok = 'usage' in outcome;
    this.deps.router.recordOutcome(model, ok ? { ok, latencyMs: ended - started } : { ok, latencyMs: ended - started, retryable: outcome.retryable });
    const usage = ok ? outcome.usage : { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0 };
    request.onCall?.({
      model, provider: providerOf(this.deps.catalogue, model), ok, startedAt: started, endedAt: ended,
      timeToFirstTokenMs: firstTokenAt === undefined ? null : firstTokenAt - started, ...usage,
      costUsd: ok ? callCost(this.deps.catalogue, model, usage, request.livemode) : 0,
      autoChosen: request.model === 'auto' && attempt === 0, fellBack: !ok && outcome.fellBack,
    });
  }

  /** Records a failed call; returns when the next candidate should be tried, else throws ModelCallFailed. */
  private failed(request: CompletionRequest, attempt: number, model: string, started: number, firstTokenAt: number | undefined, failure: unknown, last: boolean): void {
    const retryable = APICallError.isInstance(failure) ? failure.isRetryable : false;
    const fellBack = retryable && !last;
    this.ended(request, attempt, model, started, firstTokenAt, { retryable, fellBack });
    if (fellBack) return;
    throw new ModelCallFailed(`The model ${model} failed: ${(failure instanceof Error ? failure.message : String(failure)).slice(0, 300)}`, model, retryable);
  }

  /** One completion, waiting for the whole answer. */
  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const candidates = this.candidates(request);
    for (const [attempt, model] of candidates.entries()) {
      const started = this.now();
      try {
        const result = await generateText(this.call(request, model));
        const usage = usageOf(result.usage);
        this.ended(request, attempt, model, started, this.now(), { usage });
        const toolCalls = result.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, arguments: JSON.stringify(c.input ?? {}) }));
        return { model, text: result.text, toolCalls, finishReason: finishReasonOf(result.finishReason, toolCalls.length), usage };
      } catch (error) {
        request.signal?.throwIfAborted();
        this.failed(request, attempt, model, started, undefined, error, attempt === candidates.length - 1);
      }
    }
    throw new Error('No model to call.');
  }

  /**
   * One completion as it is written. A candidate that fails before its first delta gives way to
   * the next (on a retryable error); once deltas have been yielded, a failure ends the stream
   * with ModelCallFailed.
   */
  async *stream(request: CompletionRequest): AsyncGenerator<CompletionPart> {
    const candidates = this.candidates(request);
    for (const [attempt, model] of candidates.entries()) {
      const started = this.now();
      let yielded = false;
      let firstTokenAt: number | undefined;
      let failure: unknown;
      let finish: { reason: string; usage: LanguageModelUsage } | undefined;
      let toolCalls = 0;
      try {
        const result = streamText({ ...this.call(request, model), onError: () => {} });
        for await (const part of result.fullStream) {
          if (part.type === 'text-delta' && part.text) {
            firstTokenAt ??= this.now();
            if (!yielded) yield { type: 'start', model };
            yielded = true;
            yield { type: 'text', delta: part.text };
          } else if (part.type === 'tool-call') {
            firstTokenAt ??= this.now();
            if (!yielded) yield { type: 'start', model };
            yielded = true;
            toolCalls += 1;
            yield { type: 'tool_call', call: { id: part.toolCallId, name: part.toolName, arguments: JSON.stringify(part.input ?? {}) } };
          } else if (part.type === 'finish') {
            finish = { reason: part.finishReason, usage: part.totalUsage };
          } else if (part.type === 'error') {
            failure = part.error;
          }
        }
      } catch (error) {
        failure = error;
      }
      request.signal?.throwIfAborted();
      if (failure === undefined) {
        const usage = usageOf(finish?.usage);
        this.ended(request, attempt, model, started, firstTokenAt, { usage });
        if (!yielded) yield { type: 'start', model };
        yield { type: 'finish', finishReason: finishReasonOf(finish?.reason ?? 'stop', toolCalls), usage };
        return;
      }
      // Text already sent cannot be taken back: only a failure before the first delta falls back.
      this.failed(request, attempt, model, started, firstTokenAt, failure, yielded || attempt === candidates.length - 1);
    }
  }
}
