import type { SelectQueryBuilder } from 'kysely';
import { idAtTime, type IdPrefix } from '../../ids.js';

/**
 * Narrows a query of rows with time-sortable `id`s to those created in [createdFrom, createdTo):
 * an id range (the index) widened by a second for clock skew between the id and `created_at`,
 * then the exact bound on `created_at`.
 */
export function withinCreated<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  prefix: IdPrefix,
  range: { createdFrom?: number; createdTo?: number },
): SelectQueryBuilder<DB, TB, O> {
  let q = query;
  const id = 'id' as any;
  const createdAt = 'created_at' as any;
  if (range.createdFrom !== undefined) q = q.where(id, '>=', idAtTime(prefix, range.createdFrom - 1000)).where(createdAt, '>=', range.createdFrom);
  if (range.createdTo !== undefined) q = q.where(id, '<', idAtTime(prefix, range.createdTo + 1000)).where(createdAt, '<', range.createdTo);
  return q;
}
