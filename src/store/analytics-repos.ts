import { createHash } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database, RollupsTable } from './schema.js';
import { ROLLUP_DIM_NAMES, type RollupDim, type RollupDims, type RollupRepo, type RollupRow, type RollupSelection, type RollupSubject, type RollupSums, type RollupWidth } from './port.js';
import { BulkInsert } from './bulk-insert.js';

const mode = (livemode: boolean): number => (livemode ? 1 : 0);

/**
 * How a dialect merges two sketch columns (JSON objects of bin → count) into one whose counts
 * are the sums: the only rollup SQL that differs between databases.
 */
export type MergeCounts = (current: RawBuilder<string>, incoming: RawBuilder<string>) => RawBuilder<string>;

/** Each dimension and its column. */
export const DIM_COLUMNS = ROLLUP_DIM_NAMES satisfies Record<RollupDim, keyof RollupsTable>;

const DIMS = Object.keys(DIM_COLUMNS) as RollupDim[];

const SUM_COLUMNS = {
  count: 'count',
  errors: 'errors',
  steps: 'steps',
  inputTokens: 'input_tokens',
  cachedInputTokens: 'cached_input_tokens',
  outputTokens: 'output_tokens',
  reasoningTokens: 'reasoning_tokens',
  costUsd: 'cost_usd',
  autoChosen: 'auto_chosen',
  fallbacks: 'fallbacks',
} as const satisfies Record<keyof RollupSums, keyof RollupsTable>;

const SUMS = Object.keys(SUM_COLUMNS) as Array<keyof RollupSums>;

/** The primary key of a series within its bucket: a hash of its dimensions. */
function seriesOf(dims: RollupDims): string {
  const text = DIMS.map((d) => (dims[d] === null ? '\u0000' : String(dims[d]))).join('\u0001');
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** The rollup table's columns, in the order toRow lists them. */
export const ROLLUP_COLUMNS = [
  'workspace_id', 'livemode', 'subject', 'width', 'grouping', 'bucket_start', 'series', 'sketches',
  ...DIMS.map((d) => DIM_COLUMNS[d]), ...SUMS.map((m) => SUM_COLUMNS[m]),
] as Array<keyof RollupsTable>;

function toRow(row: RollupRow): RollupsTable {
  const out: Record<string, unknown> = {
    workspace_id: row.scope.workspaceId,
    livemode: mode(row.scope.livemode),
    subject: row.subject,
    width: row.width,
    grouping: row.grouping,
    bucket_start: row.bucketStart,
    series: seriesOf(row.dims),
    sketches: JSON.stringify(row.metrics.sketches),
  };
  for (const d of DIMS) out[DIM_COLUMNS[d]] = row.dims[d];
  for (const m of SUMS) out[SUM_COLUMNS[m]] = row.metrics[m];
  return out as unknown as RollupsTable;
}

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

function fromRow(row: RollupsTable): RollupRow {
  const dims = {} as Record<RollupDim, unknown>;
  for (const d of DIMS) {
    const value = row[DIM_COLUMNS[d]];
    dims[d] = value === null ? null : d === 'agentVersion' || d === 'workflowVersion' ? Number(value) : value;
  }
  const metrics = { sketches: JSON.parse(row.sketches) as RollupRow['metrics']['sketches'] } as RollupRow['metrics'];
  for (const m of SUMS) metrics[m] = Number(row[SUM_COLUMNS[m]]);
  return {
    scope: { workspaceId: row.workspace_id, livemode: Number(row.livemode) === 1 },
    subject: row.subject as RollupSubject,
    width: row.width as RollupWidth,
    grouping: row.grouping,
    bucketStart: Number(row.bucket_start),
    dims: dims as unknown as RollupDims,
    metrics,
  };
}

/** The dimensions `of` of a selected row. */
function dimsOf(row: Record<string, unknown>, of: RollupDim[]): Partial<RollupDims> {
  const dims: Record<string, unknown> = {};
  for (const d of of) {
    const value = row[DIM_COLUMNS[d]];
    dims[d] = value === null ? null : d === 'agentVersion' || d === 'workflowVersion' ? Number(value) : value;
  }
  return dims as Partial<RollupDims>;
}

/** The additive measures of a selected row (sums come back as text or bigint from some drivers). */
function sumsOf(row: Record<string, unknown>): RollupSums {
  const sums = {} as RollupSums;
  for (const m of SUMS) sums[m] = Number(row[SUM_COLUMNS[m]] ?? 0);
  return sums;
}

export class KyselyRollupRepo implements RollupRepo {
  constructor(private readonly db: Kysely<Database>, private readonly upsert: BulkInsert<'rollups'>, private readonly insert: BulkInsert<'rollups'>) {}

  async add(rows: RollupRow[]) {
    await this.upsert.run(this.db, rows.map(toRow));
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
      .execute();
    return rows.map((row: any) => ({ subject: row.subject as RollupSubject, bucketStart: Number(row.bucket_start), dims: dimsOf(row, groupBy), sums: sumsOf(row), sketches: row.sketches as string }));
  }

  async sums(selection: RollupSelection, groupBy: RollupDim[]) {
    if (selection.subjects.length === 0) return [];
    const groupColumns = groupBy.map((d) => DIM_COLUMNS[d]);
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
    return rows.map(fromRow);
  }

  async replaceBetween(width: RollupWidth, from: number, to: number, rows: RollupRow[]) {
    await this.db.deleteFrom('rollups').where('width', '=', width).where('bucket_start', '>=', from).where('bucket_start', '<', to).execute();
    await this.insert.run(this.db, rows.map(toRow));
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
