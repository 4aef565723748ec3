import { ComputeError, type ProcessPool } from '../compute/process-pool.js';
import { compileExpression, DEFAULT_EXPRESSION_LIMITS, evaluateExpression, ExpressionError, type Evaluate } from './expressions.js';
import type { EvaluateTaskResult } from './expression-tasks.js';

/** The code of an ExpressionError for a result over the workflow data limit. */
export const RESULT_TOO_LARGE = 'result_too_large';

/** Time a worker may take beyond the expression's own timeout: moving the scope there and back. */
const TRANSFER_GRACE_MS = 500;

/**
 * Where workflow expressions run. Most run in process, where JSONata's own clock bounds them;
 * those that can hold the event loop inside one native step (ranges, regular expressions,
 * `$eval`) run in a compute pool worker, which is ended when it outlives the timeout.
 */
export class ExpressionEvaluator {
  /** `maxResultBytes`: the largest result, as JSON, a worker hands back (larger ones fail with `result_too_large`). */
  constructor(private readonly pool: ProcessPool, private readonly heapMb: number, private readonly maxResultBytes: number) {}

  /** An `Evaluate` for one workspace's expressions (its worker tasks queue as that workspace's). */
  for(workspaceId: string): Evaluate {
    return async (source, scope, limits = DEFAULT_EXPRESSION_LIMITS) => {
      if (!compileExpression(source, limits).unbounded) return evaluateExpression(source, scope, limits);
      let result: EvaluateTaskResult;
      try {
        result = await this.pool.run<EvaluateTaskResult>(workspaceId, 'evaluate', [source, scope, { ...limits }, this.maxResultBytes], { timeoutMs: limits.timeoutMs + TRANSFER_GRACE_MS });
      } catch (error) {
        if (!(error instanceof ComputeError)) throw error;
        if (error.reason === 'timeout') throw new ExpressionError(`Evaluation timeout after ${limits.timeoutMs} milliseconds.`, { code: 'D1012' });
        if (error.reason === 'out_of_memory') throw new ExpressionError(`Evaluation needed more than the ${this.heapMb} MB of memory a worker has.`);
        throw error;
      }
      if (result.ok) return result.value;
      if ('tooLarge' in result) {
        throw new ExpressionError(
          `its result is ${result.tooLarge} bytes of JSON, more than the ${this.maxResultBytes} allowed (--max-workflow-data-bytes / KAIRO_MAX_WORKFLOW_DATA_BYTES)`,
          { code: RESULT_TOO_LARGE },
        );
      }
      throw new ExpressionError(result.message, { code: result.code, position: result.position });
    };
  }
}
