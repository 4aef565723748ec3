/** The `type` field of an error body: what kind of problem the client has. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'idempotency_error'
  | 'rate_limit_error'
  | 'api_error';

interface ErrorSpec {
  status: number;
  type: ErrorType;
  message: string;
}

/**
 * Every error code the API can return. The code is stable and machine-readable; the message
 * is the default human text and may be replaced by a more specific one at the throw site.
 */
export const errorCatalogue = {
  invalid_json: { status: 400, type: 'invalid_request_error', message: 'The request body is not valid JSON.' },
  invalid_request: { status: 400, type: 'invalid_request_error', message: 'The request is invalid.' },
  parameter_missing: { status: 400, type: 'invalid_request_error', message: 'A required parameter is missing.' },
  parameter_invalid: { status: 400, type: 'invalid_request_error', message: 'A parameter has an invalid value.' },
  parameter_unknown: { status: 400, type: 'invalid_request_error', message: 'The request contains an unknown parameter.' },
  body_too_large: { status: 413, type: 'invalid_request_error', message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error', message: 'Send the body as application/json.' },
  method_not_allowed: { status: 405, type: 'invalid_request_error', message: 'This method is not allowed on this path.' },
  route_not_found: { status: 404, type: 'not_found_error', message: 'No such route.' },
  // 404 for the object the URL names; an object a field of the request refers to is a 400 (see KairoError's `reference`).
  resource_missing: { status: 404, type: 'not_found_error', message: 'No such object.' },
  missing_api_key: { status: 401, type: 'authentication_error', message: 'No API key provided. Send it as "Authorization: Bearer sk_...".' },
  invalid_api_key: { status: 401, type: 'authentication_error', message: 'Invalid API key.' },
  api_key_revoked: { status: 401, type: 'authentication_error', message: 'This API key has been revoked.' },
  https_required: { status: 403, type: 'permission_error', message: 'KAIRO only accepts HTTPS requests. Send this request over HTTPS.' },
  idempotency_key_reused: { status: 422, type: 'idempotency_error', message: 'This Idempotency-Key was already used with a different request.' },
  idempotency_key_in_use: { status: 409, type: 'idempotency_error', message: 'A request with this Idempotency-Key is still being processed. Retry later.' },
  idempotency_key_invalid: { status: 400, type: 'idempotency_error', message: 'The Idempotency-Key header must be 1 to 255 printable ASCII characters.' },
  source_name_taken: { status: 409, type: 'conflict_error', message: 'A context source with this name already exists.' },
  unsupported_file_type: { status: 415, type: 'invalid_request_error', message: 'This file type is not supported.' },
  document_unreadable: { status: 400, type: 'invalid_request_error', message: 'The document could not be read.' },
  document_empty: { status: 400, type: 'invalid_request_error', message: 'The document contains no text.' },
  document_too_large: { status: 413, type: 'invalid_request_error', message: 'The document is over one of the size limits.' },
  document_timeout: { status: 422, type: 'invalid_request_error', message: 'Processing the document took too long.' },
  embedding_failed: { status: 502, type: 'api_error', message: 'The embedding model failed. Retry later.' },
  refresh_in_progress: { status: 409, type: 'conflict_error', message: 'A refresh of this source is already running.' },
  run_not_waiting: { status: 409, type: 'conflict_error', message: 'The run is not waiting for tool outputs.' },
  run_not_cancellable: { status: 409, type: 'conflict_error', message: 'The run has already finished.' },
  workflow_has_active_runs: { status: 409, type: 'conflict_error', message: 'The workflow has runs in progress.' },
  agent_not_active: { status: 409, type: 'conflict_error', message: 'The agent is not active.' },
  quota_exceeded: { status: 403, type: 'permission_error', message: "This would exceed a quota of the workspace's plan." },
  rate_limited: { status: 429, type: 'rate_limit_error', message: 'Too many requests. Retry after the time in the Retry-After header.' },
  concurrency_limited: { status: 429, type: 'rate_limit_error', message: 'Too many concurrent runs for this workspace plan.' },
  internal_error: { status: 500, type: 'api_error', message: 'An internal error occurred. Retry later; the request ID identifies it.' },
  server_busy: { status: 503, type: 'api_error', message: 'The server is busy. Retry after the time in the Retry-After header.' },
  service_unavailable: { status: 503, type: 'api_error', message: 'The service is shutting down or temporarily unavailable.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorCatalogue;

/** The one error type the API raises for client-visible failures. */
export class KairoError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: ErrorType;
  readonly param: string | undefined;
  readonly headers: Record<string, string> | undefined;

  /**
   * `reference`: the error is about an object that a field of the request (`param`) refers to,
   * not the object the URL names, so the request itself is invalid: 400 `invalid_request_error`
   * whatever the code's own status.
   */
  constructor(
    code: ErrorCode,
    options: { message?: string; param?: string; headers?: Record<string, string>; reference?: boolean; cause?: unknown } = {},
  ) {
    const spec = errorCatalogue[code];
    // A client error needs no stack trace, and capturing one is most of its cost (429s are hot).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    // `cause`: the error this one reports, kept for the log (never sent to the client).
    super(options.message ?? spec.message, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'KairoError';
    this.code = code;
    this.status = options.reference ? 400 : spec.status;
    this.type = options.reference ? 'invalid_request_error' : spec.type;
    this.param = options.param;
    this.headers = options.headers;
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { type: ErrorType; code: ErrorCode; message: string; param?: string; request_id: string };
}

export function errorBody(error: KairoError, requestId: string): ErrorBody {
  return {
    error: {
      type: error.type,
      code: error.code,
      message: error.message,
      ...(error.param === undefined ? {} : { param: error.param }),
      request_id: requestId,
    },
  };
}

/** An error a job handler raises to say "do not retry": the job fails at once. */
export class UnrecoverableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnrecoverableError';
  }
}

/**
 * An error a job handler raises to say "not now": something outside the job (its workspace's
 * cap on concurrent work) keeps it from starting. The job waits `delayMs` and runs again; the
 * try does not count as an attempt.
 */
export class RetryLaterError extends Error {
  constructor(message: string, readonly delayMs: number) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

/**
 * A service KAIRO depends on (Redis) cannot be reached right now. A request that meets it is
 * answered `503 service_unavailable`; the outage itself is logged once, where it is detected.
 */
export class DependencyUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DependencyUnavailableError';
  }
}
