import { KairoError } from '../errors.js';
import { isId } from '../ids.js';
import { ROLLUP_DIM_NAMES, type RollupDim, type RollupDims, type Scope } from '../store/port.js';
import { DAY_MS, floorTo, HOUR_MS, MINUTE_MS } from './rollup-writer.js';

export type BucketWidth = '1m' | '1h' | '1d';

/**
 * Each width's milliseconds, buckets when `start` is left out, the most buckets one response holds
 * (as OpenAI's usage API), and the most a range may span: 30 days of minutes, 13 months of hours
 * and days (what the default retention keeps).
 */
export const WIDTHS: Record<BucketWidth, { ms: number; defaultBuckets: number; maxBuckets: number; maxRange: number }> = {
  '1m': { ms: MINUTE_MS, defaultBuckets: 60, maxBuckets: 1440, maxRange: 30 * 1440 },
  '1h': { ms: HOUR_MS, defaultBuckets: 24, maxBuckets: 168, maxRange: 395 * 24 },
  '1d': { ms: DAY_MS, defaultBuckets: 7, maxBuckets: 31, maxRange: 395 },
};

/** `group_by` values and the dimensions each groups by. */
export const GROUP_BY: Record<string, readonly RollupDim[]> = {
  agent: ['agentId'],
  agent_version: ['agentId', 'agentVersion'],
  workflow: ['workflowId'],
  workflow_version: ['workflowId', 'workflowVersion'],
  api_key: ['apiKeyId'],
  model: ['model'],
  provider: ['provider'],
  status: ['status'],
};

/** The query parameters every bucketed analytics endpoint takes, as sent. */
export interface BucketParams {
  start?: string;
  end?: string;
  bucket_width?: BucketWidth;
  limit?: number;
  page?: string;
  /** Comma-separated group_by names. */
  group_by?: string;
  agent_id?: string;
  agent_version?: number;
  workflow_id?: string;
  workflow_version?: number;
  api_key_id?: string;
  model?: string;
  provider?: string;
  status?: string;
}

/** A bucketed query, checked and aligned: buckets [pageFrom, pageTo) of the range [from, to). */
export interface BucketQuery {
  scope: Scope;
  width: BucketWidth;
  widthMs: number;
  from: number;
  to: number;
  pageFrom: number;
  pageTo: number;
  /** The dimensions results are grouped by, in `group_by` order. */
  groupBy: RollupDim[];
  filters: Partial<RollupDims>;
}

/** Statuses rollups know: final run statuses, model call outcomes and HTTP status codes. */
const STATUS_PATTERN = /^(completed|failed|cancelled|ok|error|[1-5]\d\d)$/;

/**
 * Reads the common parameters: the range defaults to the last `defaultBuckets` buckets up to now;
 * `start` rounds down and `end` up to whole buckets (UTC); `page` is the start of the page's
 * first bucket (as `next_page` gives it). Bad values are 400s naming the parameter.
 */
export function bucketQuery(scope: Scope, params: BucketParams, now: number): BucketQuery {
  const width = params.bucket_width ?? '1d';
  const { ms, defaultBuckets, maxBuckets, maxRange } = WIDTHS[width];
  const end = params.end === undefined ? now : Date.parse(params.end);
  const start = params.start === undefined ? end - defaultBuckets * ms : Date.parse(params.start);
  if (end <= start) throw new KairoError('parameter_invalid', { param: 'end', message: 'end must be after start.' });
  const from = floorTo(start, ms);
  const to = Math.ceil(end / ms) * ms;
  if ((to - from) / ms > maxRange) {
    throw new KairoError('parameter_invalid', {
      param: 'start', message: `The range holds ${(to - from) / ms} buckets of ${width}; at most ${maxRange} are kept. Narrow it, or use a wider bucket_width.`,
    });
  }
  // A page starts at its bucket (rounded down), inside the range.
  const pageFrom = params.page === undefined ? from : Math.min(Math.max(floorTo(Date.parse(params.page), ms), from), to);
  const limit = Math.min(params.limit ?? maxBuckets, maxBuckets);
  const groupBy: RollupDim[] = [];
  for (const name of (params.group_by ?? '').split(',').filter((g) => g !== '')) {
    const dims = GROUP_BY[name];
    if (!dims) throw new KairoError('parameter_invalid', { param: 'group_by', message: `Unknown group_by "${name}"; use ${Object.keys(GROUP_BY).join(', ')}.` });
    for (const d of dims) if (!groupBy.includes(d)) groupBy.push(d);
  }
  return { scope, width, widthMs: ms, from, to, pageFrom, pageTo: Math.min(to, pageFrom + limit * ms), groupBy, filters: filtersOf(params) };
}

function filtersOf(params: BucketParams): Partial<RollupDims> {
  const id = (value: string | undefined, prefix: 'agent' | 'wf' | 'key', param: string): string | undefined => {
    if (value !== undefined && !isId(prefix, value)) throw new KairoError('parameter_invalid', { param, message: `${param} is not a ${prefix}_… id.` });
    return value;
  };
  if (params.status !== undefined && !STATUS_PATTERN.test(params.status)) {
    throw new KairoError('parameter_invalid', {
      param: 'status', message: 'status is completed, failed or cancelled (runs), ok or error (model calls), or an HTTP status code (requests).',
    });
  }
  const filters: Partial<RollupDims> = {
    agentId: id(params.agent_id, 'agent', 'agent_id'),
    agentVersion: params.agent_version,
    workflowId: id(params.workflow_id, 'wf', 'workflow_id'),
    workflowVersion: params.workflow_version,
    apiKeyId: id(params.api_key_id, 'key', 'api_key_id'),
    model: params.model,
    provider: params.provider,
    status: params.status,
  };
  if (filters.agentVersion !== undefined && filters.agentId === undefined) {
    throw new KairoError('parameter_missing', { param: 'agent_id', message: 'agent_version needs agent_id.' });
  }
  if (filters.workflowVersion !== undefined && filters.workflowId === undefined) {
    throw new KairoError('parameter_missing', { param: 'workflow_id', message: 'workflow_version needs workflow_id.' });
  }
  return Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)) as Partial<RollupDims>;
}

/** The response fields of a group's dimensions. */
export function groupFields(dims: Partial<RollupDims>, groupBy: readonly RollupDim[]): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const d of groupBy) out[ROLLUP_DIM_NAMES[d]] = dims[d] ?? null;
  return out;
}

/** Percentiles as sent (`50,95,99.9`), checked: 1 to 10 numbers above 0 and at most 100. */
export function parsePercentiles(value: string | undefined): number[] {
  if (value === undefined) return [50, 90, 95, 99];
  const list = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const numbers = list.map(Number);
  if (list.length === 0 || list.length > 10 || numbers.some((p) => !Number.isFinite(p) || p <= 0 || p > 100)) {
    throw new KairoError('parameter_invalid', { param: 'percentiles', message: 'percentiles is 1 to 10 numbers above 0 and at most 100, e.g. 50,95,99.' });
  }
  return [...new Set(numbers)];
}
