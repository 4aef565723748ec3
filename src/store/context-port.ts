/** The storage port of context: sources, documents and chunks with their vector and full-text indexes. */
import type { Page, PageRequest, Scope } from './platform-port.js';

export type SourceType = 'documents' | 'url' | 'http';

export interface ContextSource {
  id: string;
  scope: Scope;
  name: string;
  type: SourceType;
  description: string | null;
  embeddingModel: string;
  embeddingDimensions: number;
  chunkMaxTokens: number;
  chunkOverlapTokens: number;
  /** Type-specific settings (URLs to fetch, JSON endpoint and mapping). */
  config: Record<string, unknown>;
  metadata: Record<string, string>;
  refreshIntervalSeconds: number | null;
  lastRefreshAt: number | null;
  nextRefreshAt: number | null;
  lastRefreshError: string | null;
  /** A refresh in progress holds this lock until the time given, so two never run at once. */
  refreshLockedUntil: number | null;
  createdAt: number;
  updatedAt: number;
}

export type DocumentStatus = 'queued' | 'indexing' | 'indexed' | 'failed';

/** How many documents a source holds, in all and by status, and how many chunks. */
export interface SourceDocumentCounts {
  documents: number;
  chunks: number;
  byStatus: Record<DocumentStatus, number>;
}

export interface ContextDocument {
  id: string;
  sourceId: string;
  scope: Scope;
  /** The caller's (or the URL/endpoint's) identity for the document: re-ingesting it replaces it. */
  externalId: string | null;
  title: string | null;
  contentType: string;
  /** Normalised text the chunks are cut from. */
  text: string;
  contentHash: string;
  sizeBytes: number;
  status: DocumentStatus;
  errorCode: string | null;
  errorMessage: string | null;
  metadata: Record<string, string | number | boolean>;
  chunkCount: number;
  tokenCount: number;
  /** For fetched documents: the URL and its validators for conditional GET. */
  url: string | null;
  etag: string | null;
  lastModified: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
  indexedAt: number | null;
}

export interface ContextSourceRepo {
  create(source: ContextSource): Promise<ContextSource>;
  get(scope: Scope, id: string): Promise<ContextSource | undefined>;
  /** Internal lookup without scope (job handlers carry only ids). */
  getById(id: string): Promise<ContextSource | undefined>;
  getByName(scope: Scope, name: string): Promise<ContextSource | undefined>;
  list(scope: Scope, page: PageRequest): Promise<Page<ContextSource>>;
  /** Every source of a scope (for queries over "all my sources"). */
  listAll(scope: Scope): Promise<ContextSource[]>;
  update(source: ContextSource): Promise<ContextSource>;
  delete(scope: Scope, id: string): Promise<boolean>;
  /** Takes the refresh lock if it is free (or expired); false when a refresh is already running. */
  lockRefresh(id: string, now: number, until: number): Promise<boolean>;
  /** Releases the lock and records the outcome. */
  finishRefresh(id: string, outcome: { at: number; error: string | null; nextRefreshAt: number | null }): Promise<void>;
  /** Sources with a refresh interval whose next refresh time has come (across all workspaces). */
  dueForRefresh(now: number, limit: number): Promise<ContextSource[]>;
}

export interface ContextDocumentRepo {
  /** Inserts, or replaces the document with the same id. */
  upsert(document: ContextDocument): Promise<ContextDocument>;
  get(scope: Scope, id: string): Promise<ContextDocument | undefined>;
  /** Internal lookup without scope (job handlers carry only ids). */
  getById(id: string): Promise<ContextDocument | undefined>;
  getByExternalId(sourceId: string, externalId: string): Promise<ContextDocument | undefined>;
  list(sourceId: string, page: PageRequest, filter?: { status?: DocumentStatus }): Promise<Page<ContextDocument>>;
  /** All documents of a source, without their text. */
  listAllIds(sourceId: string): Promise<Array<{ id: string; externalId: string | null; contentHash: string }>>;
  setStatus(
    id: string,
    update: { status: DocumentStatus; errorCode?: string | null; errorMessage?: string | null; chunkCount?: number; tokenCount?: number; indexedAt?: number | null; updatedAt: number },
  ): Promise<void>;
  delete(id: string): Promise<boolean>;
  countBySource(sourceId: string): Promise<SourceDocumentCounts>;
  /** Each source's counts in one query (a source without documents counts zeros). */
  countBySources(sourceIds: readonly string[]): Promise<Map<string, SourceDocumentCounts>>;
  /** Bytes of every document of the workspace (both modes), as they were ingested. */
  storedBytes(workspaceId: string): Promise<number>;
}

/** A chunk as written by the ingestion pipeline. */
export interface ChunkInput {
  id: string;
  sourceId: string;
  documentId: string;
  scope: Scope;
  position: number;
  text: string;
  tokenCount: number;
  /** SHA-256 of the chunk text: unchanged chunks reuse their embedding. */
  textHash: string;
  heading: string | null;
  metadata: Record<string, string | number | boolean>;
  embedding: Float32Array;
  createdAt: number;
}

export type ChunkRecord = Omit<ChunkInput, 'embedding'>;

/** A search hit: `score` is cosine similarity for vector search, a relevance score for keyword search. */
export interface ScoredChunk {
  chunkId: string;
  score: number;
}

/**
 * Chunks with their vector and full-text indexes. Dialect-specific: SQLite uses sqlite-vec and
 * FTS5; PostgreSQL uses pgvector (HNSW) when the server has it, else an exact scan, and tsvector.
 */
export interface ContextChunkRepo {
  /** Replaces every chunk of a document, indexes included (call inside a transaction). */
  replaceForDocument(documentId: string, chunks: ChunkInput[]): Promise<void>;
  deleteForDocument(documentId: string): Promise<void>;
  deleteForSource(sourceId: string): Promise<void>;
  /** Stored embeddings of a source's chunks by text hash, so unchanged chunks are not re-embedded. */
  embeddingsByHash(sourceId: string, textHashes: string[]): Promise<Map<string, Float32Array>>;
  /** Nearest chunks by cosine similarity among the given sources (all of one embedding dimension). */
  vectorSearch(query: { sourceIds: string[]; embedding: Float32Array; k: number }): Promise<ScoredChunk[]>;
  /** Full-text matches among the given sources, best first. */
  keywordSearch(query: { sourceIds: string[]; text: string; k: number }): Promise<ScoredChunk[]>;
  getMany(ids: string[]): Promise<ChunkRecord[]>;
  listForDocument(documentId: string): Promise<ChunkRecord[]>;
}
