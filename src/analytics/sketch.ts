import { DDSketch } from '@datadog/sketches-js';

/**
 * Latency sketches: DDSketch (Masson, Rim & Lee, VLDB 2019) with 1 % relative accuracy. A value
 * goes to bin ⌈log_γ(v)⌉ with γ = (1 + α)/(1 − α); a bin stands for a value within α of every
 * value in it, so any quantile read from merged bins is within 1 % of the exact value of that
 * rank. Bins are plain counts, so sketches merge by adding counts — in SQL when a rollup row is
 * upserted, in code when rows are combined.
 *
 * A rollup row keeps the sketches of all its metrics in one object: per metric, a flat array of
 * `bin, count` pairs in bin order. Values at or below the smallest the mapping separates from 0
 * (0 ms, say) count in ZERO_BIN, below every other. Arrays of numbers parse and walk many
 * times faster than objects keyed by bin, which is what a report over thousands of rows does.
 */
export const RELATIVE_ACCURACY = 0.01;

const mapping = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY }).mapping;

/** The bin of zeros: below every bin the mapping gives (about ±35,600 at 1 %, for any double). */
export const ZERO_BIN = -1_000_000;

/** Each metric's `bin, count, bin, count, …`, bins ascending. */
export type Sketches = Record<string, number[]>;

/** Counts one value of `metric` (undefined and non-finite values are not counted). */
export function addValue(sketches: Sketches, metric: string, value: number | null | undefined): void {
  if (value === undefined || value === null || !Number.isFinite(value) || value < 0) return;
  const bin = value > mapping.minPossible ? mapping.key(value) : ZERO_BIN;
  addCount((sketches[metric] ??= []), bin, 1);
}

/** Adds `from`'s counts into `into`. */
export function mergeSketches(into: Sketches, from: Sketches): Sketches {
  for (const metric in from) {
    const source = from[metric]!;
    const target = into[metric];
    if (target === undefined || target.length === 0) into[metric] = source.slice();
    else if (source.length <= 8) for (let i = 0; i < source.length; i += 2) addCount(target, source[i]!, source[i + 1]!);
    else into[metric] = mergePairs(target, source);
  }
  return into;
}

/** Adds `count` to `bin` of a pairs array, in place (a binary search; a splice for a new bin). */
function addCount(pairs: number[], bin: number, count: number): void {
  let low = 0;
  let high = pairs.length / 2;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (pairs[mid * 2]! < bin) low = mid + 1;
    else high = mid;
  }
  if (pairs[low * 2] === bin) pairs[low * 2 + 1]! += count;
  else pairs.splice(low * 2, 0, bin, count);
}

/** Two pairs arrays merged into a new one. */
function mergePairs(a: number[], b: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i]! < b[j]!) {
      out.push(a[i]!, a[i + 1]!);
      i += 2;
    } else if (b[j]! < a[i]!) {
      out.push(b[j]!, b[j + 1]!);
      j += 2;
    } else {
      out.push(a[i]!, a[i + 1]! + b[j + 1]!);
      i += 2;
      j += 2;
    }
  }
  for (; i < a.length; i += 2) out.push(a[i]!, a[i + 1]!);
  for (; j < b.length; j += 2) out.push(b[j]!, b[j + 1]!);
  return out;
}

/** How many values of a metric the sketches hold, and the value at each asked quantile (null when none). */
export interface MetricSummary {
  count: number;
  values: Array<number | null>;
}

/**
 * A metric's count and its values at the quantiles (0–1): DDSketch's rank q·(n − 1), the value
 * of the first bin (in bin order, zeros first) whose running count passes it.
 */
export function summarize(sketches: Sketches, metric: string, qs: readonly number[]): MetricSummary {
  const pairs = sketches[metric] ?? [];
  let count = 0;
  for (let i = 1; i < pairs.length; i += 2) count += pairs[i]!;
  return { count, values: summarizePairs(pairs, count, qs) };
}

