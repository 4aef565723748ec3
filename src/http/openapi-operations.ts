import type { RouteOptions } from 'fastify';
import { errorCatalogue, type ErrorCode } from '../errors.js';
import { requiredPermission } from '../platform/permissions.js';
import { REMAINING_TOKENS_HEADER, REMAINING_USD_HEADER } from '../budgets/budget-gate.js';
import { errorStatuses } from './error-status.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Error codes the handler itself may answer with, beyond those every route of its kind can
     * (validation, authentication, rate limits…): the OpenAPI document lists them per status.
     */
    errors?: readonly ErrorCode[];
    /**
     * The route can answer with server-sent events (src/http/sse.ts): `body` when the request
     * body asks for a stream, `accept` when `Accept: text/event-stream` does (and `Last-Event-ID` resumes).
     */
    eventStream?: 'body' | 'accept';
    /** The route answers errors in OpenAI's shape (src/http/openai-errors.ts), not KAIRO's. */
    openAiErrors?: boolean;
  }
}

/** What the document needs to know of a route beyond its schema; gathered when it is registered. */
export interface RouteFacts {
  method: string;
  url: string;
  isPublic: boolean;
  shedsLoad: boolean;
  takesBody: boolean;
  takesQuery: boolean;
  queryRequires: boolean;
  takesParams: boolean;
  errors: readonly ErrorCode[];
  eventStream: 'body' | 'accept' | undefined;
  openAiErrors: boolean;
}

/** The facts of each documented `/v1` route a registration describes, one per method. */
export function routeFacts(route: RouteOptions): RouteFacts[] {
  const schema = (route.schema ?? {}) as Record<string, any>;
  const config = (route.config ?? {}) as { public?: boolean; shedLoad?: boolean; errors?: readonly ErrorCode[]; eventStream?: 'body' | 'accept'; openAiErrors?: boolean };
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  return methods.filter((method) => method !== 'HEAD').map((method) => ({
    method,
    url: route.url,
    isPublic: config.public === true,
    shedsLoad: config.shedLoad !== false,
    takesBody: schema.body !== undefined,
    takesQuery: schema.querystring !== undefined,
    queryRequires: Array.isArray(schema.querystring?.required) && schema.querystring.required.length > 0,
    takesParams: /:\w/.test(route.url),
    errors: config.errors ?? [],
    eventStream: config.eventStream,
    openAiErrors: config.openAiErrors === true,
  }));
}

/** `/v1/agents/:id` → `/v1/agents/{id}`, the way the document spells a path. */
export function documentPath(url: string): string {
  return url.replace(/:(\w+)/g, '{$1}');
}

/**
 * Every error code a route can answer with, derived from what it is: what it takes, whether it
 * is public, its permission, its method (idempotency), the load-shedding exemption, plus the
 * codes its own config declares. This is the single place the document's error responses come from.
 */
export function errorCodesOf(route: RouteFacts): ErrorCode[] {
  const codes = new Set<ErrorCode>();
  if (route.takesBody) for (const code of ['invalid_json', 'invalid_request', 'parameter_missing', 'parameter_invalid', 'parameter_unknown', 'body_too_large', 'unsupported_media_type'] as const) codes.add(code);
  if (route.takesQuery || route.takesParams) {
    codes.add('parameter_invalid');
    codes.add('parameter_unknown');
  }
  if (route.queryRequires) codes.add('parameter_missing');
  if (!route.isPublic) {
    for (const code of ['missing_api_key', 'invalid_api_key', 'api_key_revoked', 'rate_limited'] as const) codes.add(code);
    if (requiredPermission(route.method, route.url) !== 'open') codes.add('permission_denied');
  }
  codes.add('https_required');
  if (route.takesParams) codes.add('resource_missing');
  if (route.method === 'POST' && !route.isPublic) {
    for (const code of ['idempotency_key_invalid', 'idempotency_key_in_use', 'idempotency_key_reused'] as const) codes.add(code);
  }
  for (const code of route.errors) codes.add(code);
  codes.add('internal_error');
  if (route.shedsLoad) codes.add('server_busy');
  codes.add('service_unavailable');
  return [...codes];
}

/** Error codes grouped by the status they are answered with, statuses in order. */
export function errorsByStatus(codes: ErrorCode[]): Array<[number, ErrorCode[]]> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = errorStatuses[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return [...byStatus.entries()].sort(([a], [b]) => a - b);
}

const RATE_LIMIT_HEADERS = ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'];

