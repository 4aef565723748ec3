import type { AssistantModelMessage, ModelMessage, ToolModelMessage } from 'ai';
import { KairoError } from '../errors.js';

/** A text part of an OpenAI message (`text` in Chat Completions, `input_text`/`output_text` in Responses). */
export interface TextPart {
  type: string;
  text?: string;
  refusal?: string;
}

/** A message of a Chat Completions request, as validated by its route schema. */
export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content?: string | TextPart[] | null;
  tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
  name?: string;
}

/** An item of a Responses request's `input`, as validated by its route schema. */
export type ResponseInputItem =
  | { type?: 'message'; role: 'system' | 'developer' | 'user' | 'assistant'; content: string | TextPart[] }
  | { type: 'function_call'; call_id: string; name: string; arguments: string }
  | { type: 'function_call_output'; call_id: string; output: string };

const TEXT_PARTS = new Set(['text', 'input_text', 'output_text']);

/** The text of a message's content; a part that is not text is refused, naming it. */
function textOf(content: string | TextPart[] | null | undefined, param: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return content.map((part, i) => {
    if (TEXT_PARTS.has(part.type) && typeof part.text === 'string') return part.text;
    if (part.type === 'refusal' && typeof part.refusal === 'string') return part.refusal;
    throw new KairoError('parameter_invalid', { message: `Content parts of type '${part.type}' are not supported: send text.`, param: `${param}[${i}].type` });
  }).join('');
}

/** Parses a tool call's JSON arguments; arguments that are not JSON are refused. */
function argumentsOf(text: string, param: string): unknown {
  try {
    return text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new KairoError('parameter_invalid', { message: 'Tool call arguments must be a JSON string.', param });
  }
}

/**
 * Chat Completions messages as the AI SDK's model messages: system and developer messages become
 * system messages, an assistant's tool calls tool-call parts, and a tool message the result of
 * the call it answers (which an earlier assistant message must have made).
 */
export function fromChatMessages(messages: ChatMessage[]): ModelMessage[] {
  const toolNames = new Map<string, string>();
  return messages.map((message, i): ModelMessage => {
    const param = `messages[${i}]`;
    const text = textOf(message.content, `${param}.content`);
    switch (message.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: text };
      case 'user':
        return { role: 'user', content: text };
      case 'assistant': {
        const calls = (message.tool_calls ?? []).map((call, j) => {
          toolNames.set(call.id, call.function.name);
          return { type: 'tool-call' as const, toolCallId: call.id, toolName: call.function.name, input: argumentsOf(call.function.arguments, `${param}.tool_calls[${j}].function.arguments`) };
        });
        if (calls.length === 0) return { role: 'assistant', content: text };
        return { role: 'assistant', content: [...(text ? [{ type: 'text' as const, text }] : []), ...calls] } satisfies AssistantModelMessage;
      }
      case 'tool': {
        const id = message.tool_call_id;
        if (id === undefined) throw new KairoError('parameter_missing', { message: `Missing required parameter: ${param}.tool_call_id.`, param: `${param}.tool_call_id` });
        const toolName = toolNames.get(id);
        if (toolName === undefined) {
          throw new KairoError('parameter_invalid', { message: `No earlier assistant message made the tool call '${id}'.`, param: `${param}.tool_call_id` });
        }
        return { role: 'tool', content: [{ type: 'tool-result', toolCallId: id, toolName, output: { type: 'text', value: text } }] } satisfies ToolModelMessage;
      }
    }
  });
}

/**
 * A Responses request's `instructions` and `input` as model messages: instructions first as a
 * system message, then each input item (a string input is one user message). Function calls and
 * their outputs become tool calls and tool results, as in Chat Completions.
 */
export function fromResponseInput(input: string | ResponseInputItem[], instructions: string | null | undefined): ModelMessage[] {
  const chat: ChatMessage[] = instructions ? [{ role: 'system', content: instructions }] : [];
  if (typeof input === 'string') return fromChatMessages([...chat, { role: 'user', content: input }]);
  for (const item of input) {
    if (item.type === 'function_call') {
      chat.push({ role: 'assistant', content: null, tool_calls: [{ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } }] });
    } else if (item.type === 'function_call_output') {
      chat.push({ role: 'tool', tool_call_id: item.call_id, content: item.output });
    } else {
      chat.push({ role: item.role, content: item.content });
    }
  }
  // Param names point into `input`, less the instructions message put first.
  try {
    return fromChatMessages(chat);
  } catch (error) {
    if (error instanceof KairoError && error.param?.startsWith('messages[')) {
      const index = Number(/^messages\[(\d+)\]/.exec(error.param)![1]) - (instructions ? 1 : 0);
      throw new KairoError(error.code, { message: error.message, param: `input[${index}]` });
    }
    throw error;
  }
}

