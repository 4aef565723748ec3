import { newId } from '../ids.js';
import { recordEvents } from '../events/events.js';
import type { ChunkInput, ContextDocument, Store } from '../store/port.js';
import type { EmbedderRegistry } from './ports.js';
import { EmbeddingError } from './ports.js';
import { embeddingInput } from './chunker.js';
import type { ChunkedText, DocumentWork } from './document-work.js';
import { LOCAL_HASH_MODEL } from './embedders/local-hash-embedder.js';
import { documentView } from './views.js';

/** What one indexing pass did. */
export interface IndexOutcome {
  document: ContextDocument;
  chunks: number;
  /** Chunks whose vectors were computed now (the rest reused stored vectors of identical text). */
  embedded: number;
}

/**
 * Chunks a document, embeds the chunks whose text is new to the source, and replaces the
 * document's chunks and index entries in one transaction: a reader sees the old version or the
 * new one, never half of either. Chunking and the built-in model's embedding run in the compute
 * pool's worker processes.
 */
export class DocumentIndexer {
  constructor(
    private readonly store: Store,
    private readonly embedders: EmbedderRegistry,
    private readonly work: DocumentWork,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Indexes the current version of a document. Returns undefined when the document or its
   * source is gone, or a newer version replaced it meanwhile (its own pass will index it).
   * Throws EmbeddingError when the embedding model fails, and DocumentParseError when the
   * document needs more memory or time than a worker allows. `chunked`: the document's chunks
   * when the caller cut them already (with the source's settings).
   */
  async index(
    documentId: string, options: { version?: number; signal?: AbortSignal; chunked?: ChunkedText | undefined; requestId?: string | null } = {},
  ): Promise<IndexOutcome | undefined> {
    const document = await this.store.contextDocuments.getById(documentId);
    if (!document || (options.version !== undefined && document.version !== options.version)) return undefined;
    const source = await this.store.contextSources.get(document.scope, document.sourceId);
    if (!source) return undefined;
    const embedder = this.embedders.get(source.embeddingModel);
    if (!embedder) throw new EmbeddingError(`The embedding model ${source.embeddingModel} is no longer configured.`, false);

    await this.store.contextDocuments.setStatus(document.id, { status: 'indexing', updatedAt: this.now() });
    // The built-in model is cheaper to run again than to look up; remote models embed only new text.
    const embedLocally = source.embeddingModel === LOCAL_HASH_MODEL;
    const chunked = options.chunked ?? await this.work.chunk(document.scope, document.text, { maxTokens: source.chunkMaxTokens, overlapTokens: source.chunkOverlapTokens }, embedLocally);
    const pieces = chunked.chunks;
    const hashes = pieces.map((piece) => piece.hash);
    const vectors = chunked.vectors
      ? new Map(hashes.map((hash, i) => [hash, chunked.vectors![i]!]))
      : await this.store.contextChunks.embeddingsByHash(source.id, [...new Set(hashes)]);

    const missing = [...new Set(hashes.filter((hash) => !vectors.has(hash)))];
    const textByHash = new Map(pieces.map((piece) => [piece.hash, embeddingInput(piece.heading, piece.text)]));
    for (let start = 0; start < missing.length; start += embedder.maxBatchSize) {
      options.signal?.throwIfAborted();
      const batch = missing.slice(start, start + embedder.maxBatchSize);
      const embedded = await embedder.embed(batch.map((hash) => textByHash.get(hash)!), { signal: options.signal });
      batch.forEach((hash, i) => vectors.set(hash, embedded[i]!));
    }

    const now = this.now();
    const chunks: ChunkInput[] = pieces.map((piece, i) => ({
      id: newId('chunk'),
      sourceId: source.id,
      documentId: document.id,
      scope: document.scope,
      position: piece.position,
      text: piece.text,
      tokenCount: piece.tokenCount,
      textHash: hashes[i]!,
      heading: piece.heading,
      metadata: document.metadata,
      embedding: vectors.get(hashes[i]!)!,
      createdAt: now,
    }));
    const tokenCount = pieces.reduce((sum, piece) => sum + piece.tokenCount, 0);

    const indexed = await this.store.transaction(async (tx) => {
      const current = await tx.contextDocuments.getById(document.id);
      if (!current || current.version !== document.version) return undefined;
      await tx.contextChunks.replaceForDocument(document.id, chunks);
      await tx.contextDocuments.setStatus(document.id, {
        status: 'indexed', errorCode: null, errorMessage: null, chunkCount: chunks.length, tokenCount, indexedAt: now, updatedAt: now,
      });
      const indexed = { ...current, status: 'indexed' as const, errorCode: null, errorMessage: null, chunkCount: chunks.length, tokenCount, indexedAt: now, updatedAt: now };
      await recordEvents(tx, indexed.scope, [{ type: 'context.document.indexed', object: documentView(indexed), relatedId: indexed.sourceId, requestId: options.requestId }], now);
      return indexed;
    });
    return indexed && { document: indexed, chunks: chunks.length, embedded: missing.length };
  }

  /**
   * Records why indexing failed, with its `context.document.failed` event; the previous version's
   * chunks, if any, stay searchable. With `version`, only if that is still the document's version
   * (a newer one is indexed by its own pass).
   */
  async markFailed(documentId: string, code: string, message: string, version?: number, requestId: string | null = null): Promise<void> {
    const now = this.now();
    await this.store.transaction(async (tx) => {
      const current = await tx.contextDocuments.getById(documentId);
      if (!current || (version !== undefined && current.version !== version)) return;
      await tx.contextDocuments.setStatus(documentId, { status: 'failed', errorCode: code, errorMessage: message, updatedAt: now });
      const failed = { ...current, status: 'failed' as const, errorCode: code, errorMessage: message, updatedAt: now };
      await recordEvents(tx, failed.scope, [{ type: 'context.document.failed', object: documentView(failed), relatedId: failed.sourceId, requestId }], now);
    });
  }
}
