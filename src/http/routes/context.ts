import { Type, type Static } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import multipart from '@fastify/multipart';
import { readMultipart, withUploadDir } from './context-uploads.js';
import type { ContextSource, DocumentStatus } from '../../store/port.js';
import { KairoError } from '../../errors.js';
import type { IngestItem } from '../../context/ingest.js';
import type { HttpSourceConfig, HttpSourceUpdate } from '../../context/sources.js';
import { authOf } from '../plugins/auth.js';
import { ListOf, PaginationQuery, StrictObject, toList } from '../schemas.js';
import type { AppDeps } from '../deps.js';
import {
  CreateSourceBody, DocumentListQuery, DocumentObject, DocumentParams, HttpConfigInput, HttpConfigUpdate, IngestBody, QueryBody, QueryResponse,
  SourceObject, SourceParams, UpdateSourceBody,
} from './context-schemas.js';
import { documentView, hitView, sourceView } from '../../context/views.js';

const round = (ms: number) => Math.round(ms * 100) / 100;

/** Context routes: sources, documents, refresh and query. */
export async function contextRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const context = deps.context;

  const viewOf = async (source: ContextSource) => sourceView(source, (await context.documents.counts([source]))[0]!, Date.now());

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
    config: { errors: ['source_name_taken'] },
    schema: {
      operationId: 'context.sources.create',
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
    return reply.code(201).send(await viewOf(source));
  });

  app.get('/v1/context/sources', {
    schema: { operationId: 'context.sources.list', description: 'The context sources of the workspace and mode, newest first.', tags: ['Context'], summary: 'List context sources', querystring: PaginationQuery, response: { 200: ListOf(SourceObject) } },
  }, async (request) => {
    const auth = authOf(request);
    const page = await context.sources.list(auth.scope, { limit: request.query.limit ?? 20, after: request.query.after, before: request.query.before });
    const counts = await context.documents.counts(page.data);
    const now = Date.now();
    return toList(page.data.map((source, i) => sourceView(source, counts[i]!, now)), page.hasMore);
  });

  app.get('/v1/context/sources/:id', {
    schema: { operationId: 'context.sources.retrieve', description: 'The source named in the URL by its id (`src_…`) or its name.', tags: ['Context'], summary: 'Get a context source (by id or name)', params: SourceParams, response: { 200: SourceObject } },
  }, async (request) => viewOf(await context.sources.resolve(authOf(request).scope, request.params.id)));

  app.patch('/v1/context/sources/:id', {
    config: { errors: ['source_name_taken'] },
    schema: {
      operationId: 'context.sources.update',
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
    return viewOf(source);
  });

  app.delete('/v1/context/sources/:id', {
    schema: {
      operationId: 'context.sources.delete', description: 'Deletes the source, its documents and their chunks; agents that name it no longer retrieve from it.',
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
      config: { errors: ['quota_exceeded', 'document_too_large', 'unsupported_file_type', 'document_unreadable', 'document_empty', 'embedding_failed'] },
      bodyLimit: maxUploadBytes,
      schema: {
        operationId: 'context.sources.documents.create',
        'x-body-limit': maxUploadBytes,
        'x-multipart-body': {
          type: 'object',
          required: ['file'],
          properties: {
            file: { type: 'array', items: { type: 'string', format: 'binary' }, description: 'One part per file; its file name becomes the document\'s external_id.' },
            metadata: { type: 'string', description: 'A JSON object, set on every document of the request.' },
            background: { type: 'string', enum: ['true', 'false'], description: '`true`: index by the job queue and answer 202 at once.' },
          },
        },
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
        throw new KairoError('parameter_invalid', { message: `Source '${source.name}' is a ${source.type} source: its documents come from fetching it. Use POST …/refresh.`, param: 'id' });
      }
      // Uploaded files are streamed to a temporary directory, read from there by the workers, and deleted after.
      const result = await withUploadDir(request.isMultipart(), async (dir) => {
        const { items, background } = dir ? await readMultipart(request, context.uploadLimits, dir) : fromJson(request.body as Static<typeof IngestBody>, maxFileBytes);
        const prepared = await context.ingest.prepare(auth.scope, items);
        // `background: false` cannot hold a large request open: over the inline limit it goes to the queue anyway.
        return context.ingest.ingest(auth.scope, source, prepared, { ...(background ? { background } : {}), requestId: request.id });
      });
      return reply.code(result.background ? 202 : 201).send(toList(result.documents.map(documentView), false));
    });
  });

  app.get('/v1/context/sources/:id/documents', {
    schema: { operationId: 'context.sources.documents.list', description: 'Newest first; `status` says whether each document is indexed yet.', tags: ['Context'], summary: 'List documents of a source, with their indexing status', params: SourceParams, querystring: DocumentListQuery, response: { 200: ListOf(DocumentObject) } },
  }, async (request) => {
    const auth = authOf(request);
    const source = await context.sources.resolve(auth.scope, request.params.id);
    const q = request.query;
    const page = await context.documents.list(source, { limit: q.limit ?? 20, after: q.after, before: q.before }, { status: q.status as DocumentStatus | undefined });
    return toList(page.data.map(documentView), page.hasMore);
  });

  app.get('/v1/context/sources/:id/documents/:document_id', {
    schema: { operationId: 'context.sources.documents.retrieve', description: 'One document of the source, with its indexing status.', tags: ['Context'], summary: 'Get a document', params: DocumentParams, response: { 200: DocumentObject } },
  }, async (request) => {
    const auth = authOf(request);
    const source = await context.sources.resolve(auth.scope, request.params.id);
    return documentView(await context.documents.get(auth.scope, source, request.params.document_id));
  });

  app.delete('/v1/context/sources/:id/documents/:document_id', {
    schema: {
      operationId: 'context.sources.documents.delete', description: 'Deletes the document and its chunks: they are no longer retrieved.',
      tags: ['Context'],
      summary: 'Delete a document and its chunks',
      params: DocumentParams,
      response: { 200: Type.Object({ object: Type.Literal('context_document'), id: Type.String(), deleted: Type.Literal(true) }) },
    },
  }, async (request) => {
    const auth = authOf(request);
    const source = await context.sources.resolve(auth.scope, request.params.id);
    const document = await context.documents.delete(auth.scope, source, request.params.document_id);
    return { object: 'context_document' as const, id: document.id, deleted: true as const };
  });

  app.post('/v1/context/sources/:id/refresh', {
    schema: {
      operationId: 'context.sources.refresh',
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
    return reply.code(202).send(await viewOf(source));
  });

  app.post('/v1/context/query', {
    config: { errors: ['embedding_failed'] },
    schema: {
      operationId: 'context.query',
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
      operationId: 'context.embedding_models.list', description: 'The embedding models this server can index with; a source picks one when it is created.',
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
  if (!body.documents) throw new KairoError('parameter_missing', { message: 'Send documents, or files as multipart/form-data.', param: 'documents' });
  body.documents.forEach((d, i) => {
    // A document sent as JSON text has the same size limit as an uploaded file.
    if (d.text !== undefined && d.text.length > maxFileBytes / 4 && Buffer.byteLength(d.text) > maxFileBytes) {
      throw new KairoError('document_too_large', {
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

