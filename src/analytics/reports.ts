import { KairoError } from '../errors.js';
import type { RollupSums } from '../store/port.js';
import { isNotional } from '../models/pricing.js';
import { groupFields, type BucketQuery } from './buckets.js';
import { zeroSums, type Buckets, type GroupMeasures, type RollupQueries, type SummarizedMeasures } from './queries.js';
import type { BinCounts } from './sketch.js';

/** Latency metrics of agent runs: the API name, and the sketch it is read from. */
export const LATENCY_METRICS = {
  total: 'total',
  queue: 'queue',
  slot_wait: 'slot_wait',
  retrieval: 'retrieval',
  model: 'model',
  time_to_first_token: 'ttft',
  tools: 'tools',
} as const;

export type LatencyMetric = keyof typeof LATENCY_METRICS;

type Result = Record<string, unknown>;

/** A page of buckets as every bucketed endpoint answers, with the page's totals per group. */
function page(query: BucketQuery, object: string, buckets: Array<{ start: number; end: number; results: Result[] }>, totals: Result[], extra: Result = {}) {
  const hasMore = query.pageTo < query.to;
  return {
    object: 'list' as const,
    data: buckets.map((b) => ({ object: 'bucket' as const, start_time: iso(b.start), end_time: iso(b.end), results: b.results.map((r) => ({ object, ...r })) })),
    has_more: hasMore,
    next_page: hasMore ? iso(query.pageTo) : null,
    totals: totals.map((r) => ({ object, ...r })),
    ...extra,
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Every group of the page, its measures added up over the buckets. */
function totalsOf<M>(buckets: Buckets<M>, add: (into: M | undefined, from: M) => M): Array<GroupMeasures<M>> {
  const totals = new Map<string, GroupMeasures<M>>();
  for (const bucket of buckets) {
    for (const group of bucket.groups) {
      const key = JSON.stringify(group.dims);
      const total = totals.get(key) ?? { dims: group.dims, bySubject: {} };
      for (const [subject, measures] of Object.entries(group.bySubject) as Array<[keyof GroupMeasures<M>['bySubject'], M]>) {
        total.bySubject[subject] = add(total.bySubject[subject], measures);
      }
      totals.set(key, total);
    }
  }
  return [...totals.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, total]) => total);
}

const addSums = (into: RollupSums | undefined, from: RollupSums): RollupSums => {
  const out = into ?? zeroSums();
  for (const key of Object.keys(from) as Array<keyof RollupSums>) out[key] += from[key];
  return out;
};


/** The report endpoints of the Analytics group over rollups. */
export class AnalyticsReports {
  constructor(private readonly rollups: RollupQueries) {}

  /** Requests, runs, workflow runs, steps, completions without an agent, tokens and errors per bucket and group. */
  async usage(query: BucketQuery) {
    const buckets = await this.rollups.sums(query, ['request', 'agent_run', 'workflow_run', 'completion']);
    const result = (group: GroupMeasures<RollupSums>): Result | null => {
      const { request, agent_run: run, workflow_run: workflow, completion } = group.bySubject;
      if (!request && !run && !workflow && !completion) return null;
      const tokens = (measure: (sums: RollupSums) => number) => (run ? measure(run) : 0) + (completion ? measure(completion) : 0);
      return {
        ...groupFields(group.dims, query.groupBy),
        requests: request?.count ?? 0,
        request_errors: request?.errors ?? 0,
        runs: run?.count ?? 0,
        run_errors: run?.errors ?? 0,
        workflow_runs: workflow?.count ?? 0,
        workflow_run_errors: workflow?.errors ?? 0,
        steps: workflow?.steps ?? 0,
        completions: completion?.count ?? 0,
        completion_errors: completion?.errors ?? 0,
        input_tokens: tokens((s) => s.inputTokens),
        cached_input_tokens: tokens((s) => s.cachedInputTokens),
        output_tokens: tokens((s) => s.outputTokens),
        reasoning_tokens: tokens((s) => s.reasoningTokens),
        total_tokens: tokens((s) => s.inputTokens + s.outputTokens),
      };
    };
    return this.answer(query, 'analytics.usage.result', buckets, totalsOf(buckets, addSums), result);
  }

  /** What agent runs and completions without an agent cost per bucket and group (fixed when each call ended; notional in test mode). */
  async costs(query: BucketQuery) {
    const buckets = await this.rollups.sums(query, ['agent_run', 'completion']);
    const costOf = (group: GroupMeasures<RollupSums>) => (group.bySubject.agent_run?.costUsd ?? 0) + (group.bySubject.completion?.costUsd ?? 0);
    const result = (group: GroupMeasures<RollupSums>): Result | null => {
      const { agent_run: run, completion } = group.bySubject;
      if (!run && !completion) return null;
      return { ...groupFields(group.dims, query.groupBy), cost_usd: costOf(group), runs: run?.count ?? 0, completions: completion?.count ?? 0 };
    };
    const totals = totalsOf(buckets, addSums);
    return this.answer(query, 'analytics.costs.result', buckets, totals, result, {
      total_cost_usd: totals.reduce((sum, g) => sum + costOf(g), 0),
      cost_notional: isNotional(query.scope.livemode),
    });
  }

