/**
 * What the simulator answers, as a pure function of the call options: directives, tool calls,
 * tool-result summaries, context citations and token counts. `simulator.ts` turns a plan into
 * AI SDK results and streams. The behaviour is documented in docs/models.md; keep them in step.
 */
import type {
  LanguageModelV3CallOptions,
  LanguageModelV3FunctionTool,
  LanguageModelV3Prompt,
  LanguageModelV3ToolApprovalResponsePart,
  LanguageModelV3ToolResultOutput,
  LanguageModelV3ToolResultPart,
} from '@ai-sdk/provider';
import { countTokens, truncateToTokens } from '../context/tokens.js';
import { isRetryableProviderStatus } from '../net/retryable-status.js';

/** Public id of the simulator in the catalogue. */
export const SIMULATOR_MODEL_ID = 'kairo/simulator';

/** Longest `slow <ms>` honoured, so a typo cannot hang a test for hours. */
export const MAX_SIMULATED_DELAY_MS = 60_000;

/** Characters of the user text quoted in an answer. */
const QUOTE_CHARS = 200;

/** Characters of a tool result's JSON shown in a summary. */
const RESULT_CHARS = 500;

/** A tool call the simulator decided to make; `input` is the JSON text sent to the SDK. */
export interface PlannedToolCall {
  toolCallId: string;
  toolName: string;
  input: string;
}

/** Everything one simulated call does, decided before anything is emitted. */
export interface SimulationPlan {
  /** Wait this long before answering (or failing). */
  delayMs: number;
  /** Throw an APICallError with this status instead of answering. */
  failure?: { status: number; retryable: boolean };
  /** Answer text; empty when the answer is only tool calls. */
  text: string;
  toolCalls: PlannedToolCall[];
  finishReason: 'stop' | 'length' | 'tool-calls';
  inputTokens: number;
  outputTokens: number;
}

/** Recognised directive lines of the latest user message. */
interface Directives {
  delayMs: number;
  failure?: { status: number; targets: string[] };
  calls: Array<{ name: string; json: string | undefined }>;
  /** The user text without the `slow` and `fail` lines. */
  remainder: string;
}

/**
 * Plan the answer to one call. `servingAs` is the catalogue model the simulator stands in for;
 * `fail … for <model or provider>` directives fail only on a match.
 */
export function planSimulation(options: LanguageModelV3CallOptions, servingAs: string, baseLatencyMs: number): SimulationPlan {
  const { prompt } = options;
  const userText = lastUserText(prompt);
  const directives = parseDirectives(userText);
  const delayMs = Math.min(MAX_SIMULATED_DELAY_MS, baseLatencyMs + directives.delayMs);
  const inputTokens = countTokens(renderPrompt(prompt, functionTools(options)));

  const failure = directives.failure;
  if (failure && (failure.targets.length === 0 || failure.targets.some((target) => matchesTarget(target, servingAs)))) {
    return {
      delayMs,
      failure: { status: failure.status, retryable: isRetryableProviderStatus(failure.status) },
      text: '',
      toolCalls: [],
      finishReason: 'stop',
      inputTokens,
      outputTokens: 0,
    };
  }

  // (a) The model's own tool calls came back: summarise them and stop.
  const last = prompt[prompt.length - 1];
  if (last?.role === 'tool') {
    const summary = summariseToolResults(last.content);
    if (summary !== undefined) return textPlan(summary, options, delayMs, inputTokens);
  }

  // (b) Tool calls asked for by directive, by name, or by the tool choice.
  const toolCalls = planToolCalls(options, directives, priorToolCalls(prompt));
  if (toolCalls.length > 0) {
    const outputTokens = toolCalls.reduce((sum, call) => sum + countTokens(`${call.toolName} ${call.input}`), 0);
    return { delayMs, text: '', toolCalls, finishReason: 'tool-calls', inputTokens, outputTokens };
  }

  // (c) A text (or JSON) answer.
  const format = options.responseFormat;
  if (format?.type === 'json') {
    const value = format.schema ? valueFromSchema(format.schema, 'answer', directives.remainder, 0) : { answer: textAnswer(prompt, directives) };
    return textPlan(JSON.stringify(value), options, delayMs, inputTokens, false);
  }
  return textPlan(textAnswer(prompt, directives), options, delayMs, inputTokens);
}

