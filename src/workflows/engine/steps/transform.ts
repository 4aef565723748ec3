import type { TransformStep } from '../../definition.js';
import type { StepExecutor } from './executor.js';

/** The expression's value is the output; written once, when done. */
export const transformStep: StepExecutor<TransformStep> = {
  run: (walker, step, state, frame) =>
    walker.attempts(step, state, async () => ({ output: await walker.evaluate(frame, step.expression, state.key, 'expression') }), false),
};
