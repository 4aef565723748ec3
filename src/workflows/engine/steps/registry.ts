import type { Step, StepType } from '../../definition.js';
import type { StepExecutor } from './executor.js';
import { agentStep } from './agent.js';
import { approvalStep } from './approval.js';
import { branchStep } from './branch.js';
import { delayStep } from './delay.js';
import { httpStep } from './http.js';
import { mapStep } from './map.js';
import { parallelStep } from './parallel.js';
import { transformStep } from './transform.js';
import { workflowStep } from './workflow.js';

const EXECUTORS: { [T in StepType]: StepExecutor<Extract<Step, { type: T }>> } = {
  agent: agentStep,
  http: httpStep,
  transform: transformStep,
  branch: branchStep,
  parallel: parallelStep,
  map: mapStep,
  delay: delayStep,
  approval: approvalStep,
  workflow: workflowStep,
};

export function executorFor<S extends Step>(step: S): StepExecutor<S> {
  return EXECUTORS[step.type] as unknown as StepExecutor<S>;
}
