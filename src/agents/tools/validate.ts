import { Ajv, type ErrorObject } from 'ajv';
import { KairoError } from '../../errors.js';
import { schemaProblem } from './json-schema.js';
import { MCP_NAME_SEPARATOR, TOOL_NAME_PATTERN, ToolDefinitionSchema, type ToolDefinition } from './schemas.js';

export { validateArguments, type ArgumentsCheck } from './json-schema.js';
export { HTTP_TOOL_DEFAULT_TIMEOUT_MS, HTTP_TOOL_MAX_TIMEOUT_MS, MCP_NAME_SEPARATOR, TOOL_NAME_PATTERN } from './schemas.js';

/** Most tools (after MCP allow-lists are expanded) one agent may offer. */
export const MAX_TOOLS = 128;
/** The name a `context_search` tool gets when it names none. */
export const DEFAULT_CONTEXT_SEARCH_TOOL_NAME = 'context_search';

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

/** The schema checked as the API checks request bodies (src/http/app.ts), so both report the same first problem. */
const matchesSchema = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: false, strict: false }).compile<ToolDefinition>(ToolDefinitionSchema);

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
 * Check an agent's tool definitions as a client sent them and return them typed. Each must match
 * its type's schema (src/agents/tools/schemas.ts); then come the checks a schema cannot make:
 * URLs are http(s) without credentials, headers KAIRO sets are not configured (nor one header
 * twice), argument schemas compile, an MCP tool's full name fits, and every name offered to the
 * model is unique. Throws KairoError naming the exact field (`tools[2].parameters`):
 * `parameter_missing` for an absent required field, `parameter_unknown` for an unknown one,
 * `parameter_invalid` for everything else.
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
  if (!matchesSchema(value)) throw schemaError(matchesSchema.errors![0]!, at);
  const definition = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as ToolDefinition;
  switch (definition.type) {
    case 'http':
      checkUrl(definition.url, `${at}.url`);
      checkHeaders(definition.headers, at, 'http');
      checkParameters(definition.parameters, `${at}.parameters`);
      break;
    case 'function':
      checkParameters(definition.parameters, `${at}.parameters`);
      break;
    case 'mcp':
      checkUrl(definition.server_url, `${at}.server_url`);
      checkAllowedTools(definition.server_label, definition.allowed_tools, `${at}.allowed_tools`);
      checkHeaders(definition.headers, at, 'mcp');
      break;
    default:
      break;
  }
  return definition;
}

/** The schema's first problem, reported as the API reports a request body's (src/http/error-handler.ts). */
function schemaError(error: ErrorObject, at: string): KairoError {
  if (error.keyword === 'required') {
    const param = fieldOf(at, error.instancePath, error.params.missingProperty);
    return new KairoError('parameter_missing', { param, message: `Missing required parameter: ${param}.` });
  }
  if (error.keyword === 'additionalProperties') {
    const param = fieldOf(at, error.instancePath, error.params.additionalProperty);
    return new KairoError('parameter_unknown', { param, message: `Unknown parameter: ${param}.` });
  }
  const param = fieldOf(at, error.instancePath);
  return new KairoError('parameter_invalid', { param, message: `Invalid parameter ${param}: ${error.message ?? 'invalid value'}.` });
}

/** `tools[0]` and `/allowed_tools/1` → `tools[0].allowed_tools[1]`; `property` is a raw name, appended as it is. */
function fieldOf(at: string, instancePath: string, property?: unknown): string {
  let out = at;
  for (const part of instancePath === '' ? [] : instancePath.split('/').slice(1)) {
    const name = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(name) ? `[${name}]` : `.${name}`;
  }
  return typeof property === 'string' ? `${out}.${property}` : out;
}

function checkUrl(raw: string, field: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    invalid(field, `${field} must be an absolute http or https URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') invalid(field, `${field} must be an http or https URL.`);
  if (url.username !== '' || url.password !== '') invalid(field, `${field} must not contain credentials; send them in headers.`);
}

function checkHeaders(headers: Record<string, string> | undefined, at: string, kind: 'http' | 'mcp'): void {
  const seen = new Set<string>();
  for (const name of Object.keys(headers ?? {})) {
    const item = `${at}.headers.${name}`;
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS[kind].has(lower)) invalid(item, `${item}: the ${lower} header is set by KAIRO and cannot be configured.`);
    if (seen.has(lower)) invalid(item, `${item}: the header ${lower} is given twice.`);
    seen.add(lower);
  }
}

function checkParameters(parameters: Record<string, unknown>, field: string): void {
  const problem = schemaProblem(parameters);
  if (problem !== undefined) invalid(field, `${field} ${problem}.`);
}

function checkAllowedTools(label: string, tools: string[], field: string): void {
  const seen = new Set<string>();
  tools.forEach((tool, index) => {
    const item = `${field}[${index}]`;
    if (!TOOL_NAME_PATTERN.test(mcpToolName(label, tool))) {
      invalid(item, `${item}: '${mcpToolName(label, tool)}' (server label, '${MCP_NAME_SEPARATOR}', tool) must be at most 64 characters.`);
    }
    if (seen.has(tool)) invalid(item, `${item}: '${tool}' is listed twice.`);
    seen.add(tool);
  });
}

function invalid(param: string, message: string): never {
  throw new KairoError('parameter_invalid', { param, message });
}
