import { Type, type Static } from 'typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import multipart from '@fastify/multipart';
import { readMultipart, withUploadDir } from './context-uploads.js';
import type { ContextDocument, ContextSource, DocumentStatus } from '../../store/port.js';
import { ApiError } from '../../errors.js';
import { isId } from '../../ids.js';
import type { IngestItem } from '../../context/ingest.js';
import type { HttpSourceConfig, HttpSourceUpdate } from '../../context/sources.js';
import type { QueryHit } from '../../context/retrieval.js';
import { authOf } from '../plugins/auth.js';
import { ListOf, PaginationQuery, StrictObject, Timestamp, toList, toNullableTimestamp, toTimestamp } from '../schemas.js';
import type { AppDeps } from '../app.js';


const MetadataValue = Type.Union([Type.String({ maxLength: 500 }), Type.Number(), Type.Boolean()]);
const Metadata = Type.Record(Type.String({ maxLength: 100 }), MetadataValue, { maxProperties: 50, description: 'Up to 50 keys; values are strings, numbers or booleans.' });
const StringMetadata = Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 500 }), { maxProperties: 50 });
const HttpUrl = Type.String({ minLength: 1, maxLength: 2048 });

const HttpConfigInput = StrictObject({
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

const HttpConfigUpdate = StrictObject({
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

const SourceName = Type.String({ minLength: 1, maxLength: 100, description: 'Unique in the workspace; agents refer to the source by it.' });
const RefreshInterval = Type.Union([Type.Integer({ minimum: 60, maximum: 30 * 24 * 3600 }), Type.Null()], { description: 'Seconds between scheduled refreshes (url and http sources).' });

const CreateSourceBody = StrictObject({
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

const UpdateSourceBody = StrictObject({
  name: Type.Optional(SourceName),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
  urls: Type.Optional(Type.Array(HttpUrl, { minItems: 1, maxItems: 100 })),
  http: Type.Optional(HttpConfigUpdate),
  refresh_interval_seconds: Type.Optional(RefreshInterval),
  metadata: Type.Optional(StringMetadata),
});

const SourceObject = Type.Object({
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

const DocumentObject = Type.Object({
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

const DocumentInput = StrictObject({
  id: Type.Optional(Type.String({ maxLength: 64, description: 'Replace this existing document.' })),
  external_id: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Your id for the document; ingesting the same external_id again replaces it.' })),
  title: Type.Optional(Type.String({ maxLength: 1000 })),
  text: Type.String({ description: 'Up to --max-file-bytes (32 MiB by default) of UTF-8; over it, 413 document_too_large.' }),
  content_type: Type.Optional(Type.Union([Type.Literal('text/plain'), Type.Literal('text/markdown'), Type.Literal('text/html'), Type.Literal('application/json'), Type.Literal('text/csv')], { default: 'text/plain' })),
  metadata: Type.Optional(Metadata),
});

const IngestBody = StrictObject({
  documents: Type.Optional(Type.Array(DocumentInput, { minItems: 1, maxItems: 100 })),
  background: Type.Optional(Type.Boolean({ description: 'Index through the job queue and answer 202 at once. Input over 200,000 characters always is.' })),
});

const SourceParams = StrictObject({ id: Type.String({ minLength: 1, maxLength: 128, description: 'Source id (src_…) or name.' }) });
const DocumentParams = StrictObject({
  id: Type.String({ minLength: 1, maxLength: 128, description: 'Source id (src_…) or name.' }),
  document_id: Type.String({ minLength: 1, maxLength: 128 }),
});

const Scalar = Type.Union([Type.String({ maxLength: 500 }), Type.Number(), Type.Boolean()]);
const FilterCondition = Type.Union([
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

const QueryBody = StrictObject({
  query: Type.String({ minLength: 1, maxLength: 10_000 }),
  sources: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 100, description: 'Source ids or names; default: every source of the workspace.' })),
  top_k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  mode: Type.Optional(Type.Union([Type.Literal('hybrid'), Type.Literal('vector'), Type.Literal('keyword')], { default: 'hybrid' })),
  filter: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), FilterCondition, { maxProperties: 20, description: 'Conditions on document metadata: a value, or {eq, ne, in, nin, gt, gte, lt, lte}.' })),
  max_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Also return a context window of the best chunks within this many tokens.' })),
});

const ChunkHit = Type.Object({
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

const QueryResponse = Type.Object({
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

const DocumentListQuery = StrictObject({
  ...PaginationQuery.properties,
  status: Type.Optional(Type.Union([Type.Literal('queued'), Type.Literal('indexing'), Type.Literal('indexed'), Type.Literal('failed')])),
});

function redactHttp(config: Record<string, unknown>) {
  const http = config as unknown as HttpSourceConfig;
  return {
    url: http.url,
    method: http.method,
    headers: Object.fromEntries(Object.keys(http.headers ?? {}).map((name) => [name, '[redacted]'])),
    body: http.body === null ? null : '[redacted]',
    items_path: http.itemsPath,
    id_field: http.idField,
    title_field: http.titleField,
    text_fields: http.textFields,
    metadata_fields: http.metadataFields,
  };
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** Context routes: sources, documents, refresh and query. */
export async function contextRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const context = deps.context;
  const now = () => Date.now();

  async function sourceView(source: ContextSource) {
    const counts = await deps.store.contextDocuments.countBySource(source.id);
    return {
      object: 'context_source' as const,
      id: source.id,
      name: source.name,
      type: source.type,
      description: source.description,
      livemode: source.scope.livemode,
      embedding_model: source.embeddingModel,
      embedding_dimensions: source.embeddingDimensions,
      chunking: { max_tokens: source.chunkMaxTokens, overlap_tokens: source.chunkOverlapTokens },
      ...(source.type === 'url' ? { urls: source.config.urls as string[] } : {}),
      ...(source.type === 'http' ? { http: redactHttp(source.config) } : {}),
      refresh_interval_seconds: source.refreshIntervalSeconds,
      refresh: {
        last_refreshed_at: toNullableTimestamp(source.lastRefreshAt),
        next_refresh_at: toNullableTimestamp(source.nextRefreshAt),
        last_error: source.lastRefreshError,
        running: source.refreshLockedUntil !== null && source.refreshLockedUntil > now(),
      },
      counts: { documents: counts.documents, chunks: counts.chunks, ...counts.byStatus },
      metadata: source.metadata,
      created_at: toTimestamp(source.createdAt),
      updated_at: toTimestamp(source.updatedAt),
    };
  }

  function documentView(document: ContextDocument) {
    return {
      object: 'context_document' as const,
      id: document.id,
      source_id: document.sourceId,
      livemode: document.scope.livemode,
      external_id: document.externalId,
      title: document.title,
      content_type: document.contentType,
      status: document.status,
      error: document.errorCode ? { code: document.errorCode, message: document.errorMessage ?? '' } : null,
      url: document.url,
      size_bytes: document.sizeBytes,
      chunk_count: document.chunkCount,
      token_count: document.tokenCount,
      content_hash: document.contentHash,
      version: document.version,
      metadata: document.metadata,
      created_at: toTimestamp(document.createdAt),
      updated_at: toTimestamp(document.updatedAt),
      indexed_at: toNullableTimestamp(document.indexedAt),
    };
  }

  function hitView(hit: QueryHit) {
    return {
      object: 'context_chunk' as const,
      id: hit.chunk.id,
      text: hit.chunk.text,
      score: hit.score,
      scores: { vector: hit.vectorScore, keyword: hit.keywordScore, vector_rank: hit.vectorRank, keyword_rank: hit.keywordRank },
      position: hit.chunk.position,
      heading: hit.chunk.heading,
      token_count: hit.chunk.tokenCount,
      source: { id: hit.source.id, name: hit.source.name },
      document: { id: hit.document.id, title: hit.document.title, external_id: hit.document.externalId, url: hit.document.url },
      metadata: hit.chunk.metadata,
    };
  }

  const httpChange = (http: Static<typeof HttpConfigUpdate> | undefined): HttpSourceUpdate | undefined =>
    http && {
      url: http.url,
      method: http.method,
      headers: http.headers,
      body: http.body,
      itemsPath: http.items_path,
      idField: http.id_field,
      titleField: http.title_field,
      textFields: http.text_fields,
      metadataFields: http.metadata_fields,
    };
  // A create sends the same fields as a change, without nulls and with the url.
  const httpConfig = (http: Static<typeof HttpConfigInput> | undefined) => httpChange(http) as (Partial<HttpSourceConfig> & { url: string }) | undefined;

  app.post('/v1/context/sources', {
    schema: {
      tags: ['Context'],
      summary: 'Create a context source',
      description: 'A `documents` source holds what you push; `url` fetches web pages; `http` fetches a JSON endpoint. url and http sources are fetched right after creation and then every `refresh_interval_seconds`.',
      body: CreateSourceBody,
      response: { 201: SourceObject },
    },
  }, async (request, reply) => {
    const auth = authOf(request);
    const body = request.body;
    const type = body.type ?? 'documents';
    const source = await context.sources.create(auth.scope, {
      name: body.name,
      type,
      description: body.description,
      embeddingModel: body.embedding_model,
      chunking: body.chunking && { maxTokens: body.chunking.max_tokens, overlapTokens: body.chunking.overlap_tokens },
      urls: body.urls,
      http: httpConfig(body.http),
      refreshIntervalSeconds: body.refresh_interval_seconds,
      metadata: body.metadata,
    });
    if (source.type !== 'documents') await context.refresh.requestDue(source);
    return reply.code(201).send(await sourceView(source));
  });

  app.get('/v1/context/sources', {
    schema: { tags: ['Context'], summary: 'List context sources', querystring: PaginationQuery, response: { 200: ListOf(SourceObject) } },
  }, async (request) => {
    const auth = authOf(request);
    const page = await context.sources.list(auth.scope, { limit: request.query.limit ?? 20, after: request.query.after, before: request.query.before });
    return toList(await Promise.all(page.data.map(sourceView)), page.hasMore);
  });

  app.get('/v1/context/sources/:id', {
    schema: { tags: ['Context'], summary: 'Get a context source (by id or name)', params: SourceParams, response: { 200: SourceObject } },
  }, async (request) => sourceView(await context.sources.resolve(authOf(request).scope, request.params.id)));

  app.patch('/v1/context/sources/:id', {
    schema: {
      tags: ['Context'],
      summary: 'Update a context source',
      description: 'The type, embedding model and chunking are fixed at creation. `http` is merged into the stored settings. Changing urls or http fetches the source again.',
      params: SourceParams,
      body: UpdateSourceBody,
      response: { 200: SourceObject },
    },
  }, async (request) => {
    const auth = authOf(request);
    const body = request.body;
    const { source, refetch } = await context.sources.update(auth.scope, request.params.id, {
      name: body.name,
      description: body.description,
      urls: body.urls,
      http: httpChange(body.http),
      refreshIntervalSeconds: body.refresh_interval_seconds,
      metadata: body.metadata,
    });
    if (refetch) await context.refresh.requestDue(source);
    return sourceView(source);
  });

  app.delete('/v1/context/sources/:id', {
    schema: {
      tags: ['Context'],
      summary: 'Delete a context source with its documents and chunks',
      params: SourceParams,
      response: { 200: Type.Object({ object: Type.Literal('context_source'), id: Type.String(), name: Type.String(), deleted: Type.Literal(true) }) },
    },
  }, async (request) => {
    const source = await context.sources.delete(authOf(request).scope, request.params.id);
    return { object: 'context_source' as const, id: source.id, name: source.name, deleted: true as const };
  });

  // Multipart uploads are parsed only in this scope: any other route answers 415 to them.
  await fastify.register(async (scope) => {
    await scope.register(multipart, { throwFileSizeLimit: true });
    const uploads = scope.withTypeProvider<TypeBoxTypeProvider>();
    const { maxUploadBytes, maxFileBytes } = context.uploadLimits;
    uploads.post('/v1/context/sources/:id/documents', {
      bodyLimit: maxUploadBytes,
      schema: {
        'x-body-limit': maxUploadBytes,
        tags: ['Context'],
        summary: 'Ingest documents',
        description:
          'Send JSON `{"documents": [{"text": …}]}`, or `multipart/form-data` with one or more `file` parts ' +
          '(plain text, Markdown, HTML, PDF, JSON, CSV) and optional `metadata` (a JSON object) and `background` fields. ' +
          'A document with an `external_id` (or a file name) already in the source replaces it. Small input is indexed ' +
          'before the response (201); large input, or `background: true`, is indexed by the job queue (202) — poll the documents. ' +
          `Each file may have up to ${maxFileBytes} bytes and the request up to ${maxUploadBytes} (413 \`document_too_large\` / \`body_too_large\` past them).`,
        consumes: ['application/json', 'multipart/form-data'],
        params: SourceParams,
        body: IngestBody,
        response: { 201: ListOf(DocumentObject), 202: ListOf(DocumentObject) },
      },
    }, async (request, reply) => {
      const auth = authOf(request);
      const source = await context.sources.resolve(auth.scope, request.params.id);
      if (source.type !== 'documents') {
        throw new ApiError('parameter_invalid', { message: `Source '${source.name}' is a ${source.type} source: its documents come from fetching it. Use POST …/refresh.`, param: 'id' });
      }
      // Uploaded files are streamed to a temporary directory, read from there by the workers, and deleted after.
      const result = await withUploadDir(request.isMultipart(), async (dir) => {
        const { items, background } = dir ? await readMultipart(request, context.uploadLimits, dir) : fromJson(request.body as Static<typeof IngestBody>, maxFileBytes);
        const prepared = await context.ingest.prepare(auth.scope, items);
        // `background: false` cannot hold a large request open: over the inline limit it goes to the queue anyway.
        return context.ingest.ingest(auth.scope, source, prepared, background ? { background } : {});
      });
      return reply.code(result.background ? 202 : 201).send(toList(result.documents.map(documentView), false));
    });
  });

  app.get('/v1/context/sources/:id/documents', {
    schema: { tags: ['Context'], summary: 'List documents of a source, with their indexing status', params: SourceParams, querystring: DocumentListQuery, response: { 200: ListOf(DocumentObject) } },
  }, async (request) => {
    const auth = authOf(request);
    const source = await context.sources.resolve(auth.scope, request.params.id);
    const q = request.query;
    const page = await deps.store.contextDocuments.list(source.id, { limit: q.limit ?? 20, after: q.after, before: q.before }, { status: q.status as DocumentStatus | undefined });
    return toList(page.data.map(documentView), page.hasMore);
  });

  app.get('/v1/context/sources/:id/documents/:document_id', {
    schema: { tags: ['Context'], summary: 'Get a document', params: DocumentParams, response: { 200: DocumentObject } },
  }, async (request) => {
    const auth = authOf(request);
    const source = await context.sources.resolve(auth.scope, request.params.id);
    const document = isId('doc', request.params.document_id) ? await deps.store.contextDocuments.get(auth.scope, request.params.document_id) : undefined;
    if (!document || document.sourceId !== source.id) throw new ApiError('resource_missing', { message: `No such document: '${request.params.document_id}'.`, param: 'document_id' });
    return documentView(document);
  });

  app.delete('/v1/context/sources/:id/documents/:document_id', {
    schema: {
      tags: ['Context'],
      summary: 'Delete a document and its chunks',
      params: DocumentParams,
      response: { 200: Type.Object({ object: Type.Literal('context_document'), id: Type.String(), deleted: Type.Literal(true) }) },
    },
  }, async (request) => {
    const auth = authOf(request);
    const source = await context.sources.resolve(auth.scope, request.params.id);
    if (!isId('doc', request.params.document_id)) throw new ApiError('resource_missing', { message: `No such document: '${request.params.document_id}'.`, param: 'document_id' });
    const document = await context.ingest.deleteDocument(auth.scope, source, request.params.document_id);
    return { object: 'context_document' as const, id: document.id, deleted: true as const };
  });

  app.post('/v1/context/sources/:id/refresh', {
    schema: {
      tags: ['Context'],
      summary: 'Refresh a url or http source now',
      description: 'Queues a fetch of the source (202). Unchanged pages and items are not re-embedded. Two refreshes of one source never run at once.',
      params: SourceParams,
      body: StrictObject({}),
      response: { 202: SourceObject },
    },
  }, async (request, reply) => {
    const auth = authOf(request);
    const source = await context.sources.resolve(auth.scope, request.params.id);
    await context.refresh.request(source);
    return reply.code(202).send(await sourceView(source));
  });

  app.post('/v1/context/query', {
    schema: {
      tags: ['Context'],
      summary: 'Search context sources',
      description: 'Hybrid search (vector + full text, fused by reciprocal rank) by default. With `max_tokens`, also returns a context window: the best chunks that fit, deduplicated, grouped by document, with numbered citations.',
      body: QueryBody,
      response: { 200: QueryResponse },
    },
  }, async (request) => {
    const auth = authOf(request);
    const body = request.body;
    const mode = body.mode ?? 'hybrid';
    const result = await context.retrieval.query(auth.scope, {
      query: body.query,
      sources: body.sources,
      topK: body.top_k ?? 10,
      mode,
      filter: body.filter,
      maxTokens: body.max_tokens,
    });
    return {
      object: 'context_query' as const,
      query: body.query,
      mode,
      data: result.hits.map(hitView),
      window: result.window && {
        text: result.window.text,
        token_count: result.window.tokenCount,
        max_tokens: result.window.maxTokens,
        citations: result.window.citations.map((c) => ({
          index: c.index, chunk_id: c.chunkId, document_id: c.documentId, source_id: c.sourceId, title: c.title, url: c.url, external_id: c.externalId,
        })),
      },
      latency_ms: {
        embedding: round(result.timings.embeddingMs),
        vector: round(result.timings.vectorMs),
        keyword: round(result.timings.keywordMs),
        total: round(result.timings.totalMs),
      },
    };
  });

  app.get('/v1/context/embedding_models', {
    schema: {
      tags: ['Context'],
      summary: 'Embedding models a source can use',
      response: { 200: ListOf(Type.Object({ object: Type.Literal('embedding_model'), id: Type.String(), dimensions: Type.Integer(), provider: Type.String(), default: Type.Boolean() })) },
    },
  }, async () => {
    const models = context.embedders.list().map((m) => ({
      object: 'embedding_model' as const, id: m.model, dimensions: m.dimensions, provider: m.provider, default: m.model === context.embedders.defaultModel,
    }));
    return toList(models, false);
  });
}

function fromJson(body: Static<typeof IngestBody>, maxFileBytes: number): { items: IngestItem[]; background: boolean | undefined } {
  if (!body.documents) throw new ApiError('parameter_missing', { message: 'Send documents, or files as multipart/form-data.', param: 'documents' });
  body.documents.forEach((d, i) => {
    // A document sent as JSON text has the same size limit as an uploaded file.
    if (d.text !== undefined && d.text.length > maxFileBytes / 4 && Buffer.byteLength(d.text) > maxFileBytes) {
      throw new ApiError('document_too_large', {
        message: `documents[${i}].text is larger than the ${maxFileBytes} bytes allowed per document (--max-file-bytes / KAIRO_MAX_FILE_BYTES).`,
        param: `documents[${i}].text`,
      });
    }
  });
  return {
    items: body.documents.map((d) => ({
      id: d.id, externalId: d.external_id, title: d.title, text: d.text, contentType: d.content_type ?? 'text/plain', metadata: d.metadata,
    })),
    background: body.background,
  };
}

