import { Type } from 'typebox';
import { PaginationQuery, StrictObject, Timestamp } from '../schemas.js';

// Request and response schemas of the context routes: each gives the route's types, its
// validation and its part of the OpenAPI document.

export const MetadataValue = Type.Union([Type.String({ maxLength: 500 }), Type.Number(), Type.Boolean()]);
export const Metadata = Type.Record(Type.String({ maxLength: 100 }), MetadataValue, { maxProperties: 50, description: 'Up to 50 keys; values are strings, numbers or booleans.' });
export const StringMetadata = Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 500 }), { maxProperties: 50 });
export const HttpUrl = Type.String({ minLength: 1, maxLength: 2048 });

export const HttpConfigInput = StrictObject({
  url: HttpUrl,
  method: Type.Optional(Type.Union([Type.Literal('GET'), Type.Literal('POST')])),
  headers: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 4000 }), { maxProperties: 20, description: 'Sent with every fetch. Values are write-only: responses show them as "[redacted]".' })),
  body: Type.Optional(Type.String({ maxLength: 100_000 })),
  items_path: Type.Optional(Type.String({ maxLength: 200, description: 'Dot path to the array of items in the response.' })),
  id_field: Type.Optional(Type.String({ maxLength: 200 })),
  title_field: Type.Optional(Type.String({ maxLength: 200 })),
  text_fields: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 50 })),
  metadata_fields: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 50 })),
});

export const HttpConfigUpdate = StrictObject({
  url: Type.Optional(HttpUrl),
  method: Type.Optional(Type.Union([Type.Literal('GET'), Type.Literal('POST')])),
  headers: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Union([Type.String({ maxLength: 4000 }), Type.Null()]), {
    maxProperties: 20, description: 'Merged by name into the stored headers: null removes one; "[redacted]" keeps the stored value.',
  })),
  body: Type.Optional(Type.Union([Type.String({ maxLength: 100_000 }), Type.Null()], { description: 'null removes the body; "[redacted]" keeps it.' })),
  items_path: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  id_field: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  title_field: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  text_fields: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 50 })),
  metadata_fields: Type.Optional(Type.Array(Type.String({ maxLength: 200 }), { maxItems: 50 })),
}, { description: 'Merged into the stored settings: only the fields given change.' });

export const SourceName = Type.String({ minLength: 1, maxLength: 100, description: 'Unique in the workspace; agents refer to the source by it.' });
export const RefreshInterval = Type.Union([Type.Integer({ minimum: 60, maximum: 30 * 24 * 3600 }), Type.Null()], { description: 'Seconds between scheduled refreshes (url and http sources).' });

export const CreateSourceBody = StrictObject({
  name: SourceName,
  type: Type.Optional(Type.Union([Type.Literal('documents'), Type.Literal('url'), Type.Literal('http')], { default: 'documents' })),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
  embedding_model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Fixed at creation. See GET /v1/context/embedding_models.' })),
  chunking: Type.Optional(StrictObject({
    max_tokens: Type.Optional(Type.Integer({ minimum: 32, maximum: 4096 })),
    overlap_tokens: Type.Optional(Type.Integer({ minimum: 0, maximum: 1024 })),
  })),
  urls: Type.Optional(Type.Array(HttpUrl, { minItems: 1, maxItems: 100, description: 'Pages of a url source.' })),
  http: Type.Optional(HttpConfigInput),
  refresh_interval_seconds: Type.Optional(RefreshInterval),
  metadata: Type.Optional(StringMetadata),
});

export const UpdateSourceBody = StrictObject({
  name: Type.Optional(SourceName),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
  urls: Type.Optional(Type.Array(HttpUrl, { minItems: 1, maxItems: 100 })),
  http: Type.Optional(HttpConfigUpdate),
  refresh_interval_seconds: Type.Optional(RefreshInterval),
  metadata: Type.Optional(StringMetadata),
});

