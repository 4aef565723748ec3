import { createHash } from 'node:crypto';
import type { RollupsTable } from '../schema.js';
import { ROLLUP_DIM_NAMES, type RollupDim, type RollupDims, type RollupRow, type RollupSubject, type RollupSums, type RollupWidth } from '../port.js';
import { mode } from './column-values.js';

/** Each dimension and its column. */
export const DIM_COLUMNS = ROLLUP_DIM_NAMES satisfies Record<RollupDim, keyof RollupsTable>;

export const DIMS = Object.keys(DIM_COLUMNS) as RollupDim[];

export const SUM_COLUMNS = {
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

export const SUMS = Object.keys(SUM_COLUMNS) as Array<keyof RollupSums>;

/** The primary key of a series within its bucket: a hash of its dimensions. */
function seriesOf(dims: RollupDims): string {
  const text = DIMS.map((d) => (dims[d] === null ? '\u0000' : String(dims[d]))).join('\u0001');
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** The rollup table's columns, in the order rollupRow lists them. */
export const ROLLUP_COLUMNS = [
  'workspace_id', 'livemode', 'subject', 'width', 'grouping', 'bucket_start', 'series', 'sketches',
  ...DIMS.map((d) => DIM_COLUMNS[d]), ...SUMS.map((m) => SUM_COLUMNS[m]),
] as Array<keyof RollupsTable>;

export function rollupRow(row: RollupRow): RollupsTable {
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

export function toRollupRow(row: RollupsTable): RollupRow {
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
export function dimsOf(row: Record<string, unknown>, of: RollupDim[]): Partial<RollupDims> {
  const dims: Record<string, unknown> = {};
  for (const d of of) {
    const value = row[DIM_COLUMNS[d]];
    dims[d] = value === null ? null : d === 'agentVersion' || d === 'workflowVersion' ? Number(value) : value;
  }
  return dims as Partial<RollupDims>;
}

/** The additive measures of a selected row (sums come back as text or bigint from some drivers). */
export function sumsOf(row: Record<string, unknown>): RollupSums {
  const sums = {} as RollupSums;
  for (const m of SUMS) sums[m] = Number(row[SUM_COLUMNS[m]] ?? 0);
  return sums;
}
