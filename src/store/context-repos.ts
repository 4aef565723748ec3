import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type {
  ContextDocument, ContextDocumentRepo, ContextSource, ContextSourceRepo, DocumentStatus, Page, PageRequest, Scope,
  SourceType,
} from './port.js';
import { paginate } from './kysely-repos.js';

type SourceRow = Database['context_sources'];
type DocumentRow = Database['context_documents'];

const mode = (livemode: boolean): number => (livemode ? 1 : 0);
const num = (value: number | null): number | null => (value === null ? null : Number(value));

function toSource(row: SourceRow): ContextSource {
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

function sourceRow(source: ContextSource): SourceRow {
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

function toDocument(row: DocumentRow): ContextDocument {
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

function documentRow(document: ContextDocument): DocumentRow {
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

export class KyselyContextSourceRepo implements ContextSourceRepo {
  constructor(private readonly db: Kysely<Database>) {}

  private scoped(scope: Scope) {
    return this.db
      .selectFrom('context_sources')
      .selectAll()
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode));
  }

  async create(source: ContextSource) {
    await this.db.insertInto('context_sources').values(sourceRow(source)).execute();
    return source;
  }

  async get(scope: Scope, id: string) {
    const row = await this.scoped(scope).where('id', '=', id).executeTakeFirst();
    return row && toSource(row);
  }

  async getById(id: string) {
    const row = await this.db.selectFrom('context_sources').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toSource(row);
  }

  async getByName(scope: Scope, name: string) {
    const row = await this.scoped(scope).where('name', '=', name).executeTakeFirst();
    return row && toSource(row);
  }

  async list(scope: Scope, page: PageRequest): Promise<Page<ContextSource>> {
    const result = await paginate(this.scoped(scope), page);
    return { data: result.data.map(toSource), hasMore: result.hasMore };
  }

  async listAll(scope: Scope) {
    return (await this.scoped(scope).orderBy('id', 'desc').execute()).map(toSource);
  }

  async update(source: ContextSource) {
    const { id, workspace_id, livemode, created_at, ...changes } = sourceRow(source);
    await this.db.updateTable('context_sources').set(changes).where('id', '=', id).execute();
    return source;
  }

  async delete(scope: Scope, id: string) {
    const result = await this.db
      .deleteFrom('context_sources')
      .where('id', '=', id)
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async lockRefresh(id: string, now: number, until: number) {
    const result = await this.db
      .updateTable('context_sources')
      .set({ refresh_locked_until: until })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('refresh_locked_until', 'is', null), eb('refresh_locked_until', '<', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async finishRefresh(id: string, outcome: { at: number; error: string | null; nextRefreshAt: number | null }) {
    await this.db
      .updateTable('context_sources')
      .set({
        refresh_locked_until: null,
        last_refresh_at: outcome.at,
        last_refresh_error: outcome.error,
        next_refresh_at: outcome.nextRefreshAt,
      })
      .where('id', '=', id)
      .execute();
  }

  async dueForRefresh(now: number, limit: number) {
    const rows = await this.db
      .selectFrom('context_sources')
      .selectAll()
      .where('next_refresh_at', '<=', now)
      .where((eb) => eb.or([eb('refresh_locked_until', 'is', null), eb('refresh_locked_until', '<', now)]))
      .orderBy('next_refresh_at')
      .limit(limit)
      .execute();
    return rows.map(toSource);
  }
}

export class KyselyContextDocumentRepo implements ContextDocumentRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async upsert(document: ContextDocument) {
    const row = documentRow(document);
    const { id, source_id, workspace_id, livemode, created_at, ...changes } = row;
    await this.db
      .insertInto('context_documents')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet(changes))
      .execute();
    return document;
  }

  async get(scope: Scope, id: string) {
    const row = await this.db
      .selectFrom('context_documents')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .executeTakeFirst();
    return row && toDocument(row);
  }

  async getById(id: string) {
    const row = await this.db.selectFrom('context_documents').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toDocument(row);
  }

  async getByExternalId(sourceId: string, externalId: string) {
    const row = await this.db
      .selectFrom('context_documents')
      .selectAll()
      .where('source_id', '=', sourceId)
      .where('external_id', '=', externalId)
      .executeTakeFirst();
    return row && toDocument(row);
  }

  async list(sourceId: string, page: PageRequest, filter: { status?: DocumentStatus } = {}) {
    let query = this.db.selectFrom('context_documents').selectAll().where('source_id', '=', sourceId);
    if (filter.status) query = query.where('status', '=', filter.status);
    const result = await paginate(query, page);
    return { data: result.data.map(toDocument), hasMore: result.hasMore };
  }

  async listAllIds(sourceId: string) {
    const rows = await this.db
      .selectFrom('context_documents')
      .select(['id', 'external_id', 'content_hash'])
      .where('source_id', '=', sourceId)
      .execute();
    return rows.map((r) => ({ id: r.id, externalId: r.external_id, contentHash: r.content_hash }));
  }

  async setStatus(
    id: string,
    update: { status: DocumentStatus; errorCode?: string | null; errorMessage?: string | null; chunkCount?: number; tokenCount?: number; indexedAt?: number | null; updatedAt: number },
  ) {
    await this.db
      .updateTable('context_documents')
      .set({
        status: update.status,
        updated_at: update.updatedAt,
        ...(update.errorCode !== undefined ? { error_code: update.errorCode } : {}),
        ...(update.errorMessage !== undefined ? { error_message: update.errorMessage } : {}),
        ...(update.chunkCount !== undefined ? { chunk_count: update.chunkCount } : {}),
        ...(update.tokenCount !== undefined ? { token_count: update.tokenCount } : {}),
        ...(update.indexedAt !== undefined ? { indexed_at: update.indexedAt } : {}),
      })
      .where('id', '=', id)
      .execute();
  }

  async delete(id: string) {
    const result = await this.db.deleteFrom('context_documents').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async storedBytes(workspaceId: string) {
    const row = await this.db
      .selectFrom('context_documents')
      .select((eb) => eb.fn.sum<number>('size_bytes').as('bytes'))
      .where('workspace_id', '=', workspaceId)
      .executeTakeFirst();
    return Number(row?.bytes ?? 0);
  }

  async countBySource(sourceId: string) {
    const rows = await this.db
      .selectFrom('context_documents')
      .select(['status', (eb) => eb.fn.countAll<number>().as('count'), (eb) => eb.fn.sum<number>('chunk_count').as('chunks')])
      .where('source_id', '=', sourceId)
      .groupBy('status')
      .execute();
    const byStatus: Record<DocumentStatus, number> = { queued: 0, indexing: 0, indexed: 0, failed: 0 };
    let documents = 0;
    let chunks = 0;
    for (const row of rows) {
      byStatus[row.status as DocumentStatus] = Number(row.count);
      documents += Number(row.count);
      chunks += Number(row.chunks ?? 0);
    }
    return { documents, chunks, byStatus };
  }
}
