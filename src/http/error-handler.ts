import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { newId } from '../ids.js';
import { KairoError, DependencyUnavailableError, type ErrorCode } from '../errors.js';
import { errorAnswer } from './error-status.js';

interface AjvError {
  keyword: string;
  instancePath: string;
  schemaPath?: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * `/tools/0/name` → `tools[0].name`, the way the error `param` names a field. `property` (the
 * missing or unknown property Ajv reports) is a raw name, not a JSON-pointer segment: it is
 * appended as it is, so a field called `123`, `a~1b` or `` is named exactly.
 */
function fieldPath(instancePath: string, property?: unknown): string | undefined {
  const parts = instancePath === '' ? [] : instancePath.split('/').slice(1);
  let out = '';
  let named = false;
  for (const part of parts) {
    const decoded = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(decoded) ? `[${decoded}]` : named ? `.${decoded}` : decoded;
    named = true;
  }
  if (typeof property === 'string') {
    out += named ? `.${property}` : property;
    named = true;
  }
  return named ? out : undefined;
}

function fromValidation(errors: AjvError[], context: string | undefined): KairoError {
  const first = errors[0]!;
  const where = context === 'querystring' ? 'query parameter' : context === 'params' ? 'path parameter' : 'parameter';
  if (first.keyword === 'required') {
    const param = fieldPath(first.instancePath, first.params.missingProperty);
    return new KairoError('parameter_missing', { message: `Missing required ${where}: ${param}.`, param });
  }
  if (first.keyword === 'additionalProperties') {
    const param = fieldPath(first.instancePath, first.params.additionalProperty);
    return new KairoError('parameter_unknown', { message: `Unknown ${where}: ${param}.`, param });
  }
  const param = fieldPath(first.instancePath);
  // A field refused in the presence of another (`dependencies: {other: {properties: {field: false}}}`).
  const excludedBy = first.keyword === 'false schema' ? /\/dependencies\/([^/]+)\/properties\//.exec(first.schemaPath ?? '')?.[1] : undefined;
  if (param !== undefined && excludedBy !== undefined) {
    return new KairoError('parameter_invalid', { message: `The ${where}s ${excludedBy} and ${param} cannot be given together.`, param });
  }
  if (param === undefined) {
    return new KairoError('invalid_request', { message: `The request ${context ?? 'body'} ${first.message ?? 'is invalid'}.` });
  }
  return new KairoError('parameter_invalid', { message: `Invalid ${where} ${param}: ${first.message ?? 'invalid value'}.`, param });
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_REQ_FILE_TOO_LARGE: 'body_too_large',
  FST_PARTS_LIMIT: 'invalid_request',
  FST_FILES_LIMIT: 'invalid_request',
  FST_FIELDS_LIMIT: 'invalid_request',
  FST_PROTO_VIOLATION: 'invalid_request',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
  FST_INVALID_JSON_FIELD_ERROR: 'invalid_json',
  FST_FILE_BUFFER_NOT_FOUND: 'invalid_request',
  FST_NO_FORM_DATA: 'invalid_request',
};

/** Turns anything thrown during a request into a KairoError; unknown errors become internal_error. */
export function toKairoError(error: unknown): KairoError {
  if (error instanceof KairoError) return error;
  if (error instanceof DependencyUnavailableError) return new KairoError('service_unavailable', { headers: { 'Retry-After': '2' } });
  const fe = error as FastifyError & { validation?: AjvError[]; validationContext?: string };
  if (fe && Array.isArray(fe.validation) && fe.validation.length > 0) return fromValidation(fe.validation, fe.validationContext);
  const mapped = fe?.code ? fastifyCodes[fe.code] : undefined;
  if (mapped) return new KairoError(mapped);
  if (error instanceof SyntaxError && fe.statusCode === 400) return new KairoError('invalid_json');
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new KairoError(fe.statusCode === 404 ? 'route_not_found' : 'invalid_request', {
      message: fe.statusCode === 404 ? undefined : 'The request could not be processed.',
    });
  }
  return new KairoError('internal_error');
}

/**
 * One rule for missing objects, wherever they were found missing: a 404 is only for the object
 * the URL names (the error's `param` is a path parameter); an object that a field of the body or
 * query refers to makes the request invalid, so a 400 naming that field.
 */
function refersToRequestField(error: KairoError, request: FastifyRequest): boolean {
  if (error.code !== 'resource_missing' || error.param === undefined) return false;
  const params = request.params as Record<string, unknown> | undefined;
  return !(params && Object.hasOwn(params, error.param));
}

/** One error handler and one not-found handler for the whole API, both in the standard shape. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const kairoError = toKairoError(error);
    const answer = errorAnswer(kairoError, request.id, { reference: refersToRequestField(kairoError, request) });
    request.errorCode = kairoError.code;
    // A service_unavailable is a refusal whose cause (shutting down, Redis lost) is logged once where it is noticed.
    if (answer.status >= 500 && kairoError.code !== 'service_unavailable') request.log.error({ err: error }, 'request failed');
    if (kairoError.headers) reply.headers(kairoError.headers);
    reply.code(answer.status).type('application/json').send(answer.body);
  });

  app.setNotFoundHandler((request, reply) => {
    const answer = errorAnswer(new KairoError('route_not_found', { message: `No route ${request.method} ${request.url.split('?')[0]}.` }), request.id);
    reply.code(answer.status).send(answer.body);
  });
}

/**
 * Errors Fastify raises before a route is found (`frameworkErrors` server option): a malformed
 * percent-encoding in the URL, or a path parameter longer than the router accepts. Answered in the
 * standard shape with X-Request-Id, like everything else.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const kairoError =
    error.code === 'FST_ERR_BAD_URL'
      ? new KairoError('invalid_request', { message: 'The request URL is malformed: it has an invalid percent-encoding.' })
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new KairoError('invalid_request', { message: 'A path parameter in the request URL is too long.' })
        : toKairoError(error);
  const answer = errorAnswer(kairoError, request.id);
  if (answer.status >= 500) request.log.error({ err: error }, 'request failed');
  reply.header('X-Request-Id', request.id).code(answer.status).type('application/json').send(answer.body);
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (`clientErrorHandler` server
 * option): headers or request line over the size limit, malformed HTTP. Answered in the standard
 * shape with X-Request-Id, then the connection is closed.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      const body = '{"error":"Request Timeout","message":"Client Timeout","statusCode":408}';
      socket.write(`HTTP/1.1 408 Request Timeout\r\nContent-Length: ${body.length}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
    } else {
      const requestId = newId('req');
      const answer = errorAnswer(
        new KairoError('invalid_request', {
          message: error.code === 'HPE_HEADER_OVERFLOW' ? 'The request line or headers are too large.' : 'The request is not valid HTTP.',
        }),
        requestId,
      );
      const body = JSON.stringify(answer.body);
      socket.write(
        `HTTP/1.1 ${answer.status} Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
  }
  socket.destroy(error);
}
