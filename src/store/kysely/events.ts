import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { EventData, EventFilter, EventRepo, Scope, StoredEvent } from '../port.js';
import { mode } from './column-values.js';
import { BulkInsert } from './bulk-insert.js';
import { paginate } from './pagination.js';

const toEvent = (row: Database['events']): StoredEvent => ({
  id: row.id,
  scope: { workspaceId: row.workspace_id, livemode: Number(row.livemode) === 1 },
  type: row.type,
  createdAt: Number(row.created_at),
  requestId: row.request_id,
  objectId: row.object_id,
  relatedId: row.related_id,
  payload: JSON.parse(row.payload) as EventData,
});

const EVENT_COLUMNS = ['id', 'workspace_id', 'livemode', 'type', 'created_at', 'request_id', 'object_id', 'related_id', 'payload'] as const satisfies ReadonlyArray<keyof Database['events']>;

/** Events are written with most changes (every run writes two or more). */
const eventInsert = new BulkInsert('events', EVENT_COLUMNS);

export class KyselyEventRepo implements EventRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(events: StoredEvent[]) {
    await eventInsert.run(this.db, events.map((e) => ({
      id: e.id, workspace_id: e.scope.workspaceId, livemode: mode(e.scope.livemode), type: e.type, created_at: e.createdAt,
      request_id: e.requestId, object_id: e.objectId, related_id: e.relatedId, payload: JSON.stringify(e.payload),
    })));
  }

  async getMany(ids: string[]) {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('events').selectAll().where('id', 'in', ids).execute();
    return rows.map(toEvent);
  }

  async get(scope: Scope, id: string) {
    const row = await this.scoped(scope).where('id', '=', id).executeTakeFirst();
    return row ? toEvent(row) : undefined;
  }

  async list(scope: Scope, filter: EventFilter, page: { limit: number; after?: string | undefined; before?: string | undefined }) {
    let query = this.scoped(scope);
    if (filter.createdFrom !== undefined) query = query.where('created_at', '>=', filter.createdFrom);
    if (filter.createdTo !== undefined) query = query.where('created_at', '<', filter.createdTo);
    if (filter.objectId !== undefined) {
      const objectId = filter.objectId;
      query = query.where((eb) => eb.or([eb('object_id', '=', objectId), eb('related_id', '=', objectId)]));
    }
    const types = filter.types;
    if (types !== undefined && types.length > 0) {
      query = query.where((eb) =>
        eb.or(types.map((t) => ('exact' in t ? eb('type', '=', t.exact) : eb(eb.fn('substr', ['type', eb.val(1), eb.val(t.prefix.length)]), '=', t.prefix)))),
      );
    }
    const result = await paginate(query, page);
    return { data: result.data.map(toEvent), hasMore: result.hasMore };
  }

  async purge(before: number, limit: number) {
    const old = this.db.selectFrom('events').select('id').where('created_at', '<', before).orderBy('created_at').limit(limit);
    const result = await this.db.deleteFrom('events').where('id', 'in', old).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  private scoped(scope: Scope) {
    return this.db.selectFrom('events').selectAll().where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode));
  }
}

