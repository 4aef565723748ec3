import { createHash } from 'node:crypto';
import { KairoError } from '../errors.js';
import { plans } from '../platform/plans.js';
import { newId } from '../ids.js';
import type { Queue } from '../queue/port.js';
import type { ContextDocument, ContextSource, Scope, Store, Transaction } from '../store/port.js';
import { DocumentParseError, EmbeddingError, type ParsedDocument } from './ports.js';
import type { DocumentIndexer } from './indexer.js';
import type { StorageUsage } from './storage-usage.js';
import type { ChunkedText, DocumentWork } from './document-work.js';
import { LOCAL_HASH_MODEL } from './embedders/local-hash-embedder.js';

export const INDEX_DOCUMENT_JOB = 'context.index_document';

/** An indexing job's payload. */
export interface IndexJob {
  documentId: string;
  version: number;
  workspaceId?: string;
}

/** Documents up to this much text (in total) are indexed before the ingest request returns. */
export const INLINE_INDEX_MAX_CHARS = 200_000;

export type DocumentMetadata = Record<string, string | number | boolean>;

/** One document to ingest: text (with a content type), fetched bytes, or an upload streamed to a temporary file. */
export interface IngestItem {
  id?: string;
  externalId?: string;
  title?: string;
  text?: string;
  bytes?: Buffer;
  /** A temporary file holding the upload, and its size; the caller deletes it. */
  file?: { path: string; size: number };
  contentType?: string;
  filename?: string;
  metadata?: DocumentMetadata;
  /** Fetched documents: where from, and the validators for the next conditional GET. */
  url?: string;
  etag?: string | null;
  lastModified?: string | null;
}

/** A parsed item ready to be stored. */
interface PreparedItem {
  item: IngestItem;
  /** How the request names this item in errors (`documents[2]`, `files[0]`). */
  param: string;
  parsed: ParsedDocument;
  contentType: string;
  sizeBytes: number;
  hash: string;
}

function canonical(metadata: DocumentMetadata): string {
  return JSON.stringify(Object.keys(metadata).sort().map((k) => [k, metadata[k]]));
}

/** Identity of a document's content: an unchanged hash means nothing to re-index. */
export function contentHash(title: string | null, text: string, metadata: DocumentMetadata): string {
  return createHash('sha256').update(`${title ?? ''}\u0000${text}\u0000${canonical(metadata)}`).digest('hex');
}

/** Turns a parse failure into the API error for the request, naming the field. */
function parseFailure(error: unknown, param: string): KairoError {
  if (error instanceof DocumentParseError) return new KairoError(error.code, { message: error.message, param });
  throw error;
}

/** Throws `quota_exceeded` when the source holds more documents, or the workspace more bytes, than its plan allows. */
async function checkQuotas(tx: Transaction, scope: Scope, source: ContextSource): Promise<void> {
  const workspace = await tx.workspaces.get(scope.workspaceId);
  if (!workspace) return;
  const limits = plans[workspace.plan];
  if (limits.documentsPerSource !== null) {
    const { documents } = await tx.contextDocuments.countBySource(source.id);
    if (documents > limits.documentsPerSource) {
      throw new KairoError('quota_exceeded', {
        message: `Source '${source.name}' would hold ${documents} documents, more than the ${limits.documentsPerSource} a source may hold on the ${workspace.plan} plan. Delete documents, or use another source.`,
        param: 'documents',
      });
    }
  }
  if (limits.storageBytes !== null) {
    const bytes = await tx.contextDocuments.storedBytes(scope.workspaceId);
    if (bytes > limits.storageBytes) {
      throw new KairoError('quota_exceeded', {
        message: `The workspace would store ${bytes} bytes of documents, more than the ${limits.storageBytes} of the ${workspace.plan} plan. Delete documents to make room.`,
        param: 'documents',
      });
    }
  }
}

/**
 * How a failed indexing pass is recorded on its document: the embedding model failed, or the
 * document needed more memory or time than a worker allows. Undefined for any other error.
 */
