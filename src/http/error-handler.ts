import type { FastifyError, FastifyInstance } from 'fastify';
import { ApiError, errorBody, type ErrorCode } from '../errors.js';

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `/tools/0/name` → `tools[0].name`, the way the error `param` names a field. */
function fieldPath(instancePath: string, extra?: unknown): string | undefined {
  const parts = instancePath.split('/').filter(Boolean);
  if (typeof extra === 'string') parts.push(extra);
  let out = '';
  for (const part of parts) {
    const decoded = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(decoded) ? `[${decoded}]` : out === '' ? decoded : `.${decoded}`;
  }
  return out === '' ? undefined : out;
}

function fromValidation(errors: AjvError[], context: string | undefined): ApiError {
  const first = errors[0]!;
  const where = context === 'querystring' ? 'query parameter' : context === 'params' ? 'path parameter' : 'parameter';
  if (first.keyword === 'required') {
    const param = fieldPath(first.instancePath, first.params.missingProperty);
    return new ApiError('parameter_missing', { message: `Missing required ${where}: ${param}.`, param });
  }
  if (first.keyword === 'additionalProperties') {
    const param = fieldPath(first.instancePath, first.params.additionalProperty);
    return new ApiError('parameter_unknown', { message: `Unknown ${where}: ${param}.`, param });
  }
  const param = fieldPath(first.instancePath);
  if (param === undefined) {
    return new ApiError('invalid_request', { message: `The request ${context ?? 'body'} ${first.message ?? 'is invalid'}.` });
  }
  return new ApiError('parameter_invalid', { message: `Invalid ${where} ${param}: ${first.message ?? 'invalid value'}.`, param });
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
};

/** Turns anything thrown during a request into an ApiError; unknown errors become internal_error. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const fe = error as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (fe && Array.isArray(fe.validation) && fe.validation.length > 0) return fromValidation(fe.validation, fe.validationContext);
  const mapped = fe?.code ? fastifyCodes[fe.code] : undefined;
  if (mapped) return new ApiError(mapped);
  if (error instanceof SyntaxError && fe.statusCode === 400) return new ApiError('invalid_json');
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ApiError(fe.statusCode === 404 ? 'route_not_found' : 'invalid_request', {
      message: fe.statusCode === 404 ? undefined : 'The request could not be processed.',
    });
  }
  return new ApiError('internal_error');
}

/** One error handler and one not-found handler for the whole API, both in the standard shape. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500) request.log.error({ err: error }, 'request failed');
    if (apiError.headers) reply.headers(apiError.headers);
    reply.code(apiError.status).type('application/json').send(errorBody(apiError, request.id));
  });

  app.setNotFoundHandler((request, reply) => {
    const apiError = new ApiError('route_not_found', { message: `No route ${request.method} ${request.url.split('?')[0]}.` });
    reply.code(404).send(errorBody(apiError, request.id));
  });
}
