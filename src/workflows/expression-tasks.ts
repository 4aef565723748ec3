import { evaluateExpression, ExpressionError, type ExpressionLimits, type ExpressionScope } from './expressions.js';

export type EvaluateTaskResult =
  | { ok: true; value: unknown }
  | { ok: false; message: string; code: string | undefined; position: number | undefined }
  | { ok: false; tooLarge: number };

/**
 * Evaluates one expression in a worker process; an ExpressionError comes back as a result, not a
 * throw, and so does a result over `maxResultBytes` of JSON (it is measured here, so that a huge
 * value never crosses to the server).
 */
export async function evaluateTask(source: string, scope: ExpressionScope, limits: ExpressionLimits, maxResultBytes: number): Promise<EvaluateTaskResult> {
  try {
    const value = await evaluateExpression(source, scope, limits);
    // A string's JSON is at least as long as the string: a huge one is refused without writing it out.
    const bytes = value === null || typeof value === 'number' || typeof value === 'boolean'
      ? 0
      : typeof value === 'string' && value.length > maxResultBytes ? value.length : Buffer.byteLength(JSON.stringify(value));
    return bytes > maxResultBytes ? { ok: false, tooLarge: bytes } : { ok: true, value };
  } catch (error) {
    if (error instanceof ExpressionError) return { ok: false, message: error.message, code: error.code, position: error.position };
    throw error;
  }
}
