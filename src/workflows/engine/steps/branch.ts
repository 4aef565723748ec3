import type { BranchStep } from '../../definition.js';
import type { StepExecutor } from './executor.js';

/** The first case whose `when` is truthy runs (else the default); the others' steps are skipped. */
export const branchStep: StepExecutor<BranchStep> = {
  async run(walker, step, state, frame) {
    let chosen = state.state.case as number | undefined;
    if (chosen === undefined) {
      try {
        chosen = -1;
        for (const [index, option] of step.cases.entries()) {
          if (truthy(await walker.evaluate(frame, option.when, state.key, `cases[${index}].when`))) {
            chosen = index;
            break;
          }
        }
      } catch (error) {
        throw await walker.failStep(state, error);
      }
      const taken = chosen;
      const sequences = [...step.cases.map((c) => c.steps), step.default ?? []];
      await walker.skipAll(frame, sequences.filter((_, i) => i !== (taken === -1 ? step.cases.length : taken)).flat());
      Object.assign(state, { status: 'running', startedAt: walker.now(), state: { case: chosen }, input: { case: chosen === -1 ? 'default' : chosen } });
      await walker.saveStep(state, { type: 'step.started', data: { case: chosen === -1 ? 'default' : chosen } });
    }
    const sequence = chosen === -1 ? step.default ?? [] : step.cases[chosen]!.steps;
    const output = await walker.enclosing(state, () => walker.sequence(sequence, frame));
    return walker.succeed(state, output);
  },
};

function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return Boolean(value);
}