function matchesTarget(target: string, servingAs: string): boolean {
  return target === servingAs || servingAs.startsWith(`${target}/`) || (target === 'simulator' && servingAs === SIMULATOR_MODEL_ID);
}

function textPlan(
  text: string,
  options: LanguageModelV3CallOptions,
  delayMs: number,
  inputTokens: number,
  applyStops = true,
): SimulationPlan {
  let out = text;
  let finishReason: SimulationPlan['finishReason'] = 'stop';
  if (applyStops) {
    for (const stop of options.stopSequences ?? []) {
      const at = stop === '' ? -1 : out.indexOf(stop);
      if (at >= 0) out = out.slice(0, at);
    }
  }
  const max = options.maxOutputTokens;
  if (max !== undefined && countTokens(out) > max) {
    out = truncateToTokens(out, max);
    finishReason = 'length';
  }
  return { delayMs, text: out, toolCalls: [], finishReason, inputTokens, outputTokens: countTokens(out) };
}

/** Text of the latest user message (text parts joined by newlines). */
function lastUserText(prompt: LanguageModelV3Prompt): string {
  for (let i = prompt.length - 1; i >= 0; i--) {
    const message = prompt[i]!;
    if (message.role !== 'user') continue;
    return message.content
      .filter((part) => part.type === 'text')
      .map((part) => part.text)
      .join('\n');
  }
  return '';
}

const FAIL_LINE = /^fail(?:\s+(\d{3}))?(?:\s+for\s+(\S+(?:\s*,\s*\S+)*))?$/i;
const SLOW_LINE = /^slow\s+(\d{1,9})(?:\s*ms)?$/i;
const CALL_LINE = /^call\s+([A-Za-z0-9_.:-]+)(?:\s+(\S.*))?$/i;

/** Directives are whole lines, so everyday prose ("why does it fail?") never triggers one. */
function parseDirectives(text: string): Directives {
  const directives: Directives = { delayMs: 0, calls: [], remainder: '' };
  const kept: string[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    const fail = FAIL_LINE.exec(line);
    if (fail) {
      const status = fail[1] === undefined ? 500 : Number(fail[1]);
      if (status >= 400 && status <= 599) {
        const targets = fail[2] ? fail[2].split(',').map((target) => target.trim()).filter(Boolean) : [];
        directives.failure = { status, targets };
        continue;
      }
    }
    const slow = SLOW_LINE.exec(line);
    if (slow) {
      directives.delayMs += Number(slow[1]);
      continue;
    }
    const call = CALL_LINE.exec(line);
    if (call) directives.calls.push({ name: call[1]!, json: call[2]?.trim() });
    kept.push(rawLine);
  }
  directives.remainder = kept.join('\n');
  return directives;
}

function functionTools(options: LanguageModelV3CallOptions): LanguageModelV3FunctionTool[] {
  return (options.tools ?? []).filter((tool): tool is LanguageModelV3FunctionTool => tool.type === 'function');
}

/** Tool calls already in the conversation, so new ids continue the sequence. */
function priorToolCalls(prompt: LanguageModelV3Prompt): number {
  let count = 0;
  for (const message of prompt) {
    if (message.role !== 'assistant') continue;
    for (const part of message.content) if (part.type === 'tool-call') count += 1;
  }
  return count;
}

function planToolCalls(options: LanguageModelV3CallOptions, directives: Directives, prior: number): PlannedToolCall[] {
  const choice = options.toolChoice ?? { type: 'auto' as const };
  let tools = functionTools(options);
  if (tools.length === 0 || choice.type === 'none') return [];
  if (choice.type === 'tool') tools = tools.filter((tool) => tool.name === choice.toolName);
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  const text = directives.remainder;

  const wanted: Array<{ tool: LanguageModelV3FunctionTool; json: string | undefined }> = [];
  for (const call of directives.calls) {
    if (call.name.toLowerCase() === 'all') {
      for (const tool of tools) wanted.push({ tool, json: undefined });
      continue;
    }
    const tool = byName.get(call.name);
    if (tool) wanted.push({ tool, json: call.json });
  }
  if (wanted.length === 0) {
    for (const tool of tools) if (mentions(text, tool.name)) wanted.push({ tool, json: undefined });
  }
  if (wanted.length === 0 && (choice.type === 'required' || choice.type === 'tool') && tools[0]) {
    wanted.push({ tool: tools[0], json: undefined });
  }

  const argumentText = withoutToolNames(text, tools);
  return wanted.map(({ tool, json }, index) => ({
    toolCallId: `call_sim_${prior + index + 1}`,
    toolName: tool.name,
    input: json === undefined ? JSON.stringify(valueFromSchema(tool.inputSchema, tool.name, argumentText, 0) ?? {}) : compactJson(json),
  }));
}

