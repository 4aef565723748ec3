/** Context sources, documents and query hits as the API shows them (responses and events alike). */
import type { ContextDocument, ContextSource, SourceDocumentCounts } from '../store/port.js';
import type { HttpSourceConfig } from './sources.js';
import type { QueryHit } from './retrieval.js';
import { toNullableTimestamp, toTimestamp } from '../timestamps.js';

/** An http source's settings as responses show them: headers and body are write-only. */
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

export function sourceView(source: ContextSource, counts: SourceDocumentCounts, now: number) {
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
      running: source.refreshLockedUntil !== null && source.refreshLockedUntil > now,
    },
    counts: { documents: counts.documents, chunks: counts.chunks, ...counts.byStatus },
    metadata: source.metadata,
    created_at: toTimestamp(source.createdAt),
    updated_at: toTimestamp(source.updatedAt),
  };
}

export function documentView(document: ContextDocument) {
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

export function hitView(hit: QueryHit) {
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
