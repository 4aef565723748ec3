import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { RollupDim, RollupRepo, RollupRow, RollupSelection, RollupSubject, RollupWidth } from '../port.js';
import { BulkInsert } from './bulk-insert.js';
import { mode } from './column-values.js';
import type { MergeCounts } from './dialect-traits.js';
import { DIM_COLUMNS, DIMS, dimsOf, ROLLUP_COLUMNS, rollupRow, SUM_COLUMNS, SUMS, sumsOf, toRollupRow } from './rollup-rows.js';

/** Adds rows to their buckets: measures summed, sketch bins merged by the dialect's `mergeCounts`. */
export function rollupUpsert(mergeCounts: MergeCounts): BulkInsert<'rollups'> {
  return new BulkInsert('rollups', ROLLUP_COLUMNS, (insert) =>
    insert.onConflict((oc) =>
      oc.columns(['workspace_id', 'livemode', 'subject', 'width', 'grouping', 'bucket_start', 'series']).doUpdateSet((eb) => {
        const set: Record<string, unknown> = { sketches: mergeCounts(sql.ref('rollups.sketches'), sql.ref('excluded.sketches')) };
        for (const m of SUMS) set[SUM_COLUMNS[m]] = eb(eb.ref(`rollups.${SUM_COLUMNS[m]}`), '+', eb.ref(`excluded.${SUM_COLUMNS[m]}`));
        return set as any;
      }),
    ));
}

/** The grouping that keeps every dimension: its rows far outnumber the groups a report asks for. */
const ALL_DIMENSIONS = '*';

export class KyselyRollupRepo implements RollupRepo {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly upsert: BulkInsert<'rollups'>,
    private readonly insert: BulkInsert<'rollups'>,
    private readonly sumsNamedGroupings: boolean,
  ) {}

  async add(rows: RollupRow[]) {
    await this.upsert.run(this.db, rows.map(rollupRow));
  }

  private select(selection: RollupSelection) {
    let query = this.db
      .selectFrom('rollups')
      .where('workspace_id', '=', selection.scope.workspaceId)
      .where('livemode', '=', mode(selection.scope.livemode))
      .where('subject', 'in', selection.subjects)
      .where('width', '=', selection.width)
      .where('grouping', '=', selection.grouping)
      .where('bucket_start', '>=', selection.from)
      .where('bucket_start', '<', selection.to);
    for (const d of DIMS) {
      const value = selection.filters[d];
      if (value !== undefined && value !== null) query = query.where(DIM_COLUMNS[d], '=', value as never);
    }
    return query;
  }

  async measureRows(selection: RollupSelection, groupBy: RollupDim[]) {
    if (selection.subjects.length === 0) return [];
    const rows = await this.select(selection)
      .select(['subject', 'bucket_start', 'sketches', ...new Set(groupBy.map((d) => DIM_COLUMNS[d]))])
      .select(SUMS.map((m) => SUM_COLUMNS[m]))
      .orderBy('bucket_start')
      .execute();
    return rows.map((row: any) => ({ subject: row.subject as RollupSubject, bucketStart: Number(row.bucket_start), dims: dimsOf(row, groupBy), sums: sumsOf(row), sketches: row.sketches as string }));
  }

  async sums(selection: RollupSelection, groupBy: RollupDim[]) {
    if (selection.subjects.length === 0) return [];
    const groupColumns = groupBy.map((d) => DIM_COLUMNS[d]);
    if (!this.sumsNamedGroupings && selection.grouping !== ALL_DIMENSIONS) {
      const rows = await this.select(selection).select(['subject', 'bucket_start', ...new Set(groupColumns)]).select(SUMS.map((m) => SUM_COLUMNS[m])).execute();
      return rows.map((row: any) => ({ subject: row.subject as RollupSubject, bucketStart: Number(row.bucket_start), dims: dimsOf(row, groupBy), sums: sumsOf(row) }));
    }
    const rows = await this.select(selection)
      .select(['subject', 'bucket_start', ...groupColumns])
      .select((eb) => SUMS.map((m) => eb.fn.sum<number>(SUM_COLUMNS[m]).as(SUM_COLUMNS[m])))
      .groupBy(['subject', 'bucket_start', ...groupColumns])
      .execute();
    return rows.map((row: any) => ({ subject: row.subject as RollupSubject, bucketStart: Number(row.bucket_start), dims: dimsOf(row, groupBy), sums: sumsOf(row) }));
  }

  async rowsBetween(width: RollupWidth, from: number, to: number, grouping: string) {
    const rows = await this.db
      .selectFrom('rollups')
      .selectAll()
      .where('width', '=', width)
      .where('bucket_start', '>=', from)
      .where('bucket_start', '<', to)
      .where('grouping', '=', grouping)
      .execute();
    return rows.map(toRollupRow);
  }

  async replaceBetween(width: RollupWidth, from: number, to: number, rows: RollupRow[]) {
    await this.db.deleteFrom('rollups').where('width', '=', width).where('bucket_start', '>=', from).where('bucket_start', '<', to).execute();
    await this.insert.run(this.db, rows.map(rollupRow));
  }

  async firstMinute() {
    const row = await this.db
      .selectFrom('rollups')
      .select((eb) => eb.fn.min<number>('bucket_start').as('first'))
      .where('width', '=', 'minute')
      .executeTakeFirst();
    return row?.first === null || row?.first === undefined ? undefined : Number(row.first);
  }

  async purge(width: RollupWidth, before: number, limit: number) {
    // Whole buckets, oldest first, about `limit` rows: up to the bucket of the limit-th oldest
    // row, and at least the oldest bucket.
    const old = this.db.selectFrom('rollups').select('bucket_start').where('width', '=', width).where('bucket_start', '<', before).orderBy('bucket_start');
    const oldest = await old.limit(1).executeTakeFirst();
    if (oldest === undefined) return 0;
    const boundary = await old.offset(limit).limit(1).executeTakeFirst();
    const bound = boundary === undefined ? before : Math.max(Number(boundary.bucket_start), Number(oldest.bucket_start) + 1);
    const result = await this.db.deleteFrom('rollups').where('width', '=', width).where('bucket_start', '<', bound).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
