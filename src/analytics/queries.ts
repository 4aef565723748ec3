import type { RollupDim, RollupDims, RollupSelection, RollupSubject, RollupSums, RollupWidth, Store } from '../store/port.js';
import type { RollupCompactor } from './compaction.js';
import { coveringGrouping, dimsKey } from './groupings.js';
import { BinCounts, type Sketches } from './sketch.js';
import { DAY_MS, floorTo, HOUR_MS, zeroMetrics } from './rollup-writer.js';
import type { BucketQuery } from './buckets.js';

/** One group of one bucket: its dimensions and, per subject, what was counted. */
export interface GroupMeasures<M> {
  dims: Partial<RollupDims>;
  bySubject: Partial<Record<RollupSubject, M>>;
}

/** Buckets of the page in order, each with its groups. */
export type Buckets<M> = Array<{ start: number; end: number; groups: Array<GroupMeasures<M>> }>;

/** Plain measures, and what `summarize` made of each latency metric's counts. */
export interface SummarizedMeasures<S> extends RollupSums {
  summaries: Record<string, S>;
}

/** Measures of a bucket still being read: each latency metric's counts merged so far. */
interface OpenMeasures extends RollupSums {
  bins: Record<string, BinCounts>;
}

interface Segment {
  width: RollupWidth;
  from: number;
  to: number;
}

/**
 * Which rows answer [from, to): day rows for whole days already derived, hour rows for derived
 * hours, minute rows after the watermark. A requested bucket may draw on several.
 */
export function segments(from: number, to: number, widthMs: number, compactedUntil: number): Segment[] {
  const dayEnd = floorTo(compactedUntil, DAY_MS);
  const parts: Segment[] =
    widthMs >= DAY_MS
      ? [{ width: 'day', from, to: Math.min(to, dayEnd) }, { width: 'hour', from: Math.max(from, dayEnd), to: Math.min(to, compactedUntil) }]
      : widthMs >= HOUR_MS
        ? [{ width: 'hour', from, to: Math.min(to, compactedUntil) }]
        : [];
  parts.push({ width: 'minute', from: widthMs >= HOUR_MS ? Math.max(from, compactedUntil) : from, to });
  return parts.filter((p) => p.from < p.to);
}

export const zeroSums = (): RollupSums => {
  const { sketches: _, ...sums } = zeroMetrics();
  return sums;
};

function addSums(into: RollupSums, from: RollupSums): void {
  for (const key of Object.keys(from) as Array<keyof RollupSums>) into[key] += from[key];
}

/** The same groups with each subject's counts summarized per metric. */
function summarized<S>(
  groups: Map<string, GroupMeasures<OpenMeasures>>, metrics: readonly string[], summarize: (bins: BinCounts | undefined) => S,
): Map<string, GroupMeasures<SummarizedMeasures<S>>> {
  const out = new Map<string, GroupMeasures<SummarizedMeasures<S>>>();
  for (const [key, group] of groups) {
    const bySubject: GroupMeasures<SummarizedMeasures<S>>['bySubject'] = {};
    for (const [subject, { bins, ...sums }] of Object.entries(group.bySubject) as Array<[RollupSubject, OpenMeasures]>) {
      const summaries: Record<string, S> = {};
      for (const metric of metrics) summaries[metric] = summarize(bins[metric]);
      bySubject[subject] = { ...sums, summaries };
    }
    out.set(key, { dims: group.dims, bySubject });
  }
  return out;
}

/** The group of `groups` with the values of `dims` in `groupBy`, made if new. */
function groupIn<M>(groups: Map<string, GroupMeasures<M>>, groupBy: readonly RollupDim[], dims: Partial<RollupDims>): GroupMeasures<M> {
  const key = dimsKey(dims, groupBy);
  let group = groups.get(key);
  if (!group) {
    group = { dims: Object.fromEntries(groupBy.map((d) => [d, dims[d] ?? null])), bySubject: {} };
    groups.set(key, group);
  }
  return group;
}

/**
 * Reads rollups for bucketed queries: finds the rows that cover each bucket of the page (derived
 * rows of the smallest grouping that keeps every grouped and filtered dimension), and adds them
 * up per bucket and group — in the database for plain measures, here for latency sketches.
 */
export class RollupQueries {
  constructor(private readonly store: Store, private readonly compactor: RollupCompactor) {}

