import type { Scope, Usage, WorkflowRun, Workspace } from '../../store/port.js';
import type { RunSlot } from '../../platform/run-slots.js';
import type { RunParent } from '../../agents/run-engine.js';

/** What an agent step needs from the agents area. */
export interface AgentCaller {
  /** Runs an agent to completion on the workflow run's slot, as a child of the step's span. */
  run(request: {
    workspace: Workspace; scope: Scope; agentId: string; input: string; slot: RunSlot; metadata: Record<string, string>;
    apiKeyId: string | null; parent: RunParent;
  }): Promise<AgentCallResult>;
}

/** How an agent step's run ended; `usage` and `costUsd` are the run's (zero when none started). */
export type AgentCallResult = { runId: string | null; usage: Usage; costUsd: number } & (
  | { ok: true; runId: string; output: string }
  | { ok: false; code: string; message: string; retryable: boolean }
);

export interface StartWorkflowRun {
  input: unknown;
  mode: WorkflowRun['mode'];
  trigger: WorkflowRun['trigger'];
  scheduledFor?: number;
  parentRunId?: string;
  parentStepKey?: string;
  metadata?: Record<string, string>;
  /** The API key whose request starts the run (or started the calling run). */
  apiKeyId?: string | null;
}

/** How much data a run may carry. */
export interface WorkflowDataLimits {
  /** Most items a `map` step iterates. */
  maxMapItems: number;
  /** Largest step output (and run input), as JSON bytes. */
  maxWorkflowDataBytes: number;
}
