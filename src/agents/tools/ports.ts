/** Tool definitions as an agent's configuration holds them (snake_case, as in the API). */
export type ToolDefinition =
  | { type: 'context_search'; name?: string; description?: string; sources?: string[]; top_k?: number; requires_approval?: boolean }
  | {
      type: 'http';
      name: string;
      description?: string;
      url: string;
      method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
      headers?: Record<string, string>;
      /** JSON Schema of the arguments the model sends (an object schema). */
      parameters: Record<string, unknown>;
      timeout_ms?: number;
      requires_approval?: boolean;
    }
  | { type: 'function'; name: string; description?: string; parameters: Record<string, unknown>; requires_approval?: boolean }
  | { type: 'mcp'; server_label: string; server_url: string; allowed_tools: string[]; headers?: Record<string, string>; requires_approval?: boolean }
  | { type: 'agent'; agent_id: string; name?: string; description?: string; requires_approval?: boolean };

/** What a tool call produced; errors go back to the model as results, not as run failures. */
export interface ToolResult {
  ok: boolean;
  /** JSON-serialisable output shown to the model. */
  output: unknown;
  /** A short error description when `ok` is false. */
  error?: string;
  latencyMs: number;
}

/** A tool as offered to the model: name, description and JSON Schema of its arguments. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}
