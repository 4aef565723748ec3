import type { ParallelStep } from '../../definition.js';
import type { StepExecutor } from './executor.js';

/** The branches run at once and are joined; the output is `{ <branch name>: <last step's output> }`. */
export const parallelStep: StepExecutor<ParallelStep> = {
  async run(walker, step, state, frame) {
    if (state.status === 'pending') {
      Object.assign(state, { status: 'running', startedAt: walker.now() });
      await walker.saveStep(state, { type: 'step.started', data: {} });
    }
    const results = await Promise.allSettled(step.branches.map((b) => walker.sequence(b.steps, frame)));
    await walker.enclosing(state, () => walker.settle(results));
    const output = Object.fromEntries(step.branches.map((b, i) => [b.name, (results[i] as PromiseFulfilledResult<unknown>).value]));
    return walker.succeed(state, output);
  },
};
