import type { SelectQueryBuilder } from 'kysely';
import type { Page, PageRequest } from '../port.js';

/**
 * Newest-first cursor pagination over a query whose rows have a sortable `id` (TypeIDs sort by
 * creation time). Fetches one extra row to know whether more exist.
 */
export async function paginate<DB, TB extends keyof DB, O extends { id: string }>(
  query: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
): Promise<Page<O>> {
  const idColumn = 'id' as any;
  let q = query;
  if (page.before !== undefined) {
    q = q.where(idColumn, '>', page.before).orderBy(idColumn, 'asc');
  } else {
    if (page.after !== undefined) q = q.where(idColumn, '<', page.after);
    q = q.orderBy(idColumn, 'desc');
  }
  const rows = (await q.limit(page.limit + 1).execute()) as O[];
  const hasMore = rows.length > page.limit;
  const data = rows.slice(0, page.limit);
  if (page.before !== undefined) data.reverse();
  return { data, hasMore };
}

/**
 * A versions cursor — a version's id (`agent_…@3`, `wf_…@3`, as in `last_id`) or its bare number —
 * as a bound the `integer` column compares with alike on every database: rounded to the side that
 * keeps the comparison exact and clamped to 32 bits (PostgreSQL rejects `1.5`, `NaN` and
 * out-of-range integer parameters where SQLite just compares). Undefined for a cursor that names
 * no number: no version lies beyond it.
 */
function versionBound(cursor: string, round: (n: number) => number): number | undefined {
  const text = cursor.slice(cursor.lastIndexOf('@') + 1);
  const n = text.trim() === '' ? NaN : Number(text);
  if (Number.isNaN(n)) return undefined;
  return Math.min(Math.max(round(n), -(2 ** 31)), 2 ** 31 - 1);
}

/** Newest-first cursor pagination of an object's versions (rows with an integer `version`), as `paginate` does by id. */
export async function paginateVersions<DB, TB extends keyof DB, O extends { version: number }>(
  query: SelectQueryBuilder<DB, TB, O>,
  page: PageRequest,
): Promise<Page<O>> {
  const versionColumn = 'version' as any;
  let q = query;
  if (page.before !== undefined) {
    const bound = versionBound(page.before, Math.floor);
    if (bound === undefined) return { data: [], hasMore: false };
    q = q.where(versionColumn, '>', bound).orderBy(versionColumn, 'asc');
  } else {
    if (page.after !== undefined) {
      const bound = versionBound(page.after, Math.ceil);
      if (bound === undefined) return { data: [], hasMore: false };
      q = q.where(versionColumn, '<', bound);
    }
    q = q.orderBy(versionColumn, 'desc');
  }
  const rows = (await q.limit(page.limit + 1).execute()) as O[];
  const data = rows.slice(0, page.limit);
  if (page.before !== undefined) data.reverse();
  return { data, hasMore: rows.length > page.limit };
}
