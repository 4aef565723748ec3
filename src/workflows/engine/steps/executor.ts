import type { WorkflowStepState } from '../../../store/port.js';
import type { Step } from '../../definition.js';
import type { Frame } from '../execution.js';
import type { Walker } from '../walker.js';

/**
 * Runs one step of a type: returns its output, or throws StepFailed (the run fails), Parked (the
 * run waits) or an abort. Called again on every advance until the step is finished, so an
 * executor continues from `state` as stored.
 */
export interface StepExecutor<S extends Step> {
  run(walker: Walker, step: S, state: WorkflowStepState, frame: Frame): Promise<unknown>;
}
