import type { Run, Scope, Store } from '../../store/port.js';
import type { ContextService } from '../../context/context-service.js';
import type { SafeFetcher } from '../../context/ports.js';
import type { AgentConfig } from '../agent-config.js';
import type { PreparedTools, ToolCallContext, ToolRuntime } from './types.js';
import type { ToolDefinition, ToolResult, ToolSpec } from '../tools/ports.js';
import { callHttpTool } from '../tools/http-tool.js';
import { toolSigningSecrets } from '../tool-signing-secret.js';
import { McpToolset } from '../tools/mcp-tool.js';
import { validateArguments } from '../tools/validate.js';

/** Runs another agent of the workspace as a tool (its run hangs under the call's span) and returns its output. */
export type SubAgentRunner = (parent: Run, agentId: string, input: string, call: ToolCallContext) => Promise<{ ok: boolean; output: string; error?: string }>;

const CONTEXT_SEARCH_PARAMETERS = {
  type: 'object',
  properties: {
    query: { type: 'string', description: 'What to look for.' },
    top_k: { type: 'integer', minimum: 1, maximum: 20, description: 'How many passages (default 5).' },
  },
  required: ['query'],
  additionalProperties: false,
};

const AGENT_PARAMETERS = {
  type: 'object',
  properties: { input: { type: 'string', description: 'The request for the agent.' } },
  required: ['input'],
  additionalProperties: false,
};

function since(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

/** Prepares an agent's tools for one run: specs for the model and server-side execution. */
export class AgentToolRuntime implements ToolRuntime {
  constructor(
    private readonly deps: {
      store: Store;
      context: ContextService;
      fetcher: SafeFetcher;
      outboundAllowCidrs: readonly string[];
      runSubAgent: SubAgentRunner;
    },
  ) {}

  async prepare(run: Run, config: AgentConfig, signal: AbortSignal): Promise<PreparedTools> {
    const specs: ToolSpec[] = [];
    const definitions = new Map<string, ToolDefinition>();
    const executors = new Map<string, (args: unknown, call: ToolCallContext) => Promise<ToolResult>>();
    const toolsets: McpToolset[] = [];
    const add = (definition: ToolDefinition, spec: ToolSpec, execute?: (args: any, call: ToolCallContext) => Promise<ToolResult>) => {
      specs.push(spec);
      definitions.set(spec.name, definition);
      if (execute) executors.set(spec.name, execute);
    };

    const tools = [...config.tools];
    // Context as a tool, when the agent asks for it and did not declare one itself.
    if (config.context.length > 0 && config.context_mode !== 'auto' && !tools.some((t) => t.type === 'context_search')) {
      tools.push({ type: 'context_search' });
    }
    try {
      for (const definition of tools) {
        switch (definition.type) {
          case 'context_search': {
            const sources = definition.sources ?? config.context;
            add(definition, {
              name: definition.name ?? 'context_search',
              description: definition.description ?? 'Search the agent\'s knowledge sources and return the most relevant passages.',
              parameters: CONTEXT_SEARCH_PARAMETERS,
            }, async (args: { query: string; top_k?: number }) => {
              const started = performance.now();
              const result = await this.deps.context.retrieval.query(run.scope, {
                query: String(args.query ?? ''), sources, topK: Math.min(20, args.top_k ?? definition.top_k ?? 5), mode: 'hybrid',
              });
              return {
                ok: true,
                latencyMs: since(started),
                output: result.hits.map((h) => ({ text: h.chunk.text, source: h.source.name, title: h.document.title, url: h.document.url, score: h.score })),
              };
            });
            break;
          }
          case 'http': {
            const [secret, previous] = await toolSigningSecrets(this.deps.store, run.scope);
            add(definition, { name: definition.name, description: definition.description ?? '', parameters: definition.parameters }, (args, call) =>
              callHttpTool(definition, args, { fetcher: this.deps.fetcher, signingSecret: secret!, previousSigningSecret: previous, idempotencyKey: `${run.id}_${call.id}`, runId: run.id, signal }));
            break;
          }
          case 'function':
            add(definition, { name: definition.name, description: definition.description ?? '', parameters: definition.parameters });
            break;
          case 'mcp': {
            const toolset = await McpToolset.connect({
              serverUrl: definition.server_url, serverLabel: definition.server_label, allowedTools: definition.allowed_tools,
              headers: definition.headers, allowCidrs: this.deps.outboundAllowCidrs, signal,
            });
            toolsets.push(toolset);
            for (const spec of toolset.listTools()) add(definition, spec, (args) => toolset.callTool(spec.name, args));
            break;
          }
          case 'agent': {
            const name = definition.name ?? `agent_${definition.agent_id.slice(-8)}`;
            add(definition, { name, description: definition.description ?? 'Ask another agent.', parameters: AGENT_PARAMETERS }, async (args: { input: string }, call) => {
              const started = performance.now();
              const outcome = await this.deps.runSubAgent(run, definition.agent_id, String(args.input ?? ''), call);
              return { ok: outcome.ok, output: outcome.ok ? outcome.output : { error: outcome.error }, ...(outcome.error ? { error: outcome.error } : {}), latencyMs: since(started) };
            });
            break;
          }
        }
      }
    } catch (error) {
      await Promise.all(toolsets.map((t) => t.close().catch(() => {})));
      throw error;
    }

    return {
      specs,
      definitionOf: (name) => definitions.get(name),
      async execute(name, args, call) {
        const execute = executors.get(name);
        if (!execute) return { ok: false, output: { error: `Tool ${name} cannot run on the server.` }, error: 'not executable', latencyMs: 0 };
        const definition = definitions.get(name)!;
        // Arguments of server-side tools are checked before they run; the model sees the error.
        const spec = specs.find((s) => s.name === name)!;
        if (definition.type !== 'http') {
          const check = validateArguments(spec.parameters, args);
          if (!check.ok) return { ok: false, output: { error: `Invalid arguments: ${check.error}` }, error: 'invalid arguments', latencyMs: 0 };
        }
        return execute(args, call);
      },
      async close() {
        await Promise.all(toolsets.map((t) => t.close().catch(() => {})));
      },
    };
  }
}