export const SourceObject = Type.Object({
  object: Type.Literal('context_source'),
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  livemode: Type.Boolean(),
  embedding_model: Type.String(),
  embedding_dimensions: Type.Integer(),
  chunking: Type.Object({ max_tokens: Type.Integer(), overlap_tokens: Type.Integer() }),
  urls: Type.Optional(Type.Array(Type.String())),
  http: Type.Optional(Type.Object({}, { additionalProperties: true })),
  refresh_interval_seconds: Type.Union([Type.Integer(), Type.Null()]),
  refresh: Type.Object({
    last_refreshed_at: Type.Union([Timestamp, Type.Null()]),
    next_refresh_at: Type.Union([Timestamp, Type.Null()]),
    last_error: Type.Union([Type.String(), Type.Null()]),
    running: Type.Boolean(),
  }),
  counts: Type.Object({
    documents: Type.Integer(),
    chunks: Type.Integer(),
    queued: Type.Integer(),
    indexing: Type.Integer(),
    indexed: Type.Integer(),
    failed: Type.Integer(),
  }),
  metadata: Type.Record(Type.String(), Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const DocumentObject = Type.Object({
  object: Type.Literal('context_document'),
  id: Type.String(),
  source_id: Type.String(),
  livemode: Type.Boolean(),
  external_id: Type.Union([Type.String(), Type.Null()]),
  title: Type.Union([Type.String(), Type.Null()]),
  content_type: Type.String(),
  status: Type.Union([Type.Literal('queued'), Type.Literal('indexing'), Type.Literal('indexed'), Type.Literal('failed')]),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  url: Type.Union([Type.String(), Type.Null()]),
  size_bytes: Type.Integer(),
  chunk_count: Type.Integer(),
  token_count: Type.Integer(),
  content_hash: Type.String(),
  version: Type.Integer(),
  metadata: Type.Record(Type.String(), MetadataValue),
  created_at: Timestamp,
  updated_at: Timestamp,
  indexed_at: Type.Union([Timestamp, Type.Null()]),
});

export const DocumentInput = StrictObject({
  id: Type.Optional(Type.String({ maxLength: 64, description: 'Replace this existing document.' })),
  external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Your id for the document; ingesting the same external_id again replaces it.' })),
  title: Type.Optional(Type.String({ maxLength: 1000 })),
  text: Type.String({ description: 'Up to --max-file-bytes (32 MiB by default) of UTF-8; over it, 413 document_too_large.' }),
  content_type: Type.Optional(Type.Union([Type.Literal('text/plain'), Type.Literal('text/markdown'), Type.Literal('text/html'), Type.Literal('application/json'), Type.Literal('text/csv')], { default: 'text/plain' })),
  metadata: Type.Optional(Metadata),
});

export const IngestBody = StrictObject({
  documents: Type.Optional(Type.Array(DocumentInput, { minItems: 1, maxItems: 100 })),
  background: Type.Optional(Type.Boolean({ description: 'Index through the job queue and answer 202 at once. Input over 200,000 characters always is.' })),
});

export const SourceParams = StrictObject({ id: Type.String({ minLength: 1, maxLength: 128, description: 'Source id (src_…) or name.' }) });
export const DocumentParams = StrictObject({
  id: Type.String({ minLength: 1, maxLength: 128, description: 'Source id (src_…) or name.' }),
  document_id: Type.String({ minLength: 1, maxLength: 128 }),
});

export const Scalar = Type.Union([Type.String({ maxLength: 500 }), Type.Number(), Type.Boolean()]);
export const FilterCondition = Type.Union([
  Scalar,
  StrictObject({
    eq: Type.Optional(Scalar),
    ne: Type.Optional(Scalar),
    in: Type.Optional(Type.Array(Scalar, { maxItems: 100 })),
    nin: Type.Optional(Type.Array(Scalar, { maxItems: 100 })),
    gt: Type.Optional(Type.Union([Type.Number(), Type.String({ maxLength: 500 })])),
    gte: Type.Optional(Type.Union([Type.Number(), Type.String({ maxLength: 500 })])),
    lt: Type.Optional(Type.Union([Type.Number(), Type.String({ maxLength: 500 })])),
    lte: Type.Optional(Type.Union([Type.Number(), Type.String({ maxLength: 500 })])),
  }),
]);

export const QueryBody = StrictObject({
  query: Type.String({ minLength: 1, maxLength: 10_000 }),
  sources: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 100, description: 'Source ids or names; default: every source of the workspace.' })),
  top_k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  mode: Type.Optional(Type.Union([Type.Literal('hybrid'), Type.Literal('vector'), Type.Literal('keyword')], { default: 'hybrid' })),
  filter: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), FilterCondition, { maxProperties: 20, description: 'Conditions on document metadata: a value, or {eq, ne, in, nin, gt, gte, lt, lte}.' })),
  max_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Also return a context window of the best chunks within this many tokens.' })),
});

export const ChunkHit = Type.Object({
  object: Type.Literal('context_chunk'),
  id: Type.String(),
  text: Type.String(),
  score: Type.Number(),
  scores: Type.Object({
    vector: Type.Union([Type.Number(), Type.Null()]),
    keyword: Type.Union([Type.Number(), Type.Null()]),
    vector_rank: Type.Union([Type.Integer(), Type.Null()]),
    keyword_rank: Type.Union([Type.Integer(), Type.Null()]),
  }),
  position: Type.Integer(),
  heading: Type.Union([Type.String(), Type.Null()]),
  token_count: Type.Integer(),
  source: Type.Object({ id: Type.String(), name: Type.String() }),
  document: Type.Object({ id: Type.String(), title: Type.Union([Type.String(), Type.Null()]), external_id: Type.Union([Type.String(), Type.Null()]), url: Type.Union([Type.String(), Type.Null()]) }),
  metadata: Type.Record(Type.String(), MetadataValue),
});

export const QueryResponse = Type.Object({
  object: Type.Literal('context_query'),
  query: Type.String(),
  mode: Type.String(),
  data: Type.Array(ChunkHit),
  window: Type.Union([
    Type.Object({
      text: Type.String(),
      token_count: Type.Integer(),
      max_tokens: Type.Integer(),
      citations: Type.Array(Type.Object({
        index: Type.Integer(), chunk_id: Type.String(), document_id: Type.String(), source_id: Type.String(),
        title: Type.Union([Type.String(), Type.Null()]), url: Type.Union([Type.String(), Type.Null()]), external_id: Type.Union([Type.String(), Type.Null()]),
      })),
    }),
    Type.Null(),
  ]),
  latency_ms: Type.Object({ embedding: Type.Number(), vector: Type.Number(), keyword: Type.Number(), total: Type.Number() }),
});

export const DocumentListQuery = StrictObject({
  ...PaginationQuery.properties,
  status: Type.Optional(Type.Union([Type.Literal('queued'), Type.Literal('indexing'), Type.Literal('indexed'), Type.Literal('failed')])),
});
