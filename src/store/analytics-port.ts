/**
 * The storage port of analytics: rollup rows (the per-minute figures written with every run,
 * call and request, and the hour and day rows derived from them) and the request log.
 */
import type { Page, PageRequest, Scope } from './platform-port.js';

/** What a rollup row counts; a `completion` is one asked of a model without an agent (OpenAI-compatible API). */
export type RollupSubject = 'agent_run' | 'model_call' | 'workflow_run' | 'request' | 'completion';

/** Minute rows are written with each run and request; hour and day rows are derived from them. */
export type RollupWidth = 'minute' | 'hour' | 'day';

/** The dimensions a series is keyed by; null where the subject has none or the grouping drops it. */
export interface RollupDims {
  apiKeyId: string | null;
  agentId: string | null;
  agentVersion: number | null;
  workflowId: string | null;
  workflowVersion: number | null;
  model: string | null;
  provider: string | null;
  /** A run's final status, a model call's `ok`/`error`, a request's HTTP status code. */
  status: string | null;
  /** A request's method and route template: `POST /v1/agents/{id}/runs`. */
  route: string | null;
}

export type RollupDim = keyof RollupDims;

/** Each dimension's snake_case name: its column, and its field in API results and filters. */
export const ROLLUP_DIM_NAMES = {
  apiKeyId: 'api_key_id',
  agentId: 'agent_id',
  agentVersion: 'agent_version',
  workflowId: 'workflow_id',
  workflowVersion: 'workflow_version',
  model: 'model',
  provider: 'provider',
  status: 'status',
  route: 'route',
} as const satisfies Record<RollupDim, string>;

/** Additive measures of a bucket, and latency sketches (per metric, `bin, count, …` in bin order). */
export interface RollupMetrics {
  count: number;
  errors: number;
  steps: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costUsd: number;
  autoChosen: number;
  fallbacks: number;
  sketches: Record<string, number[]>;
}

export type RollupSums = Omit<RollupMetrics, 'sketches'>;

/** One bucket of one series. */
export interface RollupRow {
  scope: Scope;
  subject: RollupSubject;
  width: RollupWidth;
  /** '*' keeps every dimension; a derived row may keep one (`model`, …) or none (''). */
  grouping: string;
  bucketStart: number;
  dims: RollupDims;
  metrics: RollupMetrics;
}

/** A row as a report reads it: see RollupRepo.measureRows. */
export interface RollupMeasureRow {
  subject: RollupSubject;
  bucketStart: number;
  dims: Partial<RollupDims>;
  sums: RollupSums;
  /** JSON text of the row's sketches. */
  sketches: string;
}

/** Which rows a read covers. */
export interface RollupSelection {
  scope: Scope;
  subjects: RollupSubject[];
  width: RollupWidth;
  grouping: string;
  /** Buckets starting in [from, to). */
  from: number;
  to: number;
  /** Only rows whose dimension equals the value. */
  filters: Partial<RollupDims>;
}

export interface RollupRepo {
  /**
   * Adds each row to its bucket, creating it: measures are summed and sketch bins merged, in
   * one statement per batch. Rows of one call must be distinct series.
   */
  add(rows: RollupRow[]): Promise<void>;
  /**
   * Additive measures per bucket, subject and the dimensions in `groupBy`; the caller adds rows
   * that share them (a database may return a named grouping's rows as they are, about one per
   * group and bucket, when summing them in SQL costs it more than it saves).
   */
  sums(selection: RollupSelection, groupBy: RollupDim[]): Promise<Array<{ subject: RollupSubject; bucketStart: number; dims: Partial<RollupDims>; sums: RollupSums }>>;
  /**
   * What a report merges from each row: its subject, bucket, the dimensions in `groupBy`, its
   * additive measures and its sketches as stored (JSON text, parsed by the caller one row at a
   * time so that a month of rows is never held parsed all at once). In bucket order.
   */
  measureRows(selection: RollupSelection, groupBy: RollupDim[]): Promise<RollupMeasureRow[]>;
  /** Every row of a width (and grouping) with a bucket in [from, to), across workspaces (for deriving coarser rows). */
  rowsBetween(width: RollupWidth, from: number, to: number, grouping: string): Promise<RollupRow[]>;
  /** Replaces the rows of a width in [from, to) across workspaces with `rows` (re-deriving is idempotent). */
  replaceBetween(width: RollupWidth, from: number, to: number, rows: RollupRow[]): Promise<void>;
  /** The earliest minute bucket on record. */
  firstMinute(): Promise<number | undefined>;
  /** Deletes up to `limit` rows of a width with buckets before `before`; returns how many. */
  purge(width: RollupWidth, before: number, limit: number): Promise<number>;
}

/** One authenticated API request, as the request log keeps it: never bodies or secrets. */
export interface RequestRecord {
  /** The request id (`req_…`), also its X-Request-Id. */
  id: string;
  scope: Scope;
  /** When the request arrived: the time of its id (which is what the log stores). */
  createdAt: number;
  apiKeyId: string;
  method: string;
  /** The route template, `/v1/agents/{id}/runs`. */
  route: string;
  /** The path without its query string. */
  path: string;
  status: number;
  latencyMs: number;
  errorCode: string | null;
  idempotencyKey: string | null;
  /** The agent or workflow run the request created. */
  runId: string | null;
}

export interface RequestLogFilter {
  status?: number;
  route?: string;
  method?: string;
  apiKeyId?: string;
  /** Requests made in [from, to). */
  from?: number;
  to?: number;
}

export interface RequestLogRepo {
  insert(records: RequestRecord[]): Promise<void>;
  get(scope: Scope, id: string): Promise<RequestRecord | undefined>;
  list(scope: Scope, filter: RequestLogFilter, page: PageRequest): Promise<Page<RequestRecord>>;
  /** Deletes up to `limit` records of a scope made before `before`; returns how many. */
  purge(scope: Scope, before: number, limit: number): Promise<number>;
}
