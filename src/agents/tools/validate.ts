import { ApiError, type ErrorCode } from '../../errors.js';
import { schemaProblem } from './json-schema.js';
import type { ToolDefinition } from './ports.js';

export { validateArguments, type ArgumentsCheck } from './json-schema.js';

/** What a tool name offered to a model may look like (OpenAI's and Anthropic's common rule). */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
/** Most tools (after MCP allow-lists are expanded) one agent may offer. */
export const MAX_TOOLS = 128;
/** The name a `context_search` tool gets when it names none. */
export const DEFAULT_CONTEXT_SEARCH_TOOL_NAME = 'context_search';
/** Between an MCP server's label and its tool's name in the name offered to the model. */
export const MCP_NAME_SEPARATOR = '__';
/** Longest and default time an `http` tool may take. */
export const HTTP_TOOL_MAX_TIMEOUT_MS = 60_000;
export const HTTP_TOOL_DEFAULT_TIMEOUT_MS = 15_000;

const TOOL_TYPES = ['context_search', 'http', 'function', 'mcp', 'agent'] as const;
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const MAX_DESCRIPTION = 4096;
const MAX_URL = 2048;
const MAX_HEADERS = 32;
const MAX_HEADER_VALUE = 8192;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
const AGENT_ID = /^agent_[0-9a-z]{26}$/;

/** Headers the platform sets itself on outbound tool requests; a definition may not set them. */
const RESERVED_HEADERS: Record<'http' | 'mcp', ReadonlySet<string>> = {
  http: new Set([
    'host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive',
    'webhook-id', 'webhook-timestamp', 'webhook-signature', 'idempotency-key',
  ]),
  mcp: new Set([
    'host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive',
    'accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id',
  ]),
};

const KNOWN_FIELDS: Record<ToolDefinition['type'], readonly string[]> = {
  context_search: ['type', 'name', 'description', 'sources', 'top_k', 'requires_approval'],
  http: ['type', 'name', 'description', 'url', 'method', 'headers', 'parameters', 'timeout_ms', 'requires_approval'],
  function: ['type', 'name', 'description', 'parameters', 'requires_approval'],
  mcp: ['type', 'server_label', 'server_url', 'allowed_tools', 'headers', 'requires_approval'],
  agent: ['type', 'agent_id', 'name', 'description', 'requires_approval'],
};

/** The name an MCP tool is offered to the model under: `<server_label>__<tool>`. */
export function mcpToolName(serverLabel: string, tool: string): string {
  return `${serverLabel}${MCP_NAME_SEPARATOR}${tool}`;
}

/** The name an `agent` tool without a `name` is offered under. */
export function defaultAgentToolName(agentId: string): string {
  return `agent_${agentId.slice(-8)}`;
}

/**
 * The names a definition offers to the model: one per tool, every allowed tool for `mcp`.
 * Defaults: `context_search` for a context search tool, `agent_<last 8 id chars>` for an agent tool.
 */
export function toolNamesOf(definition: ToolDefinition): string[] {
  switch (definition.type) {
    case 'context_search':
      return [definition.name ?? DEFAULT_CONTEXT_SEARCH_TOOL_NAME];
    case 'agent':
      return [definition.name ?? defaultAgentToolName(definition.agent_id)];
    case 'mcp':
      return definition.allowed_tools.map((tool) => mcpToolName(definition.server_label, tool));
    default:
      return [definition.name];
  }
}

/**
 * Check an agent's tool definitions as a client sent them and return them typed, with only the
 * known fields. Throws ApiError naming the exact field (`tools[2].parameters`):
 * `parameter_missing` for an absent required field, `parameter_unknown` for an unknown one,
 * `parameter_invalid` for everything else, including two tools offered under the same name.
 *
 * Not checked here, because they depend on the workspace or the network: that context sources
 * and agents named exist, and that URLs resolve to addresses outbound requests may reach (the
 * fetcher and the MCP toolset refuse those at call time, under the operator's allow list).
 */
export function validateToolDefinitions(tools: unknown[], param = 'tools'): ToolDefinition[] {
  const result = tools.map((tool, index) => checkDefinition(tool, `${param}[${index}]`));

  const seen = new Map<string, string>();
  result.forEach((definition, index) => {
    const at = `${param}[${index}]`;
    toolNamesOf(definition).forEach((name, nameIndex) => {
      const field = definition.type === 'mcp' ? `${at}.allowed_tools[${nameIndex}]` : definition.type === 'agent' && !definition.name ? `${at}.agent_id` : `${at}.name`;
      const earlier = seen.get(name);
      if (earlier !== undefined) invalid(field, `Tool name '${name}' is already used by ${earlier}; tool names must be unique within an agent.`);
      seen.set(name, at);
    });
  });
  if (seen.size > MAX_TOOLS) invalid(param, `An agent may offer at most ${MAX_TOOLS} tools (MCP allow-lists count each tool); these offer ${seen.size}.`);
  return result;
}

