import { KairoError } from '../errors.js';
import { isId, newId } from '../ids.js';
import type { Agent, AgentStatus, AgentVersion, Page, PageRequest, Scope, Store } from '../store/port.js';
import type { ModelCatalogue, RoutingPreference } from '../models/ports.js';
import type { SourceService } from '../context/sources.js';
import type { ToolDefinition } from './tools/ports.js';
import { DEFAULT_CONTEXT_MAX_TOKENS, DEFAULT_ROUTING, DEFAULT_SETTINGS, readConfig, type AgentConfig, type ContextMode } from './agent-config.js';

/** Fields a client may set on create or update (API names). */
export interface AgentInput {
  name?: string;
  description?: string | null;
  model?: string;
  instructions?: string | null;
  context?: string[];
  context_mode?: ContextMode;
  context_max_tokens?: number;
  tools?: ToolDefinition[];
  settings?: Partial<AgentConfig['settings']>;
  routing?: { optimize?: RoutingPreference; allowed_models?: string[] | null };
  status?: AgentStatus;
  metadata?: Record<string, string>;
}

/** Checks tool definitions; throws KairoError naming the field. */
export type ToolValidator = (tools: unknown[], param: string) => void;

/** Agents: create, read, change (each change is a new immutable version), delete. */
export class AgentService {
  constructor(
    private readonly store: Store,
    private readonly catalogue: ModelCatalogue,
    private readonly sources: SourceService,
    private readonly validateTools: ToolValidator,
    private readonly now: () => number = Date.now,
  ) {}

  async create(scope: Scope, input: AgentInput & { name: string }): Promise<Agent> {
    const config = await this.buildConfig(scope, input, undefined);
    const now = this.now();
    return this.store.agents.create({
      id: newId('agent'),
      scope,
      name: input.name,
      status: input.status ?? 'active',
      version: 1,
      config: config as unknown as Record<string, unknown>,
      metadata: input.metadata ?? {},
      createdAt: now,
      updatedAt: now,
    });
  }

  async get(scope: Scope, id: string): Promise<Agent> {
    const agent = isId('agent', id) ? await this.store.agents.get(scope, id) : undefined;
    if (!agent) throw new KairoError('resource_missing', { message: `No such agent: '${id}'.`, param: 'id' });
    return agent;
  }

  /**
   * The agent `idOrName` names (an agent id, or the name of exactly one agent); undefined when
   * none does. A name several agents share is refused naming `param`: only the id tells them apart.
   */
  async find(scope: Scope, idOrName: string, param: string): Promise<Agent | undefined> {
    if (isId('agent', idOrName)) return this.store.agents.get(scope, idOrName);
    const named = await this.store.agents.named(scope, idOrName, 2);
    if (named.length > 1) {
      throw new KairoError('parameter_invalid', { message: `Several agents are named '${idOrName}'; name the one you mean by its id.`, param });
    }
    return named[0];
  }

  list(scope: Scope, page: PageRequest, status?: AgentStatus): Promise<Page<Agent>> {
    return this.store.agents.list(scope, page, { status });
  }

  /** Applies a change; a change to the configuration makes a new version. */
  async update(scope: Scope, id: string, input: AgentInput): Promise<Agent> {
    const agent = await this.get(scope, id);
    const before = readConfig(agent.config);
    const config = await this.buildConfig(scope, input, before);
    const changed = JSON.stringify(config) !== JSON.stringify(before);
    const next: Agent = {
      ...agent,
      name: input.name ?? agent.name,
      status: input.status ?? agent.status,
      metadata: input.metadata ?? agent.metadata,
      config: config as unknown as Record<string, unknown>,
      version: changed ? agent.version + 1 : agent.version,
      updatedAt: this.now(),
    };
    return this.store.transaction(async (tx) => tx.agents.update(next, changed));
  }

  async delete(scope: Scope, id: string): Promise<Agent> {
    const agent = await this.get(scope, id);
    await this.store.agents.delete(scope, agent.id, this.now());
    return agent;
  }

  async versions(scope: Scope, id: string, page: PageRequest): Promise<Page<AgentVersion>> {
    const agent = await this.get(scope, id);
    return this.store.agents.versions(agent.id, page);
  }

  private async buildConfig(scope: Scope, input: AgentInput, before: AgentConfig | undefined): Promise<AgentConfig> {
    const model = input.model ?? before?.model ?? 'auto';
    if (model !== 'auto') {
      const info = this.catalogue.get(model);
      if (!info) throw new KairoError('parameter_invalid', { message: `Unknown model "${model}". Use "auto" or an id from GET /v1/models.`, param: 'model' });
      if (scope.livemode && !info.available) {
        throw new KairoError('parameter_invalid', { message: `The provider of "${model}" is not configured on this server; live mode cannot use it.`, param: 'model' });
      }
    }
    let context = before?.context ?? [];
    if (input.context !== undefined) {
      context = [];
      for (const [i, ref] of input.context.entries()) context.push((await this.sources.resolve(scope, ref, `context[${i}]`)).id);
      context = [...new Set(context)];
    }
    let tools = input.tools ?? before?.tools ?? [];
    if (input.tools !== undefined) {
      this.validateTools(input.tools, 'tools');
      tools = [];
      for (const [i, tool] of input.tools.entries()) {
        if (tool.type === 'agent' && !(isId('agent', tool.agent_id) && (await this.store.agents.get(scope, tool.agent_id)))) {
          throw new KairoError('resource_missing', { message: `No such agent in this workspace: '${tool.agent_id}'.`, param: `tools[${i}].agent_id` });
        }
        if (tool.type === 'context_search' && tool.sources !== undefined) {
          // Like `context`: checked now, and kept as ids so that renaming a source breaks nothing.
          const sources: string[] = [];
          for (const [j, ref] of tool.sources.entries()) sources.push((await this.sources.resolve(scope, ref, `tools[${i}].sources[${j}]`)).id);
          tools.push({ ...tool, sources: [...new Set(sources)] });
        } else {
          tools.push(tool);
        }
      }
    }
    const allowed = input.routing?.allowed_models !== undefined ? input.routing.allowed_models : before?.routing.allowed_models ?? null;
    for (const [i, id] of (allowed ?? []).entries()) {
      if (!this.catalogue.get(id)) throw new KairoError('parameter_invalid', { message: `Unknown model "${id}".`, param: `routing.allowed_models[${i}]` });
    }
    return {
      description: input.description !== undefined ? input.description : before?.description ?? null,
      model,
      instructions: input.instructions !== undefined ? input.instructions : before?.instructions ?? null,
      context,
      context_mode: input.context_mode ?? before?.context_mode ?? 'auto',
      context_max_tokens: input.context_max_tokens ?? before?.context_max_tokens ?? DEFAULT_CONTEXT_MAX_TOKENS,
      tools,
      settings: { ...DEFAULT_SETTINGS, ...before?.settings, ...stripUndefined(input.settings ?? {}) },
      routing: { optimize: input.routing?.optimize ?? before?.routing.optimize ?? DEFAULT_ROUTING.optimize, allowed_models: allowed },
    };
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