/** Reusable parts the operations refer to: headers, parameters and one example per error code in `codes`. */
export function sharedComponents(codes: Iterable<ErrorCode>): Record<string, Record<string, unknown>> {
  const header = (description: string, schema: Record<string, unknown> = { type: 'string' }) => ({ description, schema });
  return {
    headers: {
      'X-Request-Id': header('The request id (`req_…`), also in the error body and the request log.', { type: 'string', pattern: '^req_' }),
      'X-RateLimit-Limit': header('The size of the bucket shown: the plan\'s burst cap or the key\'s own limit; `unlimited` on Enterprise.'),
      'X-RateLimit-Remaining': header('Whole requests that can be sent right now, after this one; `unlimited` on Enterprise.'),
      'X-RateLimit-Reset': header('Seconds (rounded up) until the bucket is full again; 0 when it is full.', { type: 'integer', minimum: 0 }),
      'Retry-After': header('Seconds to wait before retrying.', { type: 'integer', minimum: 1 }),
      'Idempotent-Replayed': header('`true` when this is the stored response of an earlier request with the same Idempotency-Key.', { type: 'string', enum: ['true'] }),
      [REMAINING_USD_HEADER]: header('What is left, in USD, of the tightest budget with a USD limit that applies to the run (absent without one).', { type: 'string' }),
      [REMAINING_TOKENS_HEADER]: header('What is left, in tokens, of the tightest budget with a token limit that applies to the run (absent without one).', { type: 'string' }),
    },
    parameters: {
      IdempotencyKey: {
        name: 'Idempotency-Key', in: 'header', required: false,
        description: 'Makes the request safe to retry: a retry with the same key, method, path and body within 24 hours gets the first response again instead of running twice (docs/api.md).',
        schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
        example: 'order-4711-retry-safe',
      },
      LastEventId: {
        name: 'Last-Event-ID', in: 'header', required: false,
        description: 'With `Accept: text/event-stream`: replay the run\'s events after this sequence number, then follow it live.',
        schema: { type: 'integer', minimum: 0 },
        example: 12,
      },
    },
    examples: Object.fromEntries([...codes].map((code) => [code, {
      summary: `${errorStatuses[code]} ${code}`,
      value: { error: { type: errorCatalogue[code].type, code, message: errorCatalogue[code].message, request_id: 'req_01jf3v6a8xq2m4c7h9k0p5r1tw' } },
    }])),
  };
}

/** What a success status means where the route's schema gives no description of its own. */
const SUCCESS_DESCRIPTIONS: Record<string, string> = {
  '200': 'Succeeded.',
  '201': 'Created.',
  '202': 'Accepted: the work goes on in the background; poll or stream the object to follow it.',
};

const headerRef = (name: string) => ({ $ref: `#/components/headers/${name}` });

const EVENT_STREAM_EXAMPLE = 'id: 1\nevent: run.created\ndata: {"id":"run_…","status":"queued","sequence":1}\n\n' +
  'id: 2\nevent: run.output_text.delta\ndata: {"delta":"Hello","sequence":2}\n\n';

/**
 * Completes one operation of the generated document from its route: security, the
 * Idempotency-Key and Last-Event-ID parameters, the response headers, the event-stream
 * variant of a streaming route, and one response per error status listing its codes in place
 * of Fastify's generic 4XX/5XX. Returns the error codes it lists.
 */