function checkDefinition(value: unknown, at: string): ToolDefinition {
  const input = asObject(value, at);
  const type = input.type;
  if (type === undefined) fail('parameter_missing', `${at}.type`, `Missing ${at}.type: one of ${TOOL_TYPES.join(', ')}.`);
  if (typeof type !== 'string' || !(TOOL_TYPES as readonly string[]).includes(type)) {
    invalid(`${at}.type`, `${at}.type must be one of ${TOOL_TYPES.join(', ')}.`);
  }
  const kind = type as ToolDefinition['type'];
  for (const key of Object.keys(input)) {
    if (!KNOWN_FIELDS[kind].includes(key)) fail('parameter_unknown', `${at}.${key}`, `Unknown field ${at}.${key} for a tool of type '${kind}'.`);
  }
  const approval = optionalBoolean(input, 'requires_approval', at);
  const withApproval = <T extends object>(definition: T): T => (approval === undefined ? definition : { ...definition, requires_approval: approval });

  switch (kind) {
    case 'context_search': {
      const name = optionalName(input, at);
      const description = optionalDescription(input, at);
      const sources = optionalSources(input, at);
      const topK = optionalInteger(input, 'top_k', at, 1, 100);
      return withApproval({
        type: 'context_search',
        ...(name === undefined ? {} : { name }),
        ...(description === undefined ? {} : { description }),
        ...(sources === undefined ? {} : { sources }),
        ...(topK === undefined ? {} : { top_k: topK }),
      });
    }
    case 'http': {
      const name = requiredName(input, at);
      const description = optionalDescription(input, at);
      const url = requiredUrl(input, 'url', at);
      const method = input.method;
      if (method !== undefined && !(HTTP_METHODS as readonly unknown[]).includes(method)) {
        invalid(`${at}.method`, `${at}.method must be one of ${HTTP_METHODS.join(', ')}.`);
      }
      const headers = optionalHeaders(input, at, 'http');
      const parameters = requiredParameters(input, at);
      const timeout = optionalInteger(input, 'timeout_ms', at, 1, HTTP_TOOL_MAX_TIMEOUT_MS);
      return withApproval({
        type: 'http',
        name,
        ...(description === undefined ? {} : { description }),
        url,
        ...(method === undefined ? {} : { method: method as (typeof HTTP_METHODS)[number] }),
        ...(headers === undefined ? {} : { headers }),
        parameters,
        ...(timeout === undefined ? {} : { timeout_ms: timeout }),
      });
    }
    case 'function': {
      const name = requiredName(input, at);
      const description = optionalDescription(input, at);
      const parameters = requiredParameters(input, at);
      return withApproval({ type: 'function', name, ...(description === undefined ? {} : { description }), parameters });
    }
    case 'mcp': {
      const label = requiredString(input, 'server_label', at);
      if (!TOOL_NAME_PATTERN.test(label) || label.includes(MCP_NAME_SEPARATOR)) {
        invalid(`${at}.server_label`, `${at}.server_label must be 1–64 letters, digits, '_' or '-', without '${MCP_NAME_SEPARATOR}'.`);
      }
      const serverUrl = requiredUrl(input, 'server_url', at);
      const allowed = requiredAllowedTools(input, at, label);
      const headers = optionalHeaders(input, at, 'mcp');
      return withApproval({
        type: 'mcp',
        server_label: label,
        server_url: serverUrl,
        allowed_tools: allowed,
        ...(headers === undefined ? {} : { headers }),
      });
    }
    case 'agent': {
      const agentId = requiredString(input, 'agent_id', at);
      if (!AGENT_ID.test(agentId)) invalid(`${at}.agent_id`, `${at}.agent_id must be an agent id (agent_…).`);
      const name = optionalName(input, at);
      const description = optionalDescription(input, at);
      return withApproval({
        type: 'agent',
        agent_id: agentId,
        ...(name === undefined ? {} : { name }),
        ...(description === undefined ? {} : { description }),
      });
    }
  }
}

function requiredName(input: Record<string, unknown>, at: string): string {
  const name = requiredString(input, 'name', at);
  checkName(name, `${at}.name`);
  return name;
}

function optionalName(input: Record<string, unknown>, at: string): string | undefined {
  if (input.name === undefined) return undefined;
  const name = requiredString(input, 'name', at);
  checkName(name, `${at}.name`);
  return name;
}

function checkName(name: string, field: string): void {
  if (!TOOL_NAME_PATTERN.test(name)) invalid(field, `${field} must be 1–64 letters, digits, '_' or '-'.`);
}

function optionalDescription(input: Record<string, unknown>, at: string): string | undefined {
  if (input.description === undefined) return undefined;
  const description = input.description;
  if (typeof description !== 'string') invalid(`${at}.description`, `${at}.description must be a string.`);
  if (description.length > MAX_DESCRIPTION) invalid(`${at}.description`, `${at}.description must be at most ${MAX_DESCRIPTION} characters.`);
  return description;
}