export function indexingFailure(error: unknown): { code: string; message: string } | undefined {
  if (error instanceof EmbeddingError) return { code: error.code, message: error.message };
  if (error instanceof DocumentParseError) return { code: error.code, message: error.message };
  return undefined;
}

/**
 * Ingestion: parses every input first (so one bad file refuses the whole request and writes
 * nothing), then stores the documents and indexes them — at once when they are small, else
 * through the job queue, which survives a restart.
 */
export class IngestService {
  constructor(
    private readonly store: Store,
    private readonly queue: Queue,
    private readonly indexer: DocumentIndexer,
    private readonly work: DocumentWork,
    private readonly now: () => number = Date.now,
    private readonly storage?: StorageUsage,
  ) {}

  /** Parses every item (in the compute pool) and checks ids; throws KairoError naming the item at the first bad one. */
  async prepare(scope: Scope, items: IngestItem[], paramPrefix = 'documents'): Promise<PreparedItem[]> {
    // Two items for one document would make the response list it twice and index a version
    // nobody asked for: each document may appear once per request.
    const seen = new Map<string, number>();
    const params = items.map((item, i) => (item.filename ? `files[${i}]` : `${paramPrefix}[${i}]`));
    for (const [i, item] of items.entries()) {
      const param = params[i]!;
      for (const [key, field] of [[item.id, 'id'], [item.externalId, 'external_id']] as const) {
        if (key === undefined) continue;
        const first = seen.get(`${field}:${key}`);
        if (first !== undefined) {
          throw new KairoError('parameter_invalid', {
            message: `${param} has the same ${field} as item ${first} ('${key}'): send each document once per request.`,
            param: item.filename ? param : `${param}.${field}`,
          });
        }
        seen.set(`${field}:${key}`, i);
      }
    }
    const inputs = items.map((item) => ({
      binary: item.bytes !== undefined || item.file !== undefined,
      bytes: item.file ? undefined : (item.bytes ?? Buffer.from(item.text ?? '', 'utf8')),
      declared: item.contentType ?? (item.bytes !== undefined || item.file !== undefined ? undefined : 'text/plain'),
    }));
    const outcomes = await this.work.parseAll(scope, items.map((item, i) => ({
      bytes: inputs[i]!.bytes, file: item.file?.path, contentType: inputs[i]!.declared, filename: item.filename,
    })));
    return outcomes.map((parsed, i) => {
      const item = items[i]!;
      const { binary, bytes, declared } = inputs[i]!;
      if (parsed instanceof DocumentParseError) throw parseFailure(parsed, binary ? params[i]! : `${params[i]}.text`);
      const title = item.title ?? parsed.title ?? item.filename ?? null;
      return {
        item,
        param: params[i]!,
        parsed: { title, text: parsed.text },
        contentType: declared ?? 'application/octet-stream',
        sizeBytes: item.file?.size ?? bytes!.length,
        hash: contentHash(title, parsed.text, item.metadata ?? {}),
      };
    });
  }

  /**
   * Stores prepared documents and indexes them. A document with the id or external id of an
   * existing one replaces it (its old chunks stay searchable until the new ones are committed);
   * one whose content is unchanged is left as it is.
   */
  async ingest(scope: Scope, source: ContextSource, prepared: PreparedItem[], options: { background?: boolean; requestId?: string | null } = {}) {
    const totalChars = prepared.reduce((sum, p) => sum + p.parsed.text.length, 0);
    const background = options.background ?? totalChars > INLINE_INDEX_MAX_CHARS;
    const toIndex: ContextDocument[] = [];
    const documents = await this.store.transaction(async (tx) => {
      const stored: ContextDocument[] = [];
      for (const p of prepared) {
        const { document, changed } = await this.upsert(tx, scope, source, p);
        stored.push(document);
        if (!changed) continue;
        toIndex.push(document);
        if (background) {
          await this.queue.enqueue(INDEX_DOCUMENT_JOB, { documentId: document.id, version: document.version, workspaceId: scope.workspaceId } satisfies IndexJob, {
            jobId: `index_${document.id}_v${document.version}`,
            tx,
          });
        }
      }
      // Checked on what the transaction wrote, so a replaced document counts once; over a quota, nothing is kept.
      if (toIndex.length > 0) await checkQuotas(tx, scope, source);
      return stored;
    });
    if (toIndex.length > 0) this.storage?.changed(scope.workspaceId);
    if (background) return { documents, background: true, changed: toIndex.length };

    const byId = new Map(documents.map((d) => [d.id, d]));
    // The documents of one request are chunked together: one round trip to a worker for all. Should
    // that outgrow a worker, each is chunked on its own, so that a failure is recorded on its document.
    const chunked = await this.work
      .chunkAll(scope, toIndex.map((d) => d.text), { maxTokens: source.chunkMaxTokens, overlapTokens: source.chunkOverlapTokens }, source.embeddingModel === LOCAL_HASH_MODEL)
      .catch((error: unknown) => {
        if (error instanceof DocumentParseError) return [];
        throw error;
      });
    for (const [i, document] of toIndex.entries()) byId.set(document.id, await this.indexNow(document, chunked[i], options.requestId ?? null));
    return { documents: documents.map((d) => byId.get(d.id)!), background: false, changed: toIndex.length };
  }