/** The values at the quantiles of `bin, count, …` pairs holding `count` values in all. */
function summarizePairs(pairs: ArrayLike<number>, count: number, qs: readonly number[]): Array<number | null> {
  const values = new Array<number | null>(qs.length).fill(null);
  if (count === 0) return values;
  const ranks = qs.map((q, i) => ({ rank: q * (count - 1), i })).sort((a, b) => a.rank - b.rank);
  let next = 0;
  let running = 0;
  for (let i = 0; i < pairs.length && next < ranks.length; i += 2) {
    running += pairs[i + 1]!;
    const bin = pairs[i]!;
    while (next < ranks.length && ranks[next]!.rank < running) values[ranks[next++]!.i] = bin === ZERO_BIN ? 0 : round(mapping.value(bin));
  }
  return values;
}

const round = (value: number): number => Math.round(value * 100) / 100;

const NO_COUNTS = new Float64Array(0);

/**
 * One metric's counts merged from many sketches, for reading quantiles. The first sketch added
 * is kept as it is (a report's bucket often draws on a single stored row); from the second on,
 * counts go into a dense array over the bins seen (a few hundred for latencies), grown as rows
 * widen it. A report adds thousands of stored sketches into these without allocating per merge.
 */
export class BinCounts {
  /** The only sketch added so far, as given (never written to). */
  private single: ArrayLike<number> | undefined;
  private counts = NO_COUNTS;
  private first = 0;
  private zeros = 0;
  count = 0;

  /** Adds a stored sketch's `bin, count, …` pairs (bins ascending); they are read, never changed, and may be kept until the next add. */
  addPairs(pairs: ArrayLike<number>): void {
    if (pairs.length === 0) return;
    if (this.count === 0 && this.single === undefined) {
      this.single = pairs;
      for (let i = 1; i < pairs.length; i += 2) this.count += pairs[i]!;
      return;
    }
    this.spread();
    this.addDense(pairs);
  }

  /** The value at each quantile (0–1), as `summarize` reads it from the same counts; nulls when empty. */
  quantiles(qs: readonly number[]): Array<number | null> {
    if (this.single !== undefined) return summarizePairs(this.single, this.count, qs);
    const values = new Array<number | null>(qs.length).fill(null);
    if (this.count === 0) return values;
    const ranks = qs.map((q, i) => ({ rank: q * (this.count - 1), i })).sort((a, b) => a.rank - b.rank);
    let next = 0;
    let running = this.zeros;
    while (next < ranks.length && ranks[next]!.rank < running) values[ranks[next++]!.i] = 0;
    for (let i = 0; i < this.counts.length && next < ranks.length; i++) {
      if (this.counts[i] === 0) continue;
      running += this.counts[i]!;
      while (next < ranks.length && ranks[next]!.rank < running) values[ranks[next++]!.i] = round(mapping.value(this.first + i));
    }
    return values;
  }

  /** Moves the kept sketch into the dense counts. */
  private spread(): void {
    const single = this.single;
    if (single === undefined) return;
    this.single = undefined;
    this.count = 0;
    this.addDense(single);
  }

  private addDense(pairs: ArrayLike<number>): void {
    let start = 0;
    if (pairs[0] === ZERO_BIN) {
      this.zeros += pairs[1]!;
      this.count += pairs[1]!;
      start = 2;
    }
    if (start >= pairs.length) return;
    this.cover(pairs[start]!, pairs[pairs.length - 2]!);
    const counts = this.counts;
    const first = this.first;
    for (let i = start; i < pairs.length; i += 2) {
      counts[pairs[i]! - first]! += pairs[i + 1]!;
      this.count += pairs[i + 1]!;
    }
  }

  /** Makes the array reach bins `low` to `high`, with room to spare so that a few more rows do not grow it again. */
  private cover(low: number, high: number): void {
    const length = this.counts.length;
    if (length > 0 && low >= this.first && high < this.first + length) return;
    const slack = length === 0 ? 0 : 32;
    const first = length === 0 ? low : Math.min(low - slack, this.first);
    const last = length === 0 ? high : Math.max(high + slack, this.first + length - 1);
    const grown = new Float64Array(last - first + 1);
    if (length > 0) grown.set(this.counts, this.first - first);
    this.counts = grown;
    this.first = first;
  }
}
