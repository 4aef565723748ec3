import type { RequestRecord, Scope } from '../port.js';
import { timeOfId } from '../../ids.js';

/**
 * A record as a segment stores it: [id, key, method, route, path, status, latencyMs, errorCode,
 * idempotencyKey, runId], where key and route are positions in the segment's lists of keys and
 * routes, path is null when it is the route itself, and trailing nulls are left out. The time is
 * the id's. About 60 bytes for a typical request.
 */
type Packed = [string, number, string, number, string | null, number, number, (string | null)?, (string | null)?, (string | null)?];

/** The packing of one segment's records, with the lists its keys and routes are positions in. */
export function packSegment(records: RequestRecord[]): { packed: Packed[]; keys: string[]; routes: string[] } {
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
export function unpackSegment(scope: Scope, segment: { records: string; api_keys: string; routes: string }): RequestRecord[] {
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
export const listItem = (value: string | number, sep: string): string => `%${sep}${String(value).replace(/[\\%_]/g, (c) => `\\${c}`)}${sep}%`;
export const listOf = (values: Iterable<string | number>, sep: string): string => `${sep}${[...new Set(values)].join(sep)}${sep}`;
/** The items of a list written `<sep>a<sep>b<sep>` (its first character is the separator). */
const itemsOf = (list: string): string[] => list.slice(1, -1).split(list[0]!);
