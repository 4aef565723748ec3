import { errorCatalogue, type ErrorCode, type ErrorType, type KairoError } from '../errors.js';

/** The HTTP status each error code is answered with. Only the HTTP layer knows a status. */
export const errorStatuses = {
  invalid_json: 400,
  invalid_request: 400,
  parameter_missing: 400,
  parameter_invalid: 400,
  parameter_unknown: 400,
  body_too_large: 413,
  unsupported_media_type: 415,
  method_not_allowed: 405,
  route_not_found: 404,
  // 404 for the object the URL names; an object a field of the request refers to is a 400 (see `errorAnswer`).
  resource_missing: 404,
  missing_api_key: 401,
  invalid_api_key: 401,
  api_key_revoked: 401,
  permission_denied: 403,
  https_required: 403,
  idempotency_key_reused: 422,
  idempotency_key_in_use: 409,
  idempotency_key_invalid: 400,
  source_name_taken: 409,
  unsupported_file_type: 415,
  document_unreadable: 400,
  document_empty: 400,
  document_too_large: 413,
  document_timeout: 422,
  embedding_failed: 502,
  refresh_in_progress: 409,
  run_not_waiting: 409,
  run_not_cancellable: 409,
  workflow_has_active_runs: 409,
  agent_not_active: 409,
  quota_exceeded: 403,
  // Not 402: nothing is for sale on a self-hosted server; the workspace's own rule refuses the run.
  budget_exceeded: 403,
  rate_limited: 429,
  concurrency_limited: 429,
  internal_error: 500,
  server_busy: 503,
  service_unavailable: 503,
} as const satisfies Record<ErrorCode, number>;

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { type: ErrorType; code: ErrorCode; message: string; param?: string; request_id: string };
}

/** How an error is answered over HTTP. */
export interface ErrorAnswer {
  status: number;
  body: ErrorBody;
}

/**
 * The status and body `error` is answered with. `reference`: the error is about an object that
 * a field of the request (`param`) refers to, not the object the URL names, so the request
 * itself is invalid: 400 `invalid_request_error` whatever the code's own status.
 */
export function errorAnswer(error: KairoError, requestId: string, options: { reference?: boolean } = {}): ErrorAnswer {
  const type = options.reference ? 'invalid_request_error' : errorCatalogue[error.code].type;
  return {
    status: options.reference ? 400 : errorStatuses[error.code],
    body: {
      error: {
        type,
        code: error.code,
        message: error.message,
        ...(error.param === undefined ? {} : { param: error.param }),
        request_id: requestId,
      },
    },
  };
}