/** Valid JSON is re-serialised compactly; anything else goes through as is, for the SDK to reject. */
function compactJson(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json));
  } catch {
    return json;
  }
}

function mentions(text: string, name: string): boolean {
  return new RegExp(`(?<![\\w-])${escapeRegExp(name)}(?![\\w-])`).test(text);
}

function withoutToolNames(text: string, tools: LanguageModelV3FunctionTool[]): string {
  let out = text
    .split(/\r?\n/)
    .filter((line) => !CALL_LINE.test(line.trim()))
    .join(' ');
  for (const tool of tools) out = out.replace(new RegExp(`(?<![\\w-])${escapeRegExp(tool.name)}(?![\\w-])`, 'g'), ' ');
  return collapse(out);
}

type Schema = Record<string, unknown>;

/**
 * A value that satisfies the common shapes of a JSON schema: `const`, `enum` (first value),
 * `default`, then by type. A property written `name: value` or `name=value` in the user text is
 * taken from there; other strings get the user text itself. Objects get their required
 * properties, plus optional ones the text spells out.
 */
function valueFromSchema(schema: unknown, name: string, text: string, depth: number): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 8) return derivedString(text);
  const s = schema as Schema;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if ('default' in s) return s.default;
  const variants = (Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined) as unknown[] | undefined;
  if (variants && variants.length > 0) return valueFromSchema(variants[0], name, text, depth + 1);
  const type = Array.isArray(s.type) ? (s.type as unknown[]).find((entry) => entry !== 'null') : s.type;
  const explicit = explicitValue(text, name);
  switch (type) {
    case 'string':
      return explicit ?? derivedString(text);
    case 'integer':
    case 'number': {
      const parsed = explicit === undefined ? Number.NaN : Number(explicit);
      if (Number.isFinite(parsed)) return type === 'integer' ? Math.round(parsed) : parsed;
      const minimum = typeof s.minimum === 'number' ? s.minimum : 0;
      return type === 'integer' ? Math.ceil(minimum) : minimum;
    }
    case 'boolean':
      return explicit === undefined ? false : ['true', 'yes', '1'].includes(explicit.toLowerCase());
    case 'null':
      return null;
    case 'array': {
      const minItems = typeof s.minItems === 'number' ? Math.min(s.minItems, 10) : 0;
      return Array.from({ length: minItems }, () => valueFromSchema(s.items, name, text, depth + 1));
    }
    case 'object':
    case undefined: {
      const properties = (typeof s.properties === 'object' && s.properties !== null ? s.properties : undefined) as Schema | undefined;
      if (type === undefined && !properties) return explicit ?? derivedString(text);
      const required = new Set(Array.isArray(s.required) ? (s.required as unknown[]).filter((key) => typeof key === 'string') : []);
      const out: Record<string, unknown> = {};
      for (const [key, property] of Object.entries(properties ?? {})) {
        if (required.has(key) || explicitValue(text, key) !== undefined) out[key] = valueFromSchema(property, key, text, depth + 1);
      }
      return out;
    }
    default:
      return explicit ?? derivedString(text);
  }
}

/** `name: value`, `name = "value"` or `name='value'` in the text (first one); bare values end at , ; ! ? or a full stop. */
function explicitValue(text: string, name: string): string | undefined {
  const match = new RegExp(`(?<![\\w-])${escapeRegExp(name)}\\s*[:=]\\s*(?:"([^"]*)"|'([^']*)'|([^,;!?\\n.]+(?:\\.(?!\\s|$)[^,;!?\\n.]*)*))`, 'i').exec(text);
  if (!match) return undefined;
  const value = (match[1] ?? match[2] ?? match[3] ?? '').trim();
  return value === '' ? undefined : value;
}

function derivedString(text: string): string {
  const value = firstChars(collapse(text), QUOTE_CHARS);
  return value === '' ? 'example' : value;
}

