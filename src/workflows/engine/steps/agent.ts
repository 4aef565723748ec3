import { stepSpanId } from '../../../runs/spans.js';
import type { WorkflowStepState } from '../../../store/port.js';
import type { AgentStep } from '../../definition.js';
import { AttemptFailed } from '../errors.js';
import type { Frame } from '../execution.js';
import { noteChildRun } from '../helpers.js';
import type { Walker } from '../walker.js';
import type { StepExecutor } from './executor.js';

/** One agent run per attempt, on the workflow run's slot; the output is the agent's answer. */
export const agentStep: StepExecutor<AgentStep> = {
  run: (walker, step, state, frame) => walker.attempts(step, state, () => callAgent(walker, step, state, frame), true),
};

async function callAgent(walker: Walker, step: AgentStep, state: WorkflowStepState, frame: Frame) {
  const { ex } = walker;
  const value = await walker.evaluate(frame, step.input, state.key, 'input');
  const input = typeof value === 'string' ? value : JSON.stringify(value);
  const result = await walker.deps.agents.run({
    workspace: ex.workspace, scope: ex.run.scope, agentId: step.agent, input, slot: ex.slot,
    metadata: { workflow_run_id: ex.run.id, workflow_step: state.key, workflow_step_attempt: String(state.attempts), idempotency_key: `${ex.run.id}:${state.key}` },
    apiKeyId: ex.run.apiKeyId,
    parent: { runId: ex.run.id, spanId: stepSpanId(ex.run.id, state.key), workflowId: ex.run.workflowId, workflowVersion: ex.run.workflowVersion },
  });
  // Every attempt's run is linked from the step, and its tokens and cost count for the workflow run.
  if (result.runId !== null) noteChildRun(state, 'agent_run_ids', result.runId, result.usage, result.costUsd);
  ex.signal.throwIfAborted();
  if (!result.ok) throw new AttemptFailed(result.code, result.runId ? `${result.message} (agent run ${result.runId})` : result.message, result.retryable);
  return { input, output: result.output };
}
