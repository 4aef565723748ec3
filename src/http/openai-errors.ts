import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import { ModelCallFailed } from '../openai-compat/model-completions.js';
import { RunDidNotComplete } from '../openai-compat/openai-compat.js';
import { errorAnswer } from './error-status.js';
import { toKairoError } from './error-handler.js';
import { openAiErrorType } from './openapi-operations.js';

/** OpenAI's error body, which the OpenAI-compatible routes answer with instead of KAIRO's. */
const OpenAiErrorBody = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String({ description: 'invalid_request_error, authentication_error, permission_error, rate_limit_error or api_error.' }),
    param: Type.Union([Type.String(), Type.Null()], { description: 'The request field the error is about.' }),
    code: Type.Union([Type.String(), Type.Null()], { description: 'KAIRO\'s error code (docs/api.md), or model_not_found when `model` names nothing.' }),
  }),
}, { description: 'An error in OpenAI\'s shape: the OpenAI-compatible operations answer with it.' });

/** The same, as the document's shared schema. */
export const OpenAiErrorResponse = { ...OpenAiErrorBody, $id: 'OpenAiErrorResponse' };

export interface OpenAiErrorAnswer {
  status: number;
  body: { error: { message: string; type: string; param: string | null; code: string | null } };
  headers?: Record<string, string>;
}

const typeOf = openAiErrorType;

/**
 * Anything thrown on an OpenAI-compatible route as OpenAI's error: KAIRO's status and code (the
 * same rules as everywhere else), except that a `model` naming no agent or model is 404
 * `model_not_found`. A model that failed, or an agent run that failed or was cancelled, is a
 * 502 whose code says why (a hard budget a run used up, 403 `budget_exceeded`).
 */
export function openAiErrorAnswer(error: unknown, requestId: string, options: { reference?: boolean } = {}): OpenAiErrorAnswer & { kairoCode: string } {
  if (error instanceof ModelCallFailed) {
    return { status: 502, kairoCode: 'model_failed', body: { error: { message: error.message, type: 'api_error', param: null, code: 'model_failed' } } };
  }
  if (error instanceof RunDidNotComplete) {
    const status = error.code === 'budget_exceeded' ? 403 : 502;
    return { status, kairoCode: error.code, body: { error: { message: error.message, type: typeOf(status), param: null, code: error.code } } };
  }
  const kairoError = toKairoError(error);
  if (kairoError.code === 'resource_missing' && kairoError.param === 'model') {
    return { status: 404, kairoCode: kairoError.code, body: { error: { message: kairoError.message, type: 'invalid_request_error', param: 'model', code: 'model_not_found' } } };
  }
  const answer = errorAnswer(kairoError, requestId, options);
  return {
    status: answer.status,
    kairoCode: kairoError.code,
    body: { error: { message: answer.body.error.message, type: typeOf(answer.status), param: answer.body.error.param ?? null, code: kairoError.code } },
    ...(kairoError.headers ? { headers: kairoError.headers } : {}),
  };
}

/**
 * Answers every error of the routes registered in `scope` in OpenAI's shape, and documents that
 * shape for them (replacing KAIRO's standard error schema, which the OpenAPI plugin puts on
 * every route before this scope's hook runs).
 */
export function useOpenAiErrors(scope: FastifyInstance): void {
  scope.addHook('onRoute', (route) => {
    const schema = (route.schema ??= {}) as Record<string, any>;
    // Inline, so that the routes serialize their errors wherever they are registered.
    const errors = OpenAiErrorBody;
    schema.response = { ...(schema.response ?? {}), '4xx': errors, '5xx': errors };
  });
  scope.setErrorHandler((error, request, reply) => {
    const params = request.params as Record<string, unknown> | undefined;
    const kairoError = toKairoError(error);
    const reference = kairoError.code === 'resource_missing' && kairoError.param !== undefined && kairoError.param !== 'model' && !(params && Object.hasOwn(params, kairoError.param));
    const answer = openAiErrorAnswer(error, request.id, { reference });
    request.errorCode = answer.kairoCode;
    if (answer.status >= 500 && answer.status !== 502 && answer.body.error.code !== 'service_unavailable') request.log.error({ err: error }, 'request failed');
    if (answer.headers) reply.headers(answer.headers);
    reply.code(answer.status).type('application/json').send(answer.body);
  });
}