function optionalSources(input: Record<string, unknown>, at: string): string[] | undefined {
  if (input.sources === undefined) return undefined;
  const sources = input.sources;
  if (!Array.isArray(sources)) invalid(`${at}.sources`, `${at}.sources must be an array of context source names or ids.`);
  if (sources.length > 100) invalid(`${at}.sources`, `${at}.sources may list at most 100 sources.`);
  sources.forEach((source, index) => {
    if (typeof source !== 'string' || source.length === 0 || source.length > 100) {
      invalid(`${at}.sources[${index}]`, `${at}.sources[${index}] must be a context source name or id.`);
    }
  });
  return [...(sources as string[])];
}

function requiredUrl(input: Record<string, unknown>, key: string, at: string): string {
  const field = `${at}.${key}`;
  const raw = requiredString(input, key, at);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    invalid(field, `${field} must be an absolute http or https URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') invalid(field, `${field} must be an http or https URL.`);
  if (url.username !== '' || url.password !== '') invalid(field, `${field} must not contain credentials; send them in headers.`);
  if (raw.length > MAX_URL) invalid(field, `${field} must be at most ${MAX_URL} characters.`);
  return raw;
}

function optionalHeaders(input: Record<string, unknown>, at: string, kind: 'http' | 'mcp'): Record<string, string> | undefined {
  if (input.headers === undefined) return undefined;
  const field = `${at}.headers`;
  const headers = asObject(input.headers, field);
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) invalid(field, `${field} may hold at most ${MAX_HEADERS} headers.`);
  const out: Record<string, string> = {};
  const lowerSeen = new Set<string>();
  for (const [name, value] of entries) {
    const item = `${field}.${name}`;
    if (!HEADER_NAME.test(name)) invalid(item, `${item}: '${name}' is not a valid header name.`);
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS[kind].has(lower)) invalid(item, `${item}: the ${lower} header is set by KAIRO and cannot be configured.`);
    if (lowerSeen.has(lower)) invalid(item, `${item}: the header ${lower} is given twice.`);
    lowerSeen.add(lower);
    if (typeof value !== 'string') invalid(item, `${item} must be a string.`);
    if (value.length > MAX_HEADER_VALUE || /[\r\n\0]/.test(value)) {
      invalid(item, `${item} must be at most ${MAX_HEADER_VALUE} characters without line breaks.`);
    }
    out[name] = value;
  }
  return out;
}

function requiredParameters(input: Record<string, unknown>, at: string): Record<string, unknown> {
  const field = `${at}.parameters`;
  if (input.parameters === undefined) fail('parameter_missing', field, `Missing ${field}: a JSON Schema with "type": "object".`);
  const problem = schemaProblem(input.parameters);
  if (problem !== undefined) invalid(field, `${field} ${problem}.`);
  return input.parameters as Record<string, unknown>;
}

function requiredAllowedTools(input: Record<string, unknown>, at: string, label: string): string[] {
  const field = `${at}.allowed_tools`;
  const tools = input.allowed_tools;
  if (tools === undefined) fail('parameter_missing', field, `Missing ${field}: list the MCP server's tools the agent may call.`);
  if (!Array.isArray(tools) || tools.length === 0) invalid(field, `${field} must be a non-empty array of tool names.`);
  const seen = new Set<string>();
  tools.forEach((tool, index) => {
    const item = `${field}[${index}]`;
    if (typeof tool !== 'string' || !TOOL_NAME_PATTERN.test(tool)) invalid(item, `${item} must be a tool name of letters, digits, '_' or '-'.`);
    if (!TOOL_NAME_PATTERN.test(mcpToolName(label, tool))) {
      invalid(item, `${item}: '${mcpToolName(label, tool)}' (server label, '${MCP_NAME_SEPARATOR}', tool) must be at most 64 characters.`);
    }
    if (seen.has(tool)) invalid(item, `${item}: '${tool}' is listed twice.`);
    seen.add(tool);
  });
  return [...(tools as string[])];
}

function requiredString(input: Record<string, unknown>, key: string, at: string): string {
  const value = input[key];
  if (value === undefined) fail('parameter_missing', `${at}.${key}`, `Missing ${at}.${key}.`);
  if (typeof value !== 'string' || value.length === 0) invalid(`${at}.${key}`, `${at}.${key} must be a non-empty string.`);
  return value;
}

function optionalBoolean(input: Record<string, unknown>, key: string, at: string): boolean | undefined {
  const value = input[key];
  if (value !== undefined && typeof value !== 'boolean') invalid(`${at}.${key}`, `${at}.${key} must be a boolean.`);
  return value as boolean | undefined;
}

function optionalInteger(input: Record<string, unknown>, key: string, at: string, min: number, max: number): number | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(`${at}.${key}`, `${at}.${key} must be an integer from ${min} to ${max}.`);
  }
  return value;
}

function asObject(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid(at, `${at} must be an object.`);
  return value as Record<string, unknown>;
}

function invalid(param: string, message: string): never {
  fail('parameter_invalid', param, message);
}

function fail(code: ErrorCode, param: string, message: string): never {
  throw new ApiError(code, { param, message });
}
