import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { Page, PageRequest, RequestLogFilter, RequestLogRepo, RequestRecord, Scope } from './port.js';
import { idAtTime, timeOfId } from '../ids.js';

/** Records per segment row. */
const SEGMENT_RECORDS = 1000;
/** Segments read per query while a list page fills. */
const SEGMENT_BATCH = 16;
/** Segments a lookup by id looks through (several overlap when several processes write). */
const LOOKUP_SEGMENTS = 64;

/**
 * A record as a segment stores it: [id, key, method, route, path, status, latencyMs, errorCode,
 * idempotencyKey, runId], where key and route are positions in the segment's lists of keys and
 * routes, path is null when it is the route itself, and trailing nulls are left out. The time is
 * the id's. About 60 bytes for a typical request.
 */
type Packed = [string, number, string, number, string | null, number, number, (string | null)?, (string | null)?, (string | null)?];

/** The packing of one segment's records, with the lists its keys and routes are positions in. */
function packSegment(records: RequestRecord[]): { packed: Packed[]; keys: string[]; routes: string[] } {
  const keys = new Map<string, number>();
  const routes = new Map<string, number>();
  const position = (list: Map<string, number>, value: string): number => {
    let at = list.get(value);
    if (at === undefined) list.set(value, (at = list.size));
    return at;
  };
  const packed = records.map((r): Packed => {
    const p: Packed = [r.id, position(keys, r.apiKeyId), r.method, position(routes, r.route), r.path === r.route ? null : r.path, r.status, r.latencyMs];
    if (r.errorCode !== null || r.idempotencyKey !== null || r.runId !== null) p.push(r.errorCode, r.idempotencyKey, r.runId);
    return p;
  });
  return { packed, keys: [...keys.keys()], routes: [...routes.keys()] };
}

/** The records of a stored segment. */
function unpackSegment(scope: Scope, segment: { records: string; api_keys: string; routes: string }): RequestRecord[] {
  const keys = itemsOf(segment.api_keys);
  const routes = itemsOf(segment.routes);
  return (JSON.parse(segment.records) as Packed[]).map((p) => {
    const route = routes[p[3]]!;
    return {
      id: p[0], scope, createdAt: timeOfId(p[0]), apiKeyId: keys[p[1]]!, method: p[2], route, path: p[4] ?? route, status: p[5], latencyMs: p[6],
      errorCode: p[7] ?? null, idempotencyKey: p[8] ?? null, runId: p[9] ?? null,
    };
  });
}

/** A LIKE pattern that finds `value` as a whole item of a list written `<sep>a<sep>b<sep>`. */
const listItem = (value: string | number, sep: string): string => `%${sep}${String(value).replace(/[\\%_]/g, (c) => `\\${c}`)}${sep}%`;
const listOf = (values: Iterable<string | number>, sep: string): string => `${sep}${[...new Set(values)].join(sep)}${sep}`;
/** The items of a list written `<sep>a<sep>b<sep>` (its first character is the separator). */
const itemsOf = (list: string): string[] => list.slice(1, -1).split(list[0]!);

const mode = (livemode: boolean): number => (livemode ? 1 : 0);

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