  /** Indexes one document in this request (`requestId`); an embedding or size failure is recorded on the document. */
  private async indexNow(document: ContextDocument, chunked: ChunkedText | undefined, requestId: string | null): Promise<ContextDocument> {
    try {
      const outcome = await this.indexer.index(document.id, { version: document.version, chunked, requestId });
      return outcome?.document ?? (await this.store.contextDocuments.getById(document.id)) ?? document;
    } catch (error) {
      const failure = indexingFailure(error);
      if (!failure) throw error;
      await this.indexer.markFailed(document.id, failure.code, failure.message, document.version, requestId);
      return (await this.store.contextDocuments.getById(document.id)) ?? document;
    }
  }

  private async upsert(tx: Transaction, scope: Scope, source: ContextSource, p: PreparedItem) {
    const { item } = p;
    let existing: ContextDocument | undefined;
    if (item.id !== undefined) {
      existing = await tx.contextDocuments.get(scope, item.id);
      if (!existing || existing.sourceId !== source.id) {
        throw new KairoError('resource_missing', { message: `No such document in this source: '${item.id}'.`, param: `${p.param}.id` });
      }
      if (item.externalId !== undefined && item.externalId !== existing.externalId) {
        const holder = await tx.contextDocuments.getByExternalId(source.id, item.externalId);
        if (holder && holder.id !== existing.id) {
          throw new KairoError('parameter_invalid', {
            message: `external_id '${item.externalId}' already belongs to document ${holder.id} of this source.`,
            param: `${p.param}.external_id`,
          });
        }
      }
    } else if (item.externalId !== undefined) {
      existing = await tx.contextDocuments.getByExternalId(source.id, item.externalId);
    }
    const now = this.now();
    if (existing && existing.contentHash === p.hash && existing.status === 'indexed') {
      if (item.etag !== undefined || item.lastModified !== undefined) {
        existing = { ...existing, etag: item.etag ?? null, lastModified: item.lastModified ?? null };
        await tx.contextDocuments.upsert(existing);
      }
      return { document: existing, changed: false };
    }
    const document: ContextDocument = {
      id: existing?.id ?? newId('doc'),
      sourceId: source.id,
      scope,
      externalId: item.externalId ?? existing?.externalId ?? null,
      title: p.parsed.title,
      contentType: p.contentType,
      text: p.parsed.text,
      contentHash: p.hash,
      sizeBytes: p.sizeBytes,
      status: 'queued',
      errorCode: null,
      errorMessage: null,
      metadata: item.metadata ?? {},
      chunkCount: existing?.chunkCount ?? 0,
      tokenCount: existing?.tokenCount ?? 0,
      url: item.url ?? existing?.url ?? null,
      etag: item.etag ?? null,
      lastModified: item.lastModified ?? null,
      version: (existing?.version ?? 0) + 1,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      indexedAt: existing?.indexedAt ?? null,
    };
    await tx.contextDocuments.upsert(document);
    return { document, changed: true };
  }
}
