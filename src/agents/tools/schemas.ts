import { Type, type Static } from 'typebox';

/** What a tool name offered to a model may look like (OpenAI's and Anthropic's common rule). */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
/** Between an MCP server's label and its tool's name in the name offered to the model. */
export const MCP_NAME_SEPARATOR = '__';
/** Longest and default time an `http` tool may take. */
export const HTTP_TOOL_MAX_TIMEOUT_MS = 60_000;
export const HTTP_TOOL_DEFAULT_TIMEOUT_MS = 15_000;

export const TOOL_TYPES = ['context_search', 'http', 'function', 'mcp', 'agent'] as const;
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;

const ToolName = Type.String({ pattern: TOOL_NAME_PATTERN.source, description: "1–64 letters, digits, '_' or '-'; unique among the agent's tools." });
const Description = Type.String({ maxLength: 4096, description: 'Tells the model what the tool does.' });
const RequiresApproval = Type.Optional(Type.Boolean({ description: 'Stop the run in requires_action before each call, for the client to approve or deny it.' }));
const Url = (what: string) => Type.String({ minLength: 1, maxLength: 2048, description: `${what}: an absolute http or https URL, without credentials.` });
const Parameters = Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema of the arguments, an object schema (`"type": "object"`); drafts 07, 2019-09 and 2020-12.' });
const Headers = Type.Record(Type.String(), Type.String({ maxLength: 8192, pattern: '^[^\\r\\n\\u0000]*$' }), {
  maxProperties: 32,
  propertyNames: { pattern: HEADER_NAME.source },
  description: 'Sent with every call (credentials, for instance): write-only, read back as "[redacted]". Headers KAIRO sets itself cannot be given.',
});

export const ContextSearchTool = Type.Object({
  type: Type.Literal('context_search'),
  name: Type.Optional(ToolName),
  description: Type.Optional(Description),
  sources: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100, description: "Context source names or ids (stored as ids); the agent's `context` when absent." })),
  top_k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Passages a search returns when the model asks for no number (default 5).' })),
  requires_approval: RequiresApproval,
}, { additionalProperties: false, description: 'Hybrid search over context sources, run on the server. Named `context_search` unless `name` says otherwise.' });

export const HttpTool = Type.Object({
  type: Type.Literal('http'),
  name: ToolName,
  description: Type.Optional(Description),
  url: Url('Where the call goes'),
  method: Type.Optional(Type.Enum(HTTP_METHODS, { description: 'Default POST. GET and DELETE send the arguments as the query string, the others as a JSON body.' })),
  headers: Type.Optional(Headers),
  parameters: Parameters,
  timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: HTTP_TOOL_MAX_TIMEOUT_MS, description: `Default ${HTTP_TOOL_DEFAULT_TIMEOUT_MS}.` })),
  requires_approval: RequiresApproval,
}, { additionalProperties: false, description: 'An HTTP endpoint the server calls, signed (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).' });

export const FunctionTool = Type.Object({
  type: Type.Literal('function'),
  name: ToolName,
  description: Type.Optional(Description),
  parameters: Parameters,
  requires_approval: RequiresApproval,
}, { additionalProperties: false, description: 'Run by the client: the run stops in requires_action with the calls, and resumes with their outputs.' });

export const McpTool = Type.Object({
  type: Type.Literal('mcp'),
  server_label: Type.String({
    pattern: `^(?!.*${MCP_NAME_SEPARATOR})${TOOL_NAME_PATTERN.source.slice(1)}`,
    description: `Names the server's tools to the model: \`<server_label>${MCP_NAME_SEPARATOR}<tool>\`, at most 64 characters. 1–64 letters, digits, '_' or '-', without '${MCP_NAME_SEPARATOR}'.`,
  }),
  server_url: Url("The MCP server's Streamable HTTP endpoint"),
  allowed_tools: Type.Array(Type.String({ pattern: TOOL_NAME_PATTERN.source }), { minItems: 1, description: "The server's tools the agent may list and call, each once." }),
  headers: Type.Optional(Headers),
  requires_approval: RequiresApproval,
}, { additionalProperties: false, description: 'The tools of an MCP server reached over Streamable HTTP, run on the server.' });

export const AgentTool = Type.Object({
  type: Type.Literal('agent'),
  agent_id: Type.String({ pattern: '^agent_[0-9a-z]{26}$', description: 'Another agent of the workspace (agent_…).' }),
  name: Type.Optional(ToolName),
  description: Type.Optional(Description),
  requires_approval: RequiresApproval,
}, { additionalProperties: false, description: 'Another agent of the workspace, run on the server; agents call agents at most 3 deep. Named `agent_<last 8 characters of its id>` unless `name` says otherwise.' });

/** Tool definitions as an agent's configuration holds them (snake_case, as in the API). */
export type ToolDefinition =
  | Static<typeof ContextSearchTool>
  | Static<typeof HttpTool>
  | Static<typeof FunctionTool>
  | Static<typeof McpTool>
  | Static<typeof AgentTool>;

const BY_TYPE = { context_search: ContextSearchTool, http: HttpTool, function: FunctionTool, mcp: McpTool, agent: AgentTool };

/**
 * A tool definition of any type. The type's own schema is picked by `type` (if/then rather than
 * oneOf), so a refused definition is reported by its own first problem (`tools[2].url`) and not by
 * the types it is not. What a schema cannot say (URL policy, reserved headers, unique names,
 * usable argument schemas) is checked by validateToolDefinitions.
 */
export const ToolDefinitionSchema = Type.Unsafe<ToolDefinition>({
  type: 'object',
  description: 'A tool of the agent, by `type`: context_search, http, function, mcp or agent. Any of them can need approval.',
  required: ['type'],
  properties: { type: { type: 'string', enum: [...TOOL_TYPES] } },
  allOf: TOOL_TYPES.map((type) => ({ if: { type: 'object', required: ['type'], properties: { type: { const: type } } }, then: BY_TYPE[type] })),
});