  /** Percentiles of agent runs' latency breakdown per bucket and group. */
  async latency(query: BucketQuery, metrics: LatencyMetric[], percentiles: number[]) {
    const set = new PercentileSet(percentiles);
    const fields = metrics.map((metric) => ({ name: `${metric}_ms`, sketch: LATENCY_METRICS[metric] }));
    const { buckets, totals } = await this.rollups.metrics(query, ['agent_run'], fields.map((f) => f.sketch), (bins) => set.of(bins));
    const result = (group: GroupMeasures<SummarizedMeasures<Result>>): Result | null => {
      const run = group.bySubject.agent_run;
      if (!run) return null;
      const out: Result = groupFields(group.dims, query.groupBy);
      out.runs = run.count;
      for (const field of fields) out[field.name] = run.summaries[field.sketch];
      return out;
    };
    return this.answer(query, 'analytics.latency.result', buckets, totals, result);
  }

  /** Per model: calls, errors, tokens, cost, latency, how often `auto` chose it and how often a call fell back from it. */
  async models(query: BucketQuery, percentiles: number[]) {
    const set = new PercentileSet(percentiles);
    const grouped: BucketQuery = { ...query, groupBy: ['model', 'provider', ...query.groupBy.filter((d) => d !== 'model' && d !== 'provider')] };
    const { buckets, totals } = await this.rollups.metrics(grouped, ['model_call'], ['latency', 'ttft'], (bins) => set.of(bins));
    const result = (group: GroupMeasures<SummarizedMeasures<Result>>): Result | null => {
      const call = group.bySubject.model_call;
      if (!call) return null;
      return {
        ...groupFields(group.dims, grouped.groupBy),
        calls: call.count,
        errors: call.errors,
        error_rate: call.count === 0 ? 0 : call.errors / call.count,
        input_tokens: call.inputTokens,
        cached_input_tokens: call.cachedInputTokens,
        output_tokens: call.outputTokens,
        reasoning_tokens: call.reasoningTokens,
        cost_usd: call.costUsd,
        auto_chosen: call.autoChosen,
        fallbacks: call.fallbacks,
        latency_ms: call.summaries.latency,
        time_to_first_token_ms: call.summaries.ttft,
      };
    };
    return this.answer(grouped, 'analytics.model.result', buckets, totals, result, { cost_notional: isNotional(query.scope.livemode) });
  }

  private answer<M>(
    query: BucketQuery, object: string, buckets: Buckets<M>, totals: Array<GroupMeasures<M>>, result: (group: GroupMeasures<M>) => Result | null, extra: Result = {},
  ) {
    const results = (groups: Array<GroupMeasures<M>>) => groups.map(result).filter((r): r is Result => r !== null);
    return page(query, object, buckets.map((b) => ({ start: b.start, end: b.end, results: results(b.groups) })), results(totals), extra);
  }
}

/** The percentiles a report asks for, as quantiles and as the keys of its answers (`p50`). */
class PercentileSet {
  readonly quantiles: number[];
  readonly keys: string[];

  constructor(percentiles: number[]) {
    this.quantiles = percentiles.map((p) => p / 100);
    this.keys = percentiles.map((p) => `p${p}`);
  }

  /** `{count, p50, p95, …}` of a metric's counts; null percentiles when there are none. */
  of(bins: BinCounts | undefined): Result {
    const out: Result = { count: bins?.count ?? 0 };
    const values = bins?.quantiles(this.quantiles);
    for (let i = 0; i < this.keys.length; i++) out[this.keys[i]!] = values?.[i] ?? null;
    return out;
  }
}

/** Latency metrics as sent (`total,model`), checked. */
export function parseLatencyMetrics(value: string | undefined): LatencyMetric[] {
  if (value === undefined) return Object.keys(LATENCY_METRICS) as LatencyMetric[];
  const list = value.split(',').map((m) => m.trim()).filter((m) => m !== '');
  const unknown = list.find((m) => !(m in LATENCY_METRICS));
  if (list.length === 0 || unknown !== undefined) {
    throw new KairoError('parameter_invalid', { param: 'metrics', message: `Unknown metric "${unknown ?? ''}"; use ${Object.keys(LATENCY_METRICS).join(', ')}.` });
  }
  return [...new Set(list)] as LatencyMetric[];
}
