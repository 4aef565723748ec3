/** Tool definitions as an agent's configuration holds them: derived from their schemas. */
export type { ToolDefinition } from './schemas.js';

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
