import type { Workflow } from '../../../store/port.js';
import { isFinal } from '../../../runs/statuses.js';
import type { WorkflowCallStep } from '../../definition.js';
import { AttemptFailed, Parked } from '../errors.js';
import type { StepExecutor } from './executor.js';

/** Starts a run of another workflow and parks until its end wakes this run; its output is the step's. */
export const workflowStep: StepExecutor<WorkflowCallStep> = {
  async run(walker, step, state, frame) {
    const { ex, deps } = walker;
    const childId = state.state.child_run_id as string | undefined;
    if (childId === undefined) {
      let input: unknown;
      let callee: Workflow | undefined;
      try {
        input = step.input === undefined ? {} : await walker.evaluate(frame, step.input, state.key, 'input');
        const tooLarge = walker.oversize(state.key, 'input', input);
        if (tooLarge) throw tooLarge;
        callee = await deps.store.workflows.get(ex.run.scope, step.workflow);
        if (!callee) throw new AttemptFailed('workflow_missing', `Step '${state.key}': workflow ${step.workflow} no longer exists.`, false);
      } catch (error) {
        throw await walker.failStep(state, error);
      }
      const target = callee;
      await deps.store.transaction(async (tx) => {
        const child = await walker.createRun(ex.run.scope, target, {
          input, mode: 'background', trigger: 'workflow', parentRunId: ex.run.id, parentStepKey: state.key,
          metadata: { parent_run_id: ex.run.id }, apiKeyId: ex.run.apiKeyId,
        }, tx);
        Object.assign(state, { status: 'running', startedAt: walker.now(), attempts: 1, input, state: { child_run_id: child.id } });
        await walker.saveStep(state, { type: 'step.started', data: { child_run_id: child.id } }, tx);
      });
      // The child's end wakes this run.
      throw new Parked(null);
    }
    const child = await deps.store.workflowRuns.getById(childId);
    if (!child || !isFinal(child.status)) throw new Parked(null);
    Object.assign(state.state, { usage: child.usage, cost_usd: child.costUsd });
    if (child.status === 'completed') return walker.succeed(state, child.output);
    const message = `Workflow run ${child.id} ended ${child.status}${child.errorMessage ? `: ${child.errorMessage}` : ''}.`;
    return walker.failWith(state, 'workflow_failed', message, `Step '${state.key}' failed: ${message}`);
  },
};
