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
  type: ErrorType;
  message: string;
  /** Whether the same request may succeed if sent again later (a limit, a busy or failing service). */
  retryable: boolean;
}

/**
 * Every error code the API can return. The code is stable and machine-readable; the message
 * is the default human text and may be replaced by a more specific one at the throw site.
 * The HTTP status of each code is the HTTP layer's business (src/http/error-status.ts).
 */
export const errorCatalogue = {
  invalid_json: { type: 'invalid_request_error', message: 'The request body is not valid JSON.', retryable: false },
  invalid_request: { type: 'invalid_request_error', message: 'The request is invalid.', retryable: false },
  parameter_missing: { type: 'invalid_request_error', message: 'A required parameter is missing.', retryable: false },
  parameter_invalid: { type: 'invalid_request_error', message: 'A parameter has an invalid value.', retryable: false },
  parameter_unknown: { type: 'invalid_request_error', message: 'The request contains an unknown parameter.', retryable: false },
  body_too_large: { type: 'invalid_request_error', message: 'The request body is too large.', retryable: false },
  unsupported_media_type: { type: 'invalid_request_error', message: 'Send the body as application/json.', retryable: false },
  method_not_allowed: { type: 'invalid_request_error', message: 'This method is not allowed on this path.', retryable: false },
  route_not_found: { type: 'not_found_error', message: 'No such route.', retryable: false },
  resource_missing: { type: 'not_found_error', message: 'No such object.', retryable: false },
  missing_api_key: { type: 'authentication_error', message: 'No API key provided. Send it as "Authorization: Bearer sk_...".', retryable: false },
  invalid_api_key: { type: 'authentication_error', message: 'Invalid API key.', retryable: false },
  api_key_revoked: { type: 'authentication_error', message: 'This API key has been revoked.', retryable: false },
  permission_denied: { type: 'permission_error', message: 'This API key does not have the permission this request needs.', retryable: false },
  https_required: { type: 'permission_error', message: 'KAIRO only accepts HTTPS requests. Send this request over HTTPS.', retryable: false },
  idempotency_key_reused: { type: 'idempotency_error', message: 'This Idempotency-Key was already used with a different request.', retryable: false },
  idempotency_key_in_use: { type: 'idempotency_error', message: 'A request with this Idempotency-Key is still being processed. Retry later.', retryable: true },
  idempotency_key_invalid: { type: 'idempotency_error', message: 'The Idempotency-Key header must be 1 to 255 printable ASCII characters.', retryable: false },
  source_name_taken: { type: 'conflict_error', message: 'A context source with this name already exists.', retryable: false },
  unsupported_file_type: { type: 'invalid_request_error', message: 'This file type is not supported.', retryable: false },
  document_unreadable: { type: 'invalid_request_error', message: 'The document could not be read.', retryable: false },
  document_empty: { type: 'invalid_request_error', message: 'The document contains no text.', retryable: false },
  document_too_large: { type: 'invalid_request_error', message: 'The document is over one of the size limits.', retryable: false },
  document_timeout: { type: 'invalid_request_error', message: 'Processing the document took too long.', retryable: false },
  embedding_failed: { type: 'api_error', message: 'The embedding model failed. Retry later.', retryable: true },
  refresh_in_progress: { type: 'conflict_error', message: 'A refresh of this source is already running.', retryable: false },
  run_not_waiting: { type: 'conflict_error', message: 'The run is not waiting for tool outputs.', retryable: false },
  run_not_cancellable: { type: 'conflict_error', message: 'The run has already finished.', retryable: false },
  workflow_has_active_runs: { type: 'conflict_error', message: 'The workflow has runs in progress.', retryable: false },
  agent_not_active: { type: 'conflict_error', message: 'The agent is not active.', retryable: false },
  quota_exceeded: { type: 'permission_error', message: "This would exceed a quota of the workspace's plan.", retryable: false },
  budget_exceeded: { type: 'permission_error', message: 'A hard budget of this workspace is used up for its period.', retryable: false },
  rate_limited: { type: 'rate_limit_error', message: 'Too many requests. Retry after the time in the Retry-After header.', retryable: true },
  concurrency_limited: { type: 'rate_limit_error', message: 'Too many concurrent runs for this workspace plan.', retryable: true },
  internal_error: { type: 'api_error', message: 'An internal error occurred. Retry later; the request ID identifies it.', retryable: true },
  server_busy: { type: 'api_error', message: 'The server is busy. Retry after the time in the Retry-After header.', retryable: true },
  service_unavailable: { type: 'api_error', message: 'The service is shutting down or temporarily unavailable.', retryable: true },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface KairoErrorOptions {
  /** Replaces the code's default message with a more specific one. */
  message?: string;
  /** The request field the error is about, e.g. `tools[2].parameters`. */
  param?: string;
  /** Headers the answer needs, e.g. `Retry-After`. */
  headers?: Record<string, string>;
  /** Overrides the code's default when the thrower knows better (an upstream service's own verdict). */
  retryable?: boolean;
  /** The error this one reports, kept for the log (never sent to the client). */
  cause?: unknown;
}

/**
 * A failure KAIRO reports to whoever asked: a stable `code` from the catalogue, a human message,
 * and `retryable`, whether the same request may succeed later. It knows nothing of HTTP; the
 * HTTP layer decides the status it is answered with.
 */
export class KairoError extends Error {
  readonly code: ErrorCode;
  readonly param: string | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, options: KairoErrorOptions = {}) {
    const spec = errorCatalogue[code];
    // A client error needs no stack trace, and capturing one is most of its cost (429s are hot).
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(options.message ?? spec.message, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'KairoError';
    this.code = code;
    this.param = options.param;
    this.headers = options.headers;
    this.retryable = options.retryable ?? spec.retryable;
  }
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
 * answered `service_unavailable`; the outage itself is logged once, where it is detected.
 */
export class DependencyUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DependencyUnavailableError';
  }
}
