import type { RollupDim, RollupDims, RollupMetrics, RollupRow } from '../store/port.js';
import { mergeSketches } from './sketch.js';

const ALL: readonly RollupDim[] = ['apiKeyId', 'agentId', 'agentVersion', 'workflowId', 'workflowVersion', 'model', 'provider', 'status', 'route'];

/**
 * The dimensions each grouping of derived (hour and day) rows keeps: every dimension ('*'), none
 * (''), or those of one `group_by` value. A version keeps its agent or workflow; a model its
 * provider. Minute rows always keep every dimension.
 */
export const GROUPINGS: Readonly<Record<string, readonly RollupDim[]>> = {
  '': [],
  api_key: ['apiKeyId'],
  agent: ['agentId'],
  agent_version: ['agentId', 'agentVersion'],
  workflow: ['workflowId'],
  workflow_version: ['workflowId', 'workflowVersion'],
  model: ['model', 'provider'],
  provider: ['provider'],
  status: ['status'],
  '*': ALL,
};

/** The grouping with the fewest dimensions that keeps all of `dims`. */
export function coveringGrouping(dims: Iterable<RollupDim>): string {
  const needed = [...new Set(dims)];
  let best = '*';
  for (const [name, kept] of Object.entries(GROUPINGS)) {
    if (needed.every((d) => kept.includes(d)) && kept.length < GROUPINGS[best]!.length) best = name;
  }
  return best;
}

/** The dimensions with only those of `kept` left. */
export function project(dims: RollupDims, kept: readonly RollupDim[]): RollupDims {
  const out = { ...dims };
  for (const d of ALL) if (!kept.includes(d)) out[d] = null;
  return out;
}

/** A key that is the same for equal dimensions. */
export const dimsKey = (dims: Partial<RollupDims>, of: readonly RollupDim[] = ALL): string => of.map((d) => dims[d] ?? '\u0000').join('\u0001');

/** Measures of nothing counted yet. */
export const zeroMetrics = (): RollupMetrics => ({
  count: 0, errors: 0, steps: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, costUsd: 0, autoChosen: 0, fallbacks: 0,
  sketches: {},
});

/** Adds `from`'s measures into `into`. */
export function addMetrics(into: RollupMetrics, from: RollupMetrics): RollupMetrics {
  into.count += from.count;
  into.errors += from.errors;
  into.steps += from.steps;
  into.inputTokens += from.inputTokens;
  into.cachedInputTokens += from.cachedInputTokens;
  into.outputTokens += from.outputTokens;
  into.reasoningTokens += from.reasoningTokens;
  into.costUsd += from.costUsd;
  into.autoChosen += from.autoChosen;
  into.fallbacks += from.fallbacks;
  mergeSketches(into.sketches, from.sketches);
  return into;
}

/**
 * Rows re-bucketed to `bucketStart` at `width` with each grouping's dimensions: one row per
 * workspace, mode, subject, grouping and remaining dimensions, measures added up.
 */
export function regroup(rows: RollupRow[], width: RollupRow['width'], bucketStart: number, groupings: readonly string[]): RollupRow[] {
  const out = new Map<string, RollupRow>();
  for (const row of rows) {
    for (const grouping of groupings) {
      const dims = project(row.dims, GROUPINGS[grouping]!);
      const key = `${row.scope.workspaceId}\u0002${row.scope.livemode}\u0002${row.subject}\u0002${grouping}\u0002${dimsKey(dims)}`;
      const existing = out.get(key);
      if (existing) addMetrics(existing.metrics, row.metrics);
      else out.set(key, { ...row, width, grouping, bucketStart, dims, metrics: addMetrics(zeroMetrics(), row.metrics) });
    }
  }
  return [...out.values()];
}

/** Rows of the same series and bucket combined into one (so that one `add` gets each series once). */
export function combineRows(rows: RollupRow[]): RollupRow[] {
  const out = new Map<string, RollupRow>();
  for (const row of rows) {
    const key = `${row.scope.workspaceId}\u0002${row.scope.livemode}\u0002${row.subject}\u0002${row.width}\u0002${row.grouping}\u0002${row.bucketStart}\u0002${dimsKey(row.dims)}`;
    const existing = out.get(key);
    if (existing) addMetrics(existing.metrics, row.metrics);
    else out.set(key, { ...row, metrics: addMetrics(zeroMetrics(), row.metrics) });
  }
  return [...out.values()];
}
