import { Type, type TSchema, type TProperties } from 'typebox';
import { errorCatalogue, type ErrorCode, type ErrorType } from '../errors.js';

/** The list cursors (see PaginationQuery). */
const AfterCursor = Type.Optional(Type.String({ maxLength: 64, description: 'Return objects older than this id. Not together with before.' }));
const BeforeCursor = Type.Optional(Type.String({ maxLength: 64, description: 'Return objects newer than this id. Not together with after.' }));

/**
 * A request body or query object that rejects unknown fields. A query with the list cursors
 * (PaginationQuery's, alone or spread into a larger query) also refuses both at once: each walks
 * the list one way, so together they would ask for nothing (`param: "before"`).
 */
export function StrictObject<P extends TProperties>(properties: P, options: { description?: string; examples?: unknown[] } = {}) {
  const cursors = properties.after === AfterCursor && properties.before === BeforeCursor;
  return Type.Object(properties, { additionalProperties: false, ...(cursors ? { dependencies: { after: { properties: { before: false } } } } : {}), ...options });
}

/** RFC 3339 UTC timestamp string. */
/**
 * `string | null` (or integer, number) as a JSON Schema type list rather than `anyOf`: the same
 * document, but Fastify's serializer writes it directly instead of validating each alternative
 * per value — which dominates large responses such as analytics buckets.
 */
export function Nullable<T extends 'string' | 'integer' | 'number'>(type: T, options: { description?: string; format?: string } = {}) {
  return Type.Unsafe<(T extends 'string' ? string : number) | null>({ type: [type, 'null'], ...options });
}

export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 timestamp, UTC.' });

export { toNullableTimestamp, toTimestamp } from '../timestamps.js';

/** The standard error body (docs/api.md). */
export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      // Plain string enums (not unions of literals), which Fastify serializes without checking each alternative.
      type: Type.Unsafe<ErrorType>({ type: 'string', enum: [...new Set(Object.values(errorCatalogue).map((spec) => spec.type))], description: 'The family of the error.' }),
      code: Type.Unsafe<ErrorCode>({ type: 'string', enum: Object.keys(errorCatalogue), description: 'Stable machine-readable code (docs/api.md lists them all).' }),
      message: Type.String({ description: 'For people; may change.' }),
      param: Type.Optional(Type.String({ description: 'The request field the error is about.' })),
      request_id: Type.String({ description: 'The id of the request (`req_…`), as in X-Request-Id.' }),
    }),
  },
  { $id: 'ErrorResponse', description: 'Every error response has this shape.' },
);

/** Query parameters of every list endpoint. */
export const PaginationQuery = StrictObject({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Page size, 1–100.' })),
  after: AfterCursor,
  before: BeforeCursor,
});

/** The list envelope: newest first, with cursors to walk either way. */
export function ListOf<T extends TSchema>(item: T) {
  return Type.Object({
    object: Type.Literal('list'),
    data: Type.Array(item),
    has_more: Type.Boolean(),
    first_id: Type.Union([Type.String(), Type.Null()]),
    last_id: Type.Union([Type.String(), Type.Null()]),
  });
}

export function toList<T extends { id: string }>(data: T[], hasMore: boolean) {
  return {
    object: 'list' as const,
    data,
    has_more: hasMore,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
  };
}

export const IdParams = (description: string) =>
  StrictObject({ id: Type.String({ minLength: 1, maxLength: 128, description }) });

/** Tokens by kind (cached and reasoning tokens are parts of input and output tokens). */
export const UsageObject = Type.Object({
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cached_input_tokens: Type.Integer({ description: 'Input tokens read from the provider\'s prompt cache (part of input_tokens).' }),
  reasoning_tokens: Type.Integer({ description: 'Output tokens spent on reasoning (part of output_tokens).' }),
  total_tokens: Type.Integer(),
});
