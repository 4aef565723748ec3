import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Agent, Page, PageRequest, Scope, Workflow } from '../store/port.js';
import type { AgentService } from '../agents/agents.js';
import type { WorkflowService } from '../workflows/workflows.js';
import type { WorkflowDefinition } from '../workflows/definition.js';
import { readConfig } from '../agents/agent-config.js';
import { uniqueToolNames } from './tool-names.js';

/**
 * At most this many agents and as many workflows of a workspace and mode become tools (the
 * oldest first). Every tools/list and tools/call request builds the catalogue again (the server
 * is stateless), so it is bounded.
 */
export const MAX_TOOLS_PER_KIND = 500;
/** Tool descriptions taken from an agent's instructions are cut to this many characters. */
const MAX_DESCRIPTION_CHARS = 1000;
const PAGE_SIZE = 100;

/** One tool of the catalogue: what it runs and how MCP clients see it. */
export type CatalogueEntry =
  | { kind: 'agent'; tool: Tool; agent: Agent }
  | { kind: 'workflow'; tool: Tool; workflow: Workflow };

/** Every object a paged list holds, oldest first, up to `max`. */
async function oldestFirst<T extends { id: string }>(list: (page: PageRequest) => Promise<Page<T>>, max: number): Promise<T[]> {
  const all: T[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await list({ limit: PAGE_SIZE, after });
    all.push(...page.data);
    if (!page.hasMore || page.data.length === 0 || all.length >= max) break;
    after = page.data.at(-1)!.id;
  }
  // Ids sort by creation time: the oldest keep their tool names when newer ones share them.
  return all.sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, max);
}

const AGENT_OUTPUT_SCHEMA = {
  type: 'object',
  properties: {
    run_id: { type: 'string' },
    agent_id: { type: 'string' },
    thread_id: { type: ['string', 'null'] },
    status: { type: 'string', description: 'completed, failed, cancelled or requires_action.' },
    output: { type: ['string', 'null'] },
    error: { type: ['object', 'null'] },
    required_action: { type: ['object', 'null'] },
  },
  required: ['run_id', 'agent_id', 'status'],
} as const;

const WORKFLOW_OUTPUT_SCHEMA = {
  type: 'object',
  properties: {
    run_id: { type: 'string' },
    workflow_id: { type: 'string' },
    status: { type: 'string', description: 'completed, failed or cancelled; queued, running or waiting when the run had not finished within the wait.' },
    output: {},
    error: { type: ['object', 'null'] },
  },
  required: ['run_id', 'workflow_id', 'status'],
} as const;

function agentTool(agent: Agent, name: string): Tool {
  const config = readConfig(agent.config);
  const about = config.description ?? config.instructions?.slice(0, MAX_DESCRIPTION_CHARS) ?? null;
  return {
    name,
    title: agent.name,
    description: `${about ?? `The KAIRO agent "${agent.name}".`}\n\nRuns the agent with the message and returns its answer, with the run id (and the thread id, to continue the conversation).`,
    inputSchema: {
      type: 'object',
      properties: {
        message: { type: 'string', minLength: 1, description: 'What to ask or tell the agent.' },
        thread_id: { type: 'string', description: 'Continue this conversation (the thread_id of an earlier result); without it a new thread starts.' },
      },
      required: ['message'],
      additionalProperties: false,
    },
    outputSchema: AGENT_OUTPUT_SCHEMA as unknown as Tool['outputSchema'],
    annotations: { title: agent.name, readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    _meta: { 'kairo/agent_id': agent.id },
  };
}

function workflowTool(workflow: Workflow, name: string): Tool {
  const definition = workflow.definition as unknown as WorkflowDefinition;
  return {
    name,
    title: workflow.name,
    description: `${definition.description ?? `The KAIRO workflow "${workflow.name}".`}\n\nStarts a run of the workflow with these arguments as its input and returns its output when it finishes in time, else the run id and status.`,
    // A workflow's input schema is always an object schema (checked when it is saved, src/workflows/validate.ts), as MCP wants.
    inputSchema: (definition.input_schema ?? { type: 'object' }) as Tool['inputSchema'],
    outputSchema: WORKFLOW_OUTPUT_SCHEMA as unknown as Tool['outputSchema'],
    annotations: { title: workflow.name, readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    _meta: { 'kairo/workflow_id': workflow.id },
  };
}

/**
 * The tools of a workspace and mode: each active agent, then each workflow, oldest first, named
 * after them (unique across both kinds, so an agent's tool name never depends on the workflows).
 * Both kinds are always loaded, whatever the caller may see, so that a name means the same tool
 * in every request.
 */
export async function loadCatalogue(services: { agents: AgentService; workflows: WorkflowService }, scope: Scope): Promise<CatalogueEntry[]> {
  const [agents, workflows] = await Promise.all([
    oldestFirst((page) => services.agents.list(scope, page, 'active'), MAX_TOOLS_PER_KIND),
    oldestFirst((page) => services.workflows.list(scope, page), MAX_TOOLS_PER_KIND),
  ]);
  const names = uniqueToolNames([
    ...agents.map((agent) => ({ name: agent.name, fallback: 'agent' })),
    ...workflows.map((workflow) => ({ name: workflow.name, fallback: 'workflow' })),
  ]);
  return [
    ...agents.map((agent, i): CatalogueEntry => ({ kind: 'agent', agent, tool: agentTool(agent, names[i]!) })),
    ...workflows.map((workflow, i): CatalogueEntry => ({ kind: 'workflow', workflow, tool: workflowTool(workflow, names[agents.length + i]!) })),
  ];
}
