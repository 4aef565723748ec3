import type { Run } from '../store/port.js';
import type { CompletionResult, CompletionToolCall, CompletionUsage, FinishReason } from './model-completions.js';

/**
 * What a chat completion or a response shows, whether an agent run or a model answered: the id
 * (the run's id for an agent), when, which model, the text, the tool calls the caller must run,
 * why it stopped and the tokens.
 */
export interface Answer {
  id: string;
  createdAt: number;
  model: string;
  text: string;
  toolCalls: CompletionToolCall[];
  finishReason: FinishReason;
  usage: CompletionUsage;
}

/**
 * A run as an answer: its output, and the function calls it waits for when in requires_action.
 * Its `model` is the agent's id (the run's own record says which model the agent used).
 */
export function answerOfRun(run: Run): Answer {
  const pending = (run.requiredAction?.tool_calls ?? []) as Array<{ id: string; type: string; name: string; arguments: unknown }>;
  const toolCalls = run.status === 'requires_action'
    ? pending.filter((c) => c.type === 'function').map((c) => ({ id: c.id, name: c.name, arguments: JSON.stringify(c.arguments ?? {}) }))
    : [];
  return {
    id: run.id,
    createdAt: run.createdAt,
    model: run.agentId,
    text: run.output ?? '',
    toolCalls,
    finishReason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
    usage: {
      inputTokens: run.usage.input_tokens, outputTokens: run.usage.output_tokens,
      cachedInputTokens: run.usage.cached_input_tokens, reasoningTokens: run.usage.reasoning_tokens,
    },
  };
}

export function answerOfCompletion(id: string, createdAt: number, result: CompletionResult): Answer {
  return { id, createdAt, ...result };
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** Chat Completions' `usage`. */
export function chatUsage(usage: CompletionUsage) {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}

const chatToolCalls = (calls: CompletionToolCall[]) =>
  calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));

/** A `chat.completion` object. */
export function chatCompletionView(answer: Answer) {
  return {
    id: answer.id,
    object: 'chat.completion' as const,
    created: seconds(answer.createdAt),
    model: answer.model,
    choices: [{
      index: 0,
      message: {
        role: 'assistant' as const,
        content: answer.toolCalls.length > 0 && answer.text === '' ? null : answer.text,
        refusal: null,
        ...(answer.toolCalls.length > 0 ? { tool_calls: chatToolCalls(answer.toolCalls) } : {}),
      },
      finish_reason: answer.finishReason,
      logprobs: null,
    }],
    usage: chatUsage(answer.usage),
  };
}

/** A `chat.completion.chunk`: a delta of the one choice, or (`choices` empty) the usage at the end. */
export function chatChunkView(
  head: { id: string; createdAt: number; model: string },
  delta: { role?: 'assistant'; content?: string; tool_calls?: Array<{ index: number; id: string; type: 'function'; function: { name: string; arguments: string } }> } | null,
  finishReason: FinishReason | null = null,
  usage?: CompletionUsage,
) {
  return {
    id: head.id,
    object: 'chat.completion.chunk' as const,
    created: seconds(head.createdAt),
    model: head.model,
    choices: delta === null ? [] : [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    ...(usage ? { usage: chatUsage(usage) } : {}),
  };
}

/** Responses' `usage`. */
export function responseUsage(usage: CompletionUsage) {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'cancelled' | 'incomplete';

/** The assistant message item of a response (its id follows from the response's). */
export function messageItem(responseId: string, text: string, status: 'in_progress' | 'completed') {
  return {
    type: 'message' as const,
    id: `msg_${responseId}`,
    status,
    role: 'assistant' as const,
    content: status === 'completed' || text ? [{ type: 'output_text' as const, text, annotations: [] as unknown[] }] : [],
  };
}

export function functionCallItem(call: CompletionToolCall) {
  return { type: 'function_call' as const, id: `fc_${call.id}`, call_id: call.id, name: call.name, arguments: call.arguments, status: 'completed' as const };
}

/** A `response` object; `answer` undefined while nothing is known yet (the response just created). */
export function responseView(
  head: { id: string; createdAt: number; model: string; instructions: string | null; metadata: Record<string, string>; store: boolean },
  status: ResponseStatus,
  answer?: Answer,
  error: { code: string; message: string } | null = null,
) {
  const output = answer
    ? [...(answer.text || answer.toolCalls.length === 0 ? [messageItem(head.id, answer.text, 'completed')] : []), ...answer.toolCalls.map(functionCallItem)]
    : [];
  return {
    id: head.id,
    object: 'response' as const,
    created_at: seconds(head.createdAt),
    status,
    model: answer?.model ?? head.model,
    output,
    output_text: answer?.text ?? '',
    usage: answer ? responseUsage(answer.usage) : null,
    error,
    incomplete_details: null,
    instructions: head.instructions,
    metadata: head.metadata,
    parallel_tool_calls: true,
    tool_choice: 'auto' as const,
    tools: [] as object[],
    temperature: null,
    top_p: null,
    store: head.store,
  };
}
