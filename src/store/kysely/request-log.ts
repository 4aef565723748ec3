import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { Page, PageRequest, RequestLogFilter, RequestLogRepo, RequestRecord, Scope } from '../port.js';
import { idAtTime } from '../../ids.js';
import { mode } from './column-values.js';
import { listItem, listOf, packSegment, unpackSegment } from './request-log-segments.js';

/** Records per segment row. */
const SEGMENT_RECORDS = 1000;
/** Segments read per query while a list page fills. */
const SEGMENT_BATCH = 16;
/** Segments a lookup by id looks through (several overlap when several processes write). */
const LOOKUP_SEGMENTS = 64;

function matches(r: RequestRecord, filter: RequestLogFilter, below: string | undefined, above: string | undefined): boolean {
  return (below === undefined || r.id < below) && (above === undefined || r.id >= above)
    && (filter.status === undefined || r.status === filter.status) && (filter.route === undefined || r.route === filter.route)
    && (filter.method === undefined || r.method === filter.method) && (filter.apiKeyId === undefined || r.apiKeyId === filter.apiKeyId);
}

/**
 * The request log, stored in segments: each write puts a scope's records (up to 1000, in id
 * order) in one row, as compact JSON, with the id range and the statuses, routes and keys it
 * holds. Thousands of requests a second then cost a few inserts, not one each: binding a row's
 * dozen values costs more than the database's work. Reads walk the segments newest first, skip
 * those whose lists rule them out, and filter the records; several processes may write segments
 * whose id ranges overlap, which the walk allows for.
 */
export class KyselyRequestLogRepo implements RequestLogRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(records: RequestRecord[]) {
    const byScope = new Map<string, RequestRecord[]>();
    for (const r of records) {
      const key = `${r.scope.workspaceId}\u0001${r.scope.livemode}`;
      const list = byScope.get(key);
      if (list) list.push(r);
      else byScope.set(key, [r]);
    }
    const rows: Array<Database['request_log_segments']> = [];
    for (const list of byScope.values()) {
      list.sort((a, b) => (a.id < b.id ? -1 : 1));
      for (let i = 0; i < list.length; i += SEGMENT_RECORDS) {
        const segment = list.slice(i, i + SEGMENT_RECORDS);
        const { scope } = segment[0]!;
        const { packed, keys, routes } = packSegment(segment);
        rows.push({
          workspace_id: scope.workspaceId, livemode: mode(scope.livemode), first_id: segment[0]!.id, last_id: segment.at(-1)!.id,
          count: segment.length, statuses: listOf(segment.map((r) => r.status), ','), routes: listOf(routes, '\n'),
          api_keys: listOf(keys, ','), records: JSON.stringify(packed),
        });
      }
    }
    for (const row of rows) await this.db.insertInto('request_log_segments').values(row).execute();
  }

  private scoped(scope: Scope) {
    return this.db.selectFrom('request_log_segments').selectAll().where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode));
  }

  async get(scope: Scope, id: string) {
    const segments = await this.scoped(scope).where('last_id', '>=', id).where('first_id', '<=', id).orderBy('last_id').limit(LOOKUP_SEGMENTS).execute();
    for (const segment of segments) {
      if (!segment.records.includes(`"${id}"`)) continue;
      const found = unpackSegment(scope, segment).find((r) => r.id === id);
      if (found) return found;
    }
    return undefined;
  }

  /**
   * Newest first: walks segments by their last id downwards, and stops once the page is full
   * with records newer than any segment not read yet. Walking to newer records (`before`),
   * segments go by their first id upwards instead.
   */
  async list(scope: Scope, filter: RequestLogFilter, page: PageRequest): Promise<Page<RequestRecord>> {
    const newer = page.before !== undefined;
    // Ids below `below` and at or above `above`: the cursor and the time range.
    const to = filter.to === undefined ? undefined : idAtTime('req', filter.to);
    const from = filter.from === undefined ? undefined : idAtTime('req', filter.from);
    const below = [page.after, to].filter((v): v is string => v !== undefined).sort()[0];
    const above = newer ? [from, page.before].filter((v): v is string => v !== undefined).sort().at(-1) : from;
    const strictlyAbove = newer ? page.before : undefined;
    let query = this.scoped(scope);
    if (below !== undefined) query = query.where('first_id', '<', below);
    if (above !== undefined) query = query.where('last_id', '>=', above);
    if (filter.status !== undefined) query = query.where(sql<boolean>`statuses like ${listItem(filter.status, ',')} escape ${sql.lit('\\')}`);
    if (filter.apiKeyId !== undefined) query = query.where(sql<boolean>`api_keys like ${listItem(filter.apiKeyId, ',')} escape ${sql.lit('\\')}`);
    if (filter.route !== undefined) query = query.where(sql<boolean>`routes like ${listItem(filter.route, '\n')} escape ${sql.lit('\\')}`);
    const found: RequestRecord[] = [];
    const order = (a: RequestRecord, b: RequestRecord) => (a.id < b.id ? 1 : -1) * (newer ? -1 : 1);
    for (let bound: string | undefined; ;) {
      let batchQuery = newer ? query.orderBy('first_id').orderBy('last_id') : query.orderBy('last_id', 'desc');
      if (bound !== undefined) batchQuery = newer ? batchQuery.where('first_id', '>', bound) : batchQuery.where('last_id', '<', bound);
      const segments = await batchQuery.limit(SEGMENT_BATCH).execute();
      for (const segment of segments) {
        for (const record of unpackSegment(scope, segment)) {
          if (matches(record, filter, below, above) && (strictlyAbove === undefined || record.id > strictlyAbove)) found.push(record);
        }
      }
      found.sort(order);
      if (segments.length < SEGMENT_BATCH) break;
      // Every segment still unread holds ids beyond this bound only.
      bound = newer ? segments.at(-1)!.first_id : segments.at(-1)!.last_id;
      const edge = found[page.limit];
      if (edge !== undefined && (newer ? edge.id < bound : edge.id > bound)) break;
    }
    const data = found.slice(0, page.limit);
    if (newer) data.reverse();
    return { data, hasMore: found.length > page.limit };
  }

  async purge(scope: Scope, before: number, limit: number) {
    // A segment goes when its newest record is older than `before`; `limit` counts records.
    const old = await this.scoped(scope)
      .clearSelect()
      .select(['last_id', 'count'])
      .where('last_id', '<', idAtTime('req', before))
      .orderBy('last_id')
      .limit(Math.max(1, Math.ceil(limit / SEGMENT_RECORDS)))
      .execute();
    if (old.length === 0) return 0;
    await this.db
      .deleteFrom('request_log_segments')
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .where('last_id', 'in', old.map((s) => s.last_id))
      .execute();
    return old.reduce((n, s) => n + Number(s.count), 0);
  }
}
