import type { components } from './schema.js';

/** The `error` object of every error response (docs/api.md, "Errors"). */
export type ErrorDetail = components['schemas']['ErrorResponse']['error'];
/** The stable error codes; the OpenAI-compatible routes may answer others (`model_not_found`). */
export type ErrorCode = ErrorDetail['code'];
/** The error families. */
export type ErrorType = ErrorDetail['type'];

interface KairoErrorFields {
  status?: number;
  type?: string;
  code?: string;
  param?: string;
  requestId?: string;
  headers?: Headers;
  cause?: unknown;
}

/**
 * Whatever a call through the client failed with. An error response becomes the subclass of its
 * status, carrying the body's fields; a request that never got an answer is a ConnectionError.
 */
export class KairoError extends Error {
  /** The HTTP status; undefined when no response arrived. */
  readonly status: number | undefined;
  /** The error family, e.g. `invalid_request_error`. */
  readonly type: ErrorType | (string & {}) | undefined;
  /** The stable machine-readable code, e.g. `parameter_missing`. */
  readonly code: ErrorCode | (string & {}) | undefined;
  /** The request field the error is about, e.g. `tools[2].parameters`. */
  readonly param: string | undefined;
  /** The `X-Request-Id` of the failed request (`req_…`): quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** The response headers, when there was a response. */
  readonly headers: Headers | undefined;

  constructor(message: string, fields: KairoErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    this.status = fields.status;
    this.type = fields.type;
    this.code = fields.code;
    this.param = fields.param;
    this.requestId = fields.requestId;
    this.headers = fields.headers;
  }
}

/** 400, 405, 413, 415 and 422: the request is invalid as sent; `param` names the field when there is one. */
export class InvalidRequestError extends KairoError {}
/** 401: no key, an unknown key or a revoked one. */
export class AuthenticationError extends KairoError {}
/** 403: the key may not do this, or a quota or budget refuses it. */
export class PermissionDeniedError extends KairoError {}
/** 404: no such object (in this workspace and mode) or no such route. */
export class NotFoundError extends KairoError {}
/** 409: the object is not in a state that allows this, or the same Idempotency-Key is still being processed. */
export class ConflictError extends KairoError {}
/** 429: over a rate limit or the concurrent-run cap. */
export class RateLimitError extends KairoError {
  /** What `Retry-After` asked for, in milliseconds. */
  get retryAfterMs(): number | undefined {
    return this.headers ? retryAfterMs(this.headers) : undefined;
  }
}
/** 5xx: a fault of the server or of a service it depends on. */
export class ApiServerError extends KairoError {}
/** No response arrived: the connection failed or was lost, every try. */
export class ConnectionError extends KairoError {}
/** No response arrived within `timeoutMs`, every try. */
export class ConnectionTimeoutError extends ConnectionError {}

type ErrorClass = new (message: string, fields: KairoErrorFields) => KairoError;

function classOf(status: number): ErrorClass {
  if (status === 401) return AuthenticationError;
  if (status === 403) return PermissionDeniedError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status === 429) return RateLimitError;
  if (status >= 500) return ApiServerError;
  if ([400, 405, 413, 415, 422].includes(status)) return InvalidRequestError;
  return KairoError;
}

/** The `error` object of a body in KAIRO's shape (or OpenAI's, which the compatible routes use). */
function detailOf(body: unknown): Partial<Record<keyof ErrorDetail, unknown>> {
  const error = body !== null && typeof body === 'object' ? (body as { error?: unknown }).error : undefined;
  return error !== null && typeof error === 'object' ? (error as Record<string, unknown>) : {};
}

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** The typed error for an error response and its parsed body (the raw text when it was not JSON). */
export function errorFromResponse(response: Response, body: unknown): KairoError {
  const detail = detailOf(body);
  const message =
    text(detail.message) ?? (typeof body === 'string' && body !== '' ? body.slice(0, 500) : `${response.status} ${response.statusText}`.trim());
  const ErrorOfStatus = classOf(response.status);
  return new ErrorOfStatus(message, {
    status: response.status,
    type: text(detail.type),
    code: text(detail.code),
    param: text(detail.param),
    requestId: text(detail.request_id) ?? response.headers.get('x-request-id') ?? undefined,
    headers: response.headers,
  });
}

/** `Retry-After` in milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
