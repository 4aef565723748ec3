import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { KairoError } from '../errors.js';
import type { AuthContext } from '../platform/authenticate.js';
import type { AgentsModule } from '../agents/agents-module.js';
import type { WorkflowsModule } from '../workflows/workflows-module.js';
import type { Agent, Run, Workflow, WorkflowRun } from '../store/port.js';
import { FINAL_EVENTS } from '../runs/statuses.js';

/**
 * How long a workflow tool call waits for its run to finish before it answers with the run's id
 * and status (the run goes on; the client follows it through the API). An agent tool call waits
 * for its run like `POST /v1/agents/{id}/runs` does, bounded by the agent's `timeout_ms`.
 */
export const WORKFLOW_TOOL_WAIT_MS = 30_000;
/** The longest message an agent tool takes, as `POST /v1/agents/{id}/runs` does. */
const MAX_MESSAGE_CHARS = 1_000_000;
const MAX_THREAD_ID_CHARS = 64;

/** Who calls the tool: the API key's workspace and mode, and the request that carries the call. */
export interface ToolCaller {
  auth: AuthContext;
  requestId: string;
  /** Called with the id of the run the call starts (for the request log). */
  onRunCreated(runId: string): void;
}

/** A tool result that reports a failure to the model (MCP tool errors are results, not protocol errors). */
export function toolError(message: string, structuredContent?: Record<string, unknown>): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: message }], ...(structuredContent ? { structuredContent } : {}) };
}

/** A refusal of KAIRO's (budget, concurrency, invalid input…) as a tool error; anything else is rethrown. */
function refusal(error: unknown): CallToolResult {
  if (error instanceof KairoError) return toolError(`${error.code}: ${error.message}${error.param ? ` (${error.param})` : ''}`);
  throw error;
}

/** The arguments of an agent tool, or why they are not valid. */
function agentArguments(args: Record<string, unknown>): { message: string; threadId: string | undefined } | string {
  const unknown = Object.keys(args).find((name) => name !== 'message' && name !== 'thread_id');
  if (unknown !== undefined) return `Unknown argument: ${unknown}. The tool takes message and, optionally, thread_id.`;
  const { message, thread_id: threadId } = args;
  if (typeof message !== 'string' || message.length === 0) return 'message must be a non-empty string.';
  if (message.length > MAX_MESSAGE_CHARS) return `message must be at most ${MAX_MESSAGE_CHARS} characters.`;
  if (threadId !== undefined && (typeof threadId !== 'string' || threadId.length === 0 || threadId.length > MAX_THREAD_ID_CHARS)) {
    return `thread_id must be a thread id (a string of at most ${MAX_THREAD_ID_CHARS} characters).`;
  }
  return { message, threadId: threadId as string | undefined };
}

function agentRunResult(run: Run): CallToolResult {
  const error = run.errorCode ? { code: run.errorCode, message: run.errorMessage ?? '' } : null;
  const structuredContent = {
    run_id: run.id, agent_id: run.agentId, thread_id: run.threadId, status: run.status, output: run.output, error, required_action: run.requiredAction,
  };
  const where = `run ${run.id}${run.threadId ? `, thread ${run.threadId}` : ''}`;
  if (run.status === 'completed') {
    return { content: [{ type: 'text', text: run.output ?? '' }, { type: 'text', text: `(${where})` }], structuredContent };
  }
  if (run.status === 'requires_action') {
    const text = `The agent's ${where} requires action: a tool call waits for approval or an output. ` +
      `Answer it with POST /v1/agents/${run.agentId}/runs/${run.id}/tool_outputs (required_action says what it waits for).`;
    return { content: [{ type: 'text', text }], structuredContent };
  }
  return toolError(`The agent's ${where} ${run.status}${error ? `: ${error.code}: ${error.message}` : '.'}`, structuredContent);
}

/** Runs the agent in wait mode through the run engine (budgets, slots and events apply) and returns its answer. */
export async function callAgentTool(agents: AgentsModule, caller: ToolCaller, agent: Agent, args: Record<string, unknown>): Promise<CallToolResult> {
  const parsed = agentArguments(args);
  if (typeof parsed === 'string') return toolError(parsed);
  const { auth } = caller;
  try {
    const input = { input: parsed.message, threadId: parsed.threadId, mode: 'wait', apiKeyId: auth.key.id, requestId: caller.requestId } as const;
    const { run, slot } = await agents.engine.create(auth.workspace, auth.scope, agent, input, true);
    caller.onRunCreated(run.id);
    return agentRunResult(await agents.engine.execute(run.id, auth.workspace, slot, run));
  } catch (error) {
    return refusal(error);
  }
}

/**
 * Follows the run's events until it finishes, waits for a person (an approval) or `signal`
 * aborts. Timed waits (delays, backoffs) are followed through.
 */
async function settle(workflows: WorkflowsModule, runId: string, signal: AbortSignal): Promise<void> {
  let last = 0;
  while (!signal.aborted) {
    for await (const event of workflows.events.follow(runId, last, signal)) {
      last = event.seq;
      if (FINAL_EVENTS.has(event.type)) return;
      if (event.type === 'run.waiting' && event.data.waiting_for === 'approval') return;
    }
  }
}

function workflowRunResult(run: WorkflowRun): CallToolResult {
  const error = run.errorCode ? { code: run.errorCode, message: run.errorMessage ?? '', step: run.errorStep } : null;
  const structuredContent = { run_id: run.id, workflow_id: run.workflowId, status: run.status, output: run.output ?? null, error };
  if (run.status === 'completed') {
    const text = typeof run.output === 'string' ? run.output : JSON.stringify(run.output ?? null);
    return { content: [{ type: 'text', text }, { type: 'text', text: `(run ${run.id})` }], structuredContent };
  }
  if (run.status === 'failed' || run.status === 'cancelled') {
    return toolError(`The workflow run ${run.id} ${run.status}${error ? `: ${error.code}: ${error.message}` : '.'}`, structuredContent);
  }
  const text = `The workflow run ${run.id} is ${run.status}${run.status === 'waiting' ? ' (for an approval or a later time)' : ''}; ` +
    `follow it with GET /v1/workflows/${run.workflowId}/runs/${run.id}.`;
  return { content: [{ type: 'text', text }], structuredContent };
}

/**
 * Starts a workflow run with `args` as its input (validated against the workflow's input schema)
 * and waits up to `waitMs` for it to finish.
 */
export async function callWorkflowTool(
  workflows: WorkflowsModule, caller: ToolCaller, workflow: Workflow, args: Record<string, unknown>, waitMs = WORKFLOW_TOOL_WAIT_MS,
): Promise<CallToolResult> {
  const { auth } = caller;
  let run: WorkflowRun;
  try {
    run = await workflows.workflows.start(auth.scope, workflow.id, { input: args, mode: 'wait', apiKeyId: auth.key.id });
  } catch (error) {
    return refusal(error);
  }
  caller.onRunCreated(run.id);
  await settle(workflows, run.id, AbortSignal.timeout(waitMs));
  return workflowRunResult((await workflows.workflows.currentRun(run.id)) ?? run);
}
