import type { Store } from '../../store/port.js';

/** Agent versions are immutable: this many configurations are kept in memory. */
const AGENT_VERSION_CACHE_SIZE = 500;

/** Configurations of agent versions by `agentId@version`, kept once read (a version never changes once written). */
export class AgentVersionConfigs {
  private readonly configs = new Map<string, Record<string, unknown>>();

  constructor(private readonly store: Store) {}

  /** An agent version's configuration ({} if it is gone). */
  async get(agentId: string, version: number): Promise<Record<string, unknown>> {
    const key = `${agentId}@${version}`;
    const cached = this.configs.get(key);
    if (cached) return cached;
    const found = await this.store.agents.getVersion(agentId, version);
    if (!found) return {};
    if (this.configs.size >= AGENT_VERSION_CACHE_SIZE) this.configs.delete(this.configs.keys().next().value!);
    this.configs.set(key, found.config);
    return found.config;
  }
}
