import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3Content,
  LanguageModelV3GenerateResult,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
  LanguageModelV3Usage,
  SharedV3ProviderMetadata,
} from '@ai-sdk/provider';
import { APICallError } from 'ai';
import { planSimulation, SIMULATOR_MODEL_ID, type SimulationPlan } from './simulator-behaviour.js';

export { SIMULATOR_MODEL_ID, MAX_SIMULATED_DELAY_MS } from './simulator-behaviour.js';

/** Where simulated failures say they came from. */
const SIMULATOR_URL = 'kairo://simulator/v1/chat';

/** Characters per streamed tool-input delta. */
const TOOL_INPUT_CHUNK = 16;

/** Options of a simulator instance. */
export interface SimulatorOptions {
  /** Milliseconds before every answer (a `slow <ms>` directive adds to it). Default 0. */
  latencyMs?: number;
  /** Milliseconds between stream parts. Default 0. */
  streamDelayMs?: number;
  /**
   * The catalogue model this instance stands in for (test mode runs every model on the
   * simulator). `fail … for <id or provider>` directives fail only a matching instance, which
   * is how fallbacks are tested. Default `kairo/simulator`.
   */
  servingAs?: string;
}

/**
 * KAIRO's deterministic model: an AI SDK `LanguageModelV3` (provider `kairo`, model
 * `simulator`) whose answers follow documented rules (docs/models.md): it summarises tool
 * results, makes tool calls on `call <tool>` directives or when a tool is named, cites numbered
 * context blocks of the system prompt, fails on `fail [status]` and waits on `slow <ms>`. Token
 * counts are cl100k counts of the prompt and of the output; no cost, no network.
 */
export function createSimulatorModel(options: SimulatorOptions = {}): LanguageModelV3 {
  const latencyMs = Math.max(0, options.latencyMs ?? 0);
  const streamDelayMs = Math.max(0, options.streamDelayMs ?? 0);
  const servingAs = options.servingAs ?? SIMULATOR_MODEL_ID;
  const providerMetadata: SharedV3ProviderMetadata = { kairo: { simulated: true, servingAs } };

  /** Plan, wait, and throw the planned failure, if any. */
  async function prepare(callOptions: LanguageModelV3CallOptions): Promise<SimulationPlan> {
    const signal = callOptions.abortSignal;
    signal?.throwIfAborted();
    const plan = planSimulation(callOptions, servingAs, latencyMs);
    if (plan.delayMs > 0) await sleep(plan.delayMs, signal);
    if (plan.failure) throw simulatedFailure(plan.failure.status, plan.failure.retryable, latencyMs);
    return plan;
  }

  return {
    specificationVersion: 'v3',
    provider: 'kairo',
    modelId: 'simulator',
    supportedUrls: {},

    async doGenerate(callOptions): Promise<LanguageModelV3GenerateResult> {
      const plan = await prepare(callOptions);
      const content: LanguageModelV3Content[] = [];
      if (plan.text !== '') content.push({ type: 'text', text: plan.text });
      for (const call of plan.toolCalls) content.push({ type: 'tool-call', ...call });
      return {
        content,
        finishReason: { unified: plan.finishReason, raw: plan.finishReason },
        usage: usageOf(plan),
        warnings: [],
        providerMetadata,
        response: { id: responseId(plan), modelId: 'simulator' },
      };
    },

    async doStream(callOptions): Promise<LanguageModelV3StreamResult> {
      const plan = await prepare(callOptions);
      const parts = streamParts(plan, providerMetadata);
      const signal = callOptions.abortSignal;
      let next = 0;
      const stream = new ReadableStream<LanguageModelV3StreamPart>({
        async pull(controller) {
          try {
            if (next > 0 && streamDelayMs > 0) await sleep(streamDelayMs, signal);
            signal?.throwIfAborted();
          } catch (error) {
            controller.error(error);
            return;
          }
          const part = parts[next++];
          if (part) controller.enqueue(part);
          if (next >= parts.length) controller.close();
        },
      });
      return { stream };
    },
  };
}

/** stream-start, response metadata, text word by word, each tool call's input in pieces, finish. */
function streamParts(plan: SimulationPlan, providerMetadata: SharedV3ProviderMetadata): LanguageModelV3StreamPart[] {
  const parts: LanguageModelV3StreamPart[] = [
    { type: 'stream-start', warnings: [] },
    { type: 'response-metadata', id: responseId(plan), modelId: 'simulator' },
  ];
  if (plan.text !== '') {
    const id = 'text-1';
    parts.push({ type: 'text-start', id });
    for (const word of plan.text.match(/\s*\S+\s*/g) ?? [plan.text]) parts.push({ type: 'text-delta', id, delta: word });
    parts.push({ type: 'text-end', id });
  }
  for (const call of plan.toolCalls) {
    const id = call.toolCallId;
    parts.push({ type: 'tool-input-start', id, toolName: call.toolName });
    for (let at = 0; at < call.input.length; at += TOOL_INPUT_CHUNK) {
      parts.push({ type: 'tool-input-delta', id, delta: call.input.slice(at, at + TOOL_INPUT_CHUNK) });
    }
    parts.push({ type: 'tool-input-end', id });
    parts.push({ type: 'tool-call', ...call });
  }
  parts.push({
    type: 'finish',
    usage: usageOf(plan),
    finishReason: { unified: plan.finishReason, raw: plan.finishReason },
    providerMetadata,
  });
  return parts;
}

function usageOf(plan: SimulationPlan): LanguageModelV3Usage {
  return {
    inputTokens: { total: plan.inputTokens, noCache: plan.inputTokens, cacheRead: 0, cacheWrite: 0 },
    outputTokens: { total: plan.outputTokens, text: plan.outputTokens, reasoning: 0 },
  };
}

/** A stable id for equal answers, like a provider's response id. */
function responseId(plan: SimulationPlan): string {
  let hash = 0x811c9dc5;
  const text = `${plan.inputTokens}|${plan.text}|${plan.toolCalls.map((call) => `${call.toolName}${call.input}`).join('|')}`;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return `simresp_${(hash >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * The error a real provider call would raise. Retryable failures carry `retry-after-ms` equal to
 * the simulator's latency (0 by default), so the SDK's retries do not wait seconds in tests.
 */
function simulatedFailure(status: number, retryable: boolean, latencyMs: number): APICallError {
  const body = { error: { message: `Simulated failure (HTTP ${status}).`, type: status === 429 ? 'rate_limit_exceeded' : 'simulated_error' } };
  return new APICallError({
    message: `Simulated failure (HTTP ${status}).`,
    url: SIMULATOR_URL,
    requestBodyValues: {},
    statusCode: status,
    responseHeaders: retryable ? { 'retry-after-ms': String(latencyMs) } : {},
    responseBody: JSON.stringify(body),
    isRetryable: retryable,
    data: body,
  });
}

/** Wait `ms`, or reject with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
