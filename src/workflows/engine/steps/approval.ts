import { parseDuration, type ApprovalStep } from '../../definition.js';
import { Parked } from '../errors.js';
import type { StepExecutor } from './executor.js';

/**
 * Parks the run until someone resumes it (the data given is the output) or the timeout passes:
 * then `on_timeout` runs (the output is null), or without it the step fails.
 */
export const approvalStep: StepExecutor<ApprovalStep> = {
  async run(walker, step, state, frame) {
    if (state.status === 'pending') {
      const wakeAt = step.timeout ? walker.now() + parseDuration(step.timeout)! : null;
      Object.assign(state, { status: 'waiting', startedAt: walker.now(), wakeAt, input: { prompt: step.prompt ?? null } });
      await walker.saveStep(state, { type: 'step.waiting', data: { prompt: step.prompt ?? null, expires_at: wakeAt === null ? null : new Date(wakeAt).toISOString() } });
      throw new Parked(wakeAt);
    }
    if (state.status === 'waiting') {
      // Read again: the approval may have been given since this advance began.
      const current = (await walker.deps.store.workflowRuns.steps(walker.ex.run.id)).find((s) => s.key === state.key) ?? state;
      Object.assign(state, current);
      const resolution = state.state.resolution as { data: unknown } | undefined;
      if (resolution) return walker.succeed(state, resolution.data);
      if (state.wakeAt === null || state.wakeAt > walker.now()) throw new Parked(state.wakeAt);
      if (!step.on_timeout) return walker.failWith(state, 'approval_timeout', `Step '${state.key}' was not approved within ${step.timeout}.`);
      Object.assign(state, { status: 'running', state: { timed_out: true } });
      await walker.saveStep(state, { type: 'step.timed_out', data: {} });
    }
    await walker.enclosing(state, () => walker.sequence(step.on_timeout ?? [], frame));
    return walker.succeed(state, null);
  },
};
