import type { Database } from '../schema.js';
import type { ContextDocument, ContextSource, DocumentStatus, SourceType } from '../port.js';
import { mode, num } from './column-values.js';

type SourceRow = Database['context_sources'];
type DocumentRow = Database['context_documents'];

export function toSource(row: SourceRow): ContextSource {
  return {
    id: row.id,
    scope: { workspaceId: row.workspace_id, livemode: Number(row.livemode) === 1 },
    name: row.name,
    type: row.type as SourceType,
    description: row.description,
    embeddingModel: row.embedding_model,
    embeddingDimensions: Number(row.embedding_dimensions),
    chunkMaxTokens: Number(row.chunk_max_tokens),
    chunkOverlapTokens: Number(row.chunk_overlap_tokens),
    config: JSON.parse(row.config) as Record<string, unknown>,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    refreshIntervalSeconds: num(row.refresh_interval_seconds),
    lastRefreshAt: num(row.last_refresh_at),
    nextRefreshAt: num(row.next_refresh_at),
    lastRefreshError: row.last_refresh_error,
    refreshLockedUntil: num(row.refresh_locked_until),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function sourceRow(source: ContextSource): SourceRow {
  return {
    id: source.id,
    workspace_id: source.scope.workspaceId,
    livemode: mode(source.scope.livemode),
    name: source.name,
    type: source.type,
    description: source.description,
    embedding_model: source.embeddingModel,
    embedding_dimensions: source.embeddingDimensions,
    chunk_max_tokens: source.chunkMaxTokens,
    chunk_overlap_tokens: source.chunkOverlapTokens,
    config: JSON.stringify(source.config),
    metadata: JSON.stringify(source.metadata),
    refresh_interval_seconds: source.refreshIntervalSeconds,
    last_refresh_at: source.lastRefreshAt,
    next_refresh_at: source.nextRefreshAt,
    last_refresh_error: source.lastRefreshError,
    refresh_locked_until: source.refreshLockedUntil,
    created_at: source.createdAt,
    updated_at: source.updatedAt,
  };
}

export function toDocument(row: DocumentRow): ContextDocument {
  return {
    id: row.id,
    sourceId: row.source_id,
    scope: { workspaceId: row.workspace_id, livemode: Number(row.livemode) === 1 },
    externalId: row.external_id,
    title: row.title,
    contentType: row.content_type,
    text: row.text,
    contentHash: row.content_hash,
    sizeBytes: Number(row.size_bytes),
    status: row.status as DocumentStatus,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    metadata: JSON.parse(row.metadata) as ContextDocument['metadata'],
    chunkCount: Number(row.chunk_count),
    tokenCount: Number(row.token_count),
    url: row.url,
    etag: row.etag,
    lastModified: row.last_modified,
    version: Number(row.version),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    indexedAt: num(row.indexed_at),
  };
}

export function documentRow(document: ContextDocument): DocumentRow {
  return {
    id: document.id,
    source_id: document.sourceId,
    workspace_id: document.scope.workspaceId,
    livemode: mode(document.scope.livemode),
    external_id: document.externalId,
    title: document.title,
    content_type: document.contentType,
    text: document.text,
    content_hash: document.contentHash,
    size_bytes: document.sizeBytes,
    status: document.status,
    error_code: document.errorCode,
    error_message: document.errorMessage,
    metadata: JSON.stringify(document.metadata),
    chunk_count: document.chunkCount,
    token_count: document.tokenCount,
    url: document.url,
    etag: document.etag,
    last_modified: document.lastModified,
    version: document.version,
    created_at: document.createdAt,
    updated_at: document.updatedAt,
    indexed_at: document.indexedAt,
  };
}