export function completeOperation(operation: Record<string, any>, route: RouteFacts): ErrorCode[] {
  operation.security = route.isPublic ? [] : [{ bearerAuth: [] }];

  const parameters: unknown[] = operation.parameters ?? [];
  if (route.method === 'POST' && !route.isPublic) parameters.push({ $ref: '#/components/parameters/IdempotencyKey' });
  if (route.eventStream === 'accept') parameters.push({ $ref: '#/components/parameters/LastEventId' });
  if (parameters.length > 0) operation.parameters = parameters;

  const codes = errorCodesOf(route);
  const common: Record<string, unknown> = { 'X-Request-Id': headerRef('X-Request-Id') };
  const limited: Record<string, unknown> = route.isPublic ? {} : Object.fromEntries(RATE_LIMIT_HEADERS.map((name) => [name, headerRef(name)]));

  const responses: Record<string, any> = {};
  for (const [status, response] of Object.entries<Record<string, any>>(operation.responses ?? {})) {
    if (!/^2\d\d$/.test(status)) continue;
    if (response.description === 'Default Response') response.description = SUCCESS_DESCRIPTIONS[status] ?? 'Succeeded.';
    response.headers = {
      ...common, ...limited,
      ...(route.method === 'POST' && !route.isPublic ? { 'Idempotent-Replayed': headerRef('Idempotent-Replayed') } : {}),
      ...(codes.includes('budget_exceeded') ? { [REMAINING_USD_HEADER]: headerRef(REMAINING_USD_HEADER), [REMAINING_TOKENS_HEADER]: headerRef(REMAINING_TOKENS_HEADER) } : {}),
    };
    if (route.eventStream && status === '200' && route.openAiErrors) {
      response.description = `${response.description} Or, with \`stream: true\`, server-sent events in OpenAI's format.`;
      response.content = { ...response.content, 'text/event-stream': openAiEventStream(route.url) };
    } else if (route.eventStream && status === '200') {
      response.description = `${response.description === SUCCESS_DESCRIPTIONS['200'] ? 'The run.' : response.description} Or, ${route.eventStream === 'body' ? 'with `stream: true`' : 'with `Accept: text/event-stream`'}, its events as server-sent events.`;
      response.content = {
        ...response.content,
        'text/event-stream': {
          schema: { type: 'string', description: 'Server-sent events: `id` is the event\'s sequence number (send it back as `Last-Event-ID`), `event` its type, `data` its JSON. A comment line every 15 s keeps the connection open.' },
          example: EVENT_STREAM_EXAMPLE,
        },
      };
    }
    responses[status] = response;
  }
  const byStatus = errorsByStatus(codes).map(([status, statusCodes]) => [status, statusCodes.map((code) => ({ code, message: errorCatalogue[code].message }))] as const);
  // Only a request that names a model can name an unknown one, or have one fail.
  if (route.openAiErrors && route.takesBody) addOpenAiErrors(byStatus);
  for (const [status, statusCodes] of byStatus) {
    const authenticated = !route.isPublic && status !== 401;
    responses[String(status)] = {
      description: statusCodes.map(({ code, message }) => `\`${code}\`: ${message}`).join('\n\n'),
      headers: {
        ...common,
        ...(authenticated ? limited : {}),
        ...(status === 429 || status === 503 ? { 'Retry-After': headerRef('Retry-After') } : {}),
      },
      content: {
        'application/json': route.openAiErrors
          ? {
            schema: { $ref: '#/components/schemas/OpenAiErrorResponse' },
            examples: Object.fromEntries(statusCodes.map(({ code, message }) => [code, { summary: `${status} ${code}`, value: { error: { message, type: openAiErrorType(status), param: null, code } } }])),
          }
          : {
            schema: { $ref: '#/components/schemas/ErrorResponse' },
            examples: Object.fromEntries(statusCodes.map(({ code }) => [code, { $ref: `#/components/examples/${code}` }])),
          },
      },
    };
  }
  operation.responses = responses;
  return codes;
}

/** The event-stream body of an OpenAI-compatible operation: Chat Completions' chunks, or the Responses events. */
function openAiEventStream(url: string) {
  return url.includes('/chat/')
    ? {
      schema: { type: 'string', description: 'Server-sent events: `data: {chat.completion.chunk}` per delta, the last chunk with `finish_reason` (and, with `stream_options.include_usage`, one with `usage` and no choices), then `data: [DONE]`.' },
      example: 'data: {"id":"chatcmpl_…","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}\n\ndata: [DONE]\n\n',
    }
    : {
      schema: { type: 'string', description: 'Server-sent events: `event` is the type (response.created … response.output_text.delta … response.completed), `data` the event with its `type` and `sequence_number`.' },
      example: 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":4,"delta":"Hello"}\n\n',
    };
}

/** The family OpenAI's clients expect for a status (as src/http/openai-errors.ts answers it). */
export function openAiErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

type StatusCodes = ReadonlyArray<readonly [number, ReadonlyArray<{ code: string; message: string }>]>;

/** The codes only the OpenAI-compatible routes answer with: `model_not_found` and `model_failed`. */
function addOpenAiErrors(byStatus: StatusCodes): void {
  const list = byStatus as Array<readonly [number, Array<{ code: string; message: string }>]>;
  const add = (status: number, code: string, message: string) => {
    const entry = list.find(([s]) => s === status);
    if (entry) entry[1].push({ code, message });
    else list.push([status, [{ code, message }]]);
  };
  add(404, 'model_not_found', '`model` names no agent of the workspace and no model of this server.');
  add(502, 'model_failed', 'The model\'s provider failed, or (Chat Completions) the agent\'s run failed or was cancelled; the code is then the run\'s error code.');
  list.sort(([a], [b]) => a - b);
}
