import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolRequestSchema, ErrorCode, ListResourcesRequestSchema, ListResourceTemplatesRequestSchema, ListToolsRequestSchema, McpError,
  ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { AgentsModule } from '../agents/agents-module.js';
import type { WorkflowsModule } from '../workflows/workflows-module.js';
import type { ContextService } from '../context/context-service.js';
import { allows, permissionDenied, type Permission } from '../platform/permissions.js';
import { loadCatalogue, type CatalogueEntry } from './tool-catalogue.js';
import { callAgentTool, callWorkflowTool, toolError, type ToolCaller } from './tool-calls.js';
import { contextResourceTemplates, listContextResources, readContextResource } from './context-resources.js';

/** The areas the MCP server exposes. */
export interface McpDeps {
  agents: AgentsModule;
  workflows: WorkflowsModule;
  context: ContextService;
  version: string;
}

const INSTRUCTIONS =
  "Each tool runs one of this KAIRO workspace's agents (it takes a message and answers with the agent's reply) or workflows " +
  '(it takes the workflow\'s input). Resources are its context sources and their documents.';

const areaOf = (entry: CatalogueEntry) => (entry.kind === 'agent' ? 'agents' : 'workflows');

/**
 * A stateless MCP server for one request of one API key: tools are the agents and workflows of
 * the key's workspace and mode, resources its context sources. What the key may do follows its
 * permissions (src/platform/permissions.ts): listing and reading need `read` on the area, running
 * a tool `write`. A key sees no tools or resources of an area it cannot read; a tool call it may
 * not make is a tool error that names the missing permission.
 */
export function createMcpServer(deps: McpDeps, caller: ToolCaller): McpServer {
  const mcp = new McpServer(
    { name: 'kairo', title: 'KAIRO', version: deps.version },
    { capabilities: { tools: { listChanged: false }, resources: { listChanged: false } }, instructions: INSTRUCTIONS },
  );
  const { auth } = caller;
  const may = (permission: Permission) => allows(auth.key.permissions, permission);
  const services = { agents: deps.agents.agents, workflows: deps.workflows.workflows };
  const server = mcp.server;

  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const catalogue = await loadCatalogue(services, auth.scope);
    return { tools: catalogue.filter((entry) => may({ area: areaOf(entry), access: 'read' })).map((entry) => entry.tool) };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const { name, arguments: args = {} } = request.params;
    const entry = (await loadCatalogue(services, auth.scope)).find((candidate) => candidate.tool.name === name);
    if (!entry) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}. tools/list names the tools of this workspace.`);
    const needed: Permission = { area: areaOf(entry), access: 'write' };
    if (!may(needed)) return toolError(permissionDenied(needed).message);
    return entry.kind === 'agent'
      ? callAgentTool(deps.agents, caller, entry.agent, args)
      : callWorkflowTool(deps.workflows, caller, entry.workflow, args);
  });

  const readsContext: Permission = { area: 'context', access: 'read' };
  server.setRequestHandler(ListResourcesRequestSchema, async (request) =>
    may(readsContext) ? listContextResources(deps.context, auth.scope, request.params?.cursor) : { resources: [] });
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: may(readsContext) ? contextResourceTemplates : [] }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    if (!may(readsContext)) throw new McpError(ErrorCode.InvalidRequest, permissionDenied(readsContext).message);
    return readContextResource(deps.context, auth.scope, request.params.uri);
  });
  return mcp;
}
