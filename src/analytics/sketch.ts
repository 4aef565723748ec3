import { DDSketch } from '@datadog/sketches-js';

/**
 * Latency sketches: DDSketch (Masson, Rim & Lee, VLDB 2019) with 1 % relative accuracy. A value
 * goes to bin ⌈log_γ(v)⌉ with γ = (1 + α)/(1 − α); a bin stands for a value within α of every
 * value in it, so any quantile read from merged bins is within 1 % of the exact value of that
 * rank. Bins are plain counts, so sketches merge by adding counts — in SQL when a rollup row is
 * upserted, in code when rows are combined.
 *
 * A rollup row keeps the bins of all its metrics in one object, keyed `<metric>:<bin>`; values
 * at or below the smallest the mapping separates from 0 (0 ms, say) go to bin `z`.
 */
export const RELATIVE_ACCURACY = 0.01;

const mapping = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY }).mapping;

export type Bins = Record<string, number>;

/** The bin key of a value of `metric`. */
export function binKey(metric: string, value: number): string {
  return `${metric}:${value > mapping.minPossible ? mapping.key(value) : 'z'}`;
}

/** Counts one value of `metric` (undefined and non-finite values are not counted). */
export function addValue(bins: Bins, metric: string, value: number | null | undefined): void {
  if (value === undefined || value === null || !Number.isFinite(value) || value < 0) return;
  const key = binKey(metric, value);
  bins[key] = (bins[key] ?? 0) + 1;
}

/** Adds `from`'s counts into `into`. */
export function mergeBins(into: Bins, from: Bins): Bins {
  for (const key in from) into[key] = (into[key] ?? 0) + from[key]!;
  return into;
}

/** The values of `metric` at each quantile (0–1), with DDSketch's rank q·(n − 1); null when nothing was counted. */
export function quantiles(bins: Bins, metric: string, qs: number[]): Array<number | null> {
  const sketch = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
  const prefix = `${metric}:`;
  for (const key in bins) {
    if (!key.startsWith(prefix)) continue;
    const bin = key.slice(prefix.length);
    sketch.accept(bin === 'z' ? 0 : mapping.value(Number(bin)), bins[key]!);
  }
  if (sketch.count === 0) return qs.map(() => null);
  return qs.map((q) => round(sketch.getValueAtQuantile(q)));
}

/** How many values of `metric` the bins hold. */
export function countOf(bins: Bins, metric: string): number {
  const prefix = `${metric}:`;
  let n = 0;
  for (const key in bins) if (key.startsWith(prefix)) n += bins[key]!;
  return n;
}

const round = (value: number): number => Math.round(value * 100) / 100;
