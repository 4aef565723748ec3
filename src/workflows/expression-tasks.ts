import { evaluateExpression, ExpressionError, type ExpressionLimits, type ExpressionScope } from './expressions.js';

export type EvaluateTaskResult = { ok: true; value: unknown } | { ok: false; message: string; code: string | undefined; position: number | undefined };

/** Evaluates one expression in a worker process; an ExpressionError comes back as a result, not a throw. */
export async function evaluateTask(source: string, scope: ExpressionScope, limits: ExpressionLimits): Promise<EvaluateTaskResult> {
  try {
    return { ok: true, value: await evaluateExpression(source, scope, limits) };
  } catch (error) {
    if (error instanceof ExpressionError) return { ok: false, message: error.message, code: error.code, position: error.position };
    throw error;
  }
}