/** `Tool <name> returned: <json>` per result; undefined when the message holds none. */
function summariseToolResults(content: Array<LanguageModelV3ToolResultPart | LanguageModelV3ToolApprovalResponsePart>): string | undefined {
  const lines: string[] = [];
  for (const part of content) {
    if (part.type === 'tool-result') lines.push(describeToolOutput(part.toolName, part.output));
  }
  return lines.length > 0 ? lines.join('\n') : undefined;
}

function describeToolOutput(toolName: string, output: LanguageModelV3ToolResultOutput): string {
  switch (output.type) {
    case 'json':
    case 'text':
      return `Tool ${toolName} returned: ${shortJson(output.value)}`;
    case 'error-json':
    case 'error-text':
      return `Tool ${toolName} failed: ${shortJson(output.value)}`;
    case 'execution-denied':
      return `Tool ${toolName} was not run: ${output.reason ?? 'the call was denied'}.`;
    case 'content':
      return `Tool ${toolName} returned: ${shortJson(output.value.map((item) => (item.type === 'text' ? item.text : `[${item.type}]`)).join('\n'))}`;
    default:
      return `Tool ${toolName} returned: ${shortJson(null)}`;
  }
}

function shortJson(value: unknown): string {
  const json = JSON.stringify(value) ?? 'null';
  return json.length > RESULT_CHARS ? `${json.slice(0, RESULT_CHARS)}…` : json;
}

/** `Simulated answer to "…".` plus, with numbered context blocks in the system prompt, a citation. */
function textAnswer(prompt: LanguageModelV3Prompt, directives: Directives): string {
  const answer = `Simulated answer to "${firstChars(collapse(directives.remainder), QUOTE_CHARS)}".`;
  const blocks = contextBlocks(prompt);
  if (blocks.length === 0) return answer;
  const cited = blocks.map((block) => `[${block.index}]`).join(', ');
  return `${answer} Based on ${cited}: ${firstSentence(blocks[0]!.text)}`;
}

/** Blocks of retrieved context: system-prompt lines starting `[n] ` up to the next such line. */
function contextBlocks(prompt: LanguageModelV3Prompt): Array<{ index: number; text: string }> {
  const blocks: Array<{ index: number; header: string; body: string[] }> = [];
  for (const message of prompt) {
    if (message.role !== 'system') continue;
    let current: (typeof blocks)[number] | undefined;
    for (const line of message.content.split(/\r?\n/)) {
      const match = /^\[(\d{1,4})\] (.*)$/.exec(line);
      if (match) {
        current = { index: Number(match[1]), header: match[2]!, body: [] };
        if (!blocks.some((block) => block.index === current!.index)) blocks.push(current);
      } else if (current) {
        current.body.push(line);
      }
    }
  }
  // The first line of a block is its label (title — heading); the passage follows it.
  return blocks.map((block) => {
    const body = collapse(block.body.join(' '));
    return { index: block.index, text: body === '' ? collapse(block.header) : body };
  });
}

function firstSentence(text: string): string {
  const match = /^.*?[.!?](?=\s|$)/.exec(text);
  const sentence = firstChars(match ? match[0] : text, QUOTE_CHARS).trim();
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

/** The prompt as plain text for the token count: messages, tool calls and results, tool definitions. */
function renderPrompt(prompt: LanguageModelV3Prompt, tools: LanguageModelV3FunctionTool[]): string {
  const lines: string[] = [];
  for (const message of prompt) {
    if (message.role === 'system') {
      lines.push(message.content);
      continue;
    }
    for (const part of message.content) {
      switch (part.type) {
        case 'text':
        case 'reasoning':
          lines.push(part.text);
          break;
        case 'file':
          lines.push(`[file ${part.mediaType}]`);
          break;
        case 'tool-call':
          lines.push(`${part.toolName} ${JSON.stringify(part.input) ?? ''}`);
          break;
        case 'tool-result':
          lines.push(`${part.toolName} ${JSON.stringify('value' in part.output ? part.output.value : (part.output.reason ?? '')) ?? ''}`);
          break;
        default:
          break;
      }
    }
  }
  for (const tool of tools) lines.push(`${tool.name} ${tool.description ?? ''} ${JSON.stringify(tool.inputSchema)}`);
  return lines.join('\n');
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The first `n` code points (never half a surrogate pair). */
function firstChars(text: string, n: number): string {
  if (text.length <= n) return text;
  return Array.from(text).slice(0, n).join('');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
