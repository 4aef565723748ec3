import type { RoutingPreference } from '../models/ports.js';
import type { ToolDefinition } from './tools/ports.js';

/** How an agent uses its context sources. */
export type ContextMode = 'auto' | 'tool' | 'both';

/** One immutable version of an agent's configuration (snake_case, as in the API). */
export interface AgentConfig {
  description: string | null;
  model: string;
  instructions: string | null;
  /** Context source ids. */
  context: string[];
  context_mode: ContextMode;
  /** Token budget of automatically retrieved context. */
  context_max_tokens: number;
  tools: ToolDefinition[];
  settings: {
    temperature: number | null;
    max_output_tokens: number | null;
    max_steps: number;
    timeout_ms: number;
  };
  routing: { optimize: RoutingPreference; allowed_models: string[] | null };
}

export const DEFAULT_SETTINGS: AgentConfig['settings'] = { temperature: null, max_output_tokens: null, max_steps: 8, timeout_ms: 120_000 };
export const DEFAULT_ROUTING: AgentConfig['routing'] = { optimize: 'balanced', allowed_models: null };
export const DEFAULT_CONTEXT_MAX_TOKENS = 1500;

/** The stored configuration as typed config (stored JSON comes from this module, so no schema check). */
export function readConfig(config: Record<string, unknown>): AgentConfig {
  return config as unknown as AgentConfig;
}