  /** Plain measures (counts, tokens, cost) per bucket, group and subject. */
  async sums(query: BucketQuery, subjects: RollupSubject[]): Promise<Buckets<RollupSums>> {
    const out = this.emptyBuckets<RollupSums>(query);
    for (const { selection } of await this.selections(query, subjects)) {
      for (const row of await this.store.rollups.sums(selection, query.groupBy)) {
        const measures = this.groupOf(out, query, row.bucketStart, row.dims);
        addSums((measures.bySubject[row.subject] ??= zeroSums()), row.sums);
      }
    }
    return this.finish(out, query.widthMs);
  }

  /**
   * Measures with the latency metrics `metrics` per bucket, group and subject, and per group over
   * the whole page (its totals), each metric's counts handed to `summarize` (which reads
   * percentiles, say). Rows arrive in time order, so each bucket is summarized as soon as a later
   * one starts, and the sketches parsed for it are dropped while still young: a report over
   * hundreds of rows keeps only the totals' counts and one bucket's sketches at a time.
   */
  async metrics<S>(
    query: BucketQuery, subjects: RollupSubject[], metrics: readonly string[], summarize: (bins: BinCounts | undefined) => S,
  ): Promise<{ buckets: Buckets<SummarizedMeasures<S>>; totals: Array<GroupMeasures<SummarizedMeasures<S>>> }> {
    const out = this.emptyBuckets<SummarizedMeasures<S>>(query);
    const totals = new Map<string, GroupMeasures<OpenMeasures>>();
    let open: { start: number; groups: Map<string, GroupMeasures<OpenMeasures>> } | undefined;
    const close = () => {
      if (open) out.set(open.start, summarized(open.groups, metrics, summarize));
    };
    for (const { selection } of await this.selections(query, subjects)) {
      for (const row of await this.store.rollups.measureRows(selection, query.groupBy)) {
        const start = floorTo(row.bucketStart, query.widthMs);
        if (open?.start !== start) {
          if (open && start < open.start) throw new Error('Rollup rows for a report must come in time order.');
          close();
          open = { start, groups: new Map() };
        }
        const sketches = JSON.parse(row.sketches) as Sketches;
        for (const group of [groupIn(open.groups, query.groupBy, row.dims), groupIn(totals, query.groupBy, row.dims)]) {
          const measures = (group.bySubject[row.subject] ??= { ...zeroSums(), bins: {} });
          addSums(measures, row.sums);
          for (const metric of metrics) {
            const pairs = sketches[metric];
            if (pairs !== undefined) (measures.bins[metric] ??= new BinCounts()).addPairs(pairs);
          }
        }
      }
    }
    close();
    const sortedTotals = [...summarized(totals, metrics, summarize).values()].map((group) => ({ key: JSON.stringify(group.dims), group }));
    sortedTotals.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { buckets: this.finish(out, query.widthMs), totals: sortedTotals.map(({ group }) => group) };
  }

  private async selections(query: BucketQuery, subjects: RollupSubject[]): Promise<Array<{ selection: RollupSelection }>> {
    const compactedUntil = await this.compactor.compactedUntil();
    const needed: RollupDim[] = [...query.groupBy, ...(Object.keys(query.filters) as RollupDim[])];
    return segments(query.pageFrom, query.pageTo, query.widthMs, compactedUntil).map((segment) => ({
      selection: {
        scope: query.scope, subjects, width: segment.width, grouping: segment.width === 'minute' ? '*' : coveringGrouping(needed),
        from: segment.from, to: segment.to, filters: query.filters,
      },
    }));
  }

  private emptyBuckets<M>(query: BucketQuery): Map<number, Map<string, GroupMeasures<M>>> {
    const buckets = new Map<number, Map<string, GroupMeasures<M>>>();
    for (let start = query.pageFrom; start < query.pageTo; start += query.widthMs) buckets.set(start, new Map());
    return buckets;
  }

  private groupOf<M>(buckets: Map<number, Map<string, GroupMeasures<M>>>, query: BucketQuery, bucketStart: number, dims: Partial<RollupDims>): GroupMeasures<M> {
    return groupIn(buckets.get(floorTo(bucketStart, query.widthMs))!, query.groupBy, dims);
  }

  /** The buckets in time order, each one's groups in the order of their dimensions' values. */
  private finish<M>(buckets: Map<number, Map<string, GroupMeasures<M>>>, widthMs: number): Buckets<M> {
    return [...buckets.entries()].map(([start, groups]) => ({
      start,
      end: start + widthMs,
      groups: [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, group]) => group),
    }));
  }
}
