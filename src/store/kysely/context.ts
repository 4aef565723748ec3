import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { ContextDocument, ContextDocumentRepo, ContextSource, ContextSourceRepo, DocumentStatus, Page, PageRequest, Scope, SourceDocumentCounts } from '../port.js';
import { mode } from './column-values.js';
import { paginate } from './pagination.js';
import { documentRow, sourceRow, toDocument, toSource } from './context-rows.js';

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
    return (await this.countBySources([sourceId])).get(sourceId)!;
  }

  async countBySources(sourceIds: readonly string[]) {
    const counts = new Map<string, SourceDocumentCounts>();
    for (const id of sourceIds) counts.set(id, { documents: 0, chunks: 0, byStatus: { queued: 0, indexing: 0, indexed: 0, failed: 0 } });
    if (sourceIds.length === 0) return counts;
    const rows = await this.db
      .selectFrom('context_documents')
      .select(['source_id', 'status', (eb) => eb.fn.countAll<number>().as('count'), (eb) => eb.fn.sum<number>('chunk_count').as('chunks')])
      .where('source_id', 'in', sourceIds)
      .groupBy(['source_id', 'status'])
      .execute();
    for (const row of rows) {
      const of = counts.get(row.source_id)!;
      of.byStatus[row.status as DocumentStatus] = Number(row.count);
      of.documents += Number(row.count);
      of.chunks += Number(row.chunks ?? 0);
    }
    return counts;
  }
}
