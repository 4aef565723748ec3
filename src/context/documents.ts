import { KairoError } from '../errors.js';
import { isId } from '../ids.js';
import type { ContextDocument, ContextSource, DocumentStatus, Page, PageRequest, Scope, SourceDocumentCounts, Store } from '../store/port.js';
import type { StorageUsage } from './storage-usage.js';

/** The documents of a source: listing, reading, counting and deleting them. */
export class DocumentService {
  constructor(private readonly store: Store, private readonly storage?: StorageUsage) {}

  list(source: ContextSource, page: PageRequest, filter: { status?: DocumentStatus } = {}): Promise<Page<ContextDocument>> {
    return this.store.contextDocuments.list(source.id, page, filter);
  }

  /** The document of the source, or 404 `resource_missing` naming `document_id`. */
  async get(scope: Scope, source: ContextSource, documentId: string): Promise<ContextDocument> {
    const document = isId('doc', documentId) ? await this.store.contextDocuments.get(scope, documentId) : undefined;
    if (!document || document.sourceId !== source.id) throw missing(documentId);
    return document;
  }

  /** Each source's counts, in the order of `sources`, in one query. */
  async counts(sources: ContextSource[]): Promise<SourceDocumentCounts[]> {
    const counts = await this.store.contextDocuments.countBySources(sources.map((source) => source.id));
    return sources.map((source) => counts.get(source.id)!);
  }

  /** Deletes a document with its chunks and index entries. */
  async delete(scope: Scope, source: ContextSource, documentId: string): Promise<ContextDocument> {
    const document = await this.get(scope, source, documentId);
    await this.store.transaction(async (tx) => {
      await tx.contextChunks.deleteForDocument(document.id);
      await tx.contextDocuments.delete(document.id);
    });
    this.storage?.changed(scope.workspaceId);
    return document;
  }
}

const missing = (documentId: string) => new KairoError('resource_missing', { message: `No such document: '${documentId}'.`, param: 'document_id' });
