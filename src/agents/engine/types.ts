import type { ModelMessage } from 'ai';
import type { RunSlot } from '../../platform/run-slots.js';
import type { Run } from '../../store/port.js';
import type { AgentConfig } from '../agent-config.js';
import type { ToolDefinition, ToolResult, ToolSpec } from '../tools/ports.js';

/** A tool call the model made. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: unknown;
}

/** A tool call the client must answer (a function tool, or any tool that needs approval). */
export interface PendingCall extends ToolCall {
  type: 'function' | 'approval';
}

/** The client's answer to one pending call: a function tool's output, or an approval decision. */
export interface ToolAnswer {
  tool_call_id: string;
  output?: unknown;
  approve?: boolean;
  reason?: string;
}

/** One tool call as the tool sees it. */
export interface ToolCallContext {
  id: string;
  spanId: string;
}

/** Tools prepared for one run: specs for the model and how to run each server-side tool. */
export interface PreparedTools {
  specs: ToolSpec[];
  definitionOf(name: string): ToolDefinition | undefined;
  /** Runs a server-side tool; `call.spanId` is the call's span (a sub-agent's run hangs under it). */
  execute(name: string, args: unknown, call: ToolCallContext, signal: AbortSignal): Promise<ToolResult>;
  close(): Promise<void>;
}

/** Builds the tools of a run (connects MCP servers, signs HTTP calls, searches context…). */
export interface ToolRuntime {
  prepare(run: Run, config: AgentConfig, signal: AbortSignal): Promise<PreparedTools>;
}

/** What the engine keeps in `run.state` between steps and across requires_action. */
export interface EngineState {
  messages: ModelMessage[];
  system: string;
  steps: number;
  pending: PendingCall[];
  requiredActionExpiresAt?: number;
  retrievalMs?: number;
  /** When a background run first found its workspace at the concurrent-run cap. */
  slotWaitSince?: number;
  /** How many times the client has answered the run. */
  resumes?: number;
  /** The client's answers, applied when the resumed run starts. */
  answers?: ToolAnswer[];
  /** The API request a wait or stream run executes in, which its events name. */
  requestId?: string;
  [key: string]: unknown;
}

/** What started a run that another run started: the calling run and its span (tool call or workflow step). */
export interface RunParent {
  runId: string;
  spanId: string;
  workflowId: string | null;
  workflowVersion: number | null;
}

export interface StartRunInput {
  input: string | ModelMessage[];
  threadId?: string;
  mode: Run['mode'];
  metadata?: Record<string, string>;
  /** A slot the caller already holds (a workflow run calling an agent): the run uses it and leaves it held. */
  slot?: RunSlot;
  /** The API key whose request this is (or that started the calling run). */
  apiKeyId?: string | null;
  /** The API request that starts the run, for its events. */
  requestId?: string | null;
  parent?: RunParent;
}
