import { describe, expect, it } from 'vitest';
import { DDSketch } from '@datadog/sketches-js';
import { addValue, BinCounts, mergeSketches, RELATIVE_ACCURACY, summarize, type Sketches } from '../../src/analytics/sketch.js';

/** A seeded generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const QS = [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1];
const round = (v: number) => Math.round(v * 100) / 100;

describe('latency sketches', () => {
  it('reads the quantiles DDSketch reads from the same values, across rows merged one way or another', () => {
    const next = random(7);
    const reference = new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
    const exact: number[] = [];
    // Ten rows of values spread over six decades (from 0.1 ms, so some bins are below 0), some of them 0 ms.
    const rows: Sketches[] = Array.from({ length: 10 }, () => {
      const bins: Sketches = {};
      for (let i = 0; i < 500; i++) {
        const value = next() < 0.05 ? 0 : Math.exp(next() * Math.log(1_000_000)) / 10;
        addValue(bins, 'total', value);
        addValue(bins, 'model', value / 2);
        reference.accept(value);
        exact.push(value);
      }
      return bins;
    });
    exact.sort((a, b) => a - b);

    const byRows: Sketches = {};
    for (const bins of rows) mergeSketches(byRows, bins);
    // Merged in two halves, then the halves (as a query adds rows to groups, then groups to totals).
    const bySets: Sketches = {};
    for (const half of [rows.slice(0, 4), rows.slice(4)]) mergeSketches(bySets, half.reduce((into, bins) => mergeSketches(into, bins), {}));
    // After a round trip through JSON, as stored.
    const stored = JSON.parse(JSON.stringify(byRows)) as Sketches;

    for (const set of [byRows, bySets, stored]) {
      const summary = summarize(set, 'total', QS);
      expect(summary.count).toBe(5000);
      expect(summary.values).toEqual(QS.map((q) => round(reference.getValueAtQuantile(q))));
      // Within the sketch's relative accuracy of the exact value of that rank (plus the rounding to 0.01 ms).
      QS.forEach((q, i) => {
        const truth = exact[Math.floor(q * (exact.length - 1))]!;
        expect(Math.abs(summary.values[i]! - truth)).toBeLessThanOrEqual(truth * RELATIVE_ACCURACY + 0.01);
      });
      expect(summarize(set, 'model', [0.5]).count).toBe(5000);
    }
  });

  it('merges small sketches into large ones and large into small, as counting the values one by one', () => {
    const next = random(11);
    const values = Array.from({ length: 300 }, () => (next() < 0.1 ? 0 : next() * 5000));
    const direct: Sketches = {};
    for (const v of values) addValue(direct, 'total', v);
    const merged: Sketches = {};
    for (const v of values.slice(0, 200)) {
      const one: Sketches = {};
      addValue(one, 'total', v);
      mergeSketches(merged, one);
    }
    const rest: Sketches = {};
    for (const v of values.slice(200)) addValue(rest, 'total', v);
    expect(mergeSketches(rest, merged)).toEqual(direct);
    const pairs = direct.total!;
    for (let i = 2; i < pairs.length; i += 2) expect(pairs[i]!).toBeGreaterThan(pairs[i - 2]!);
  });

  it('has no values for a metric it never saw', () => {
    expect(summarize({}, 'ttft', [0.5, 0.99])).toEqual({ count: 0, values: [null, null] });
    expect(summarize({ ttft: [] }, 'ttft', [0.5])).toEqual({ count: 0, values: [null] });
  });

  it('reads from dense counts the quantiles it reads from the merged sketches, in whatever order rows widen them', () => {
    const next = random(23);
    // Rows of narrow and wide ranges, some with zeros, so the dense array grows down and up.
    const rows: Sketches[] = Array.from({ length: 12 }, (_, row) => {
      const bins: Sketches = {};
      const scale = row % 3 === 0 ? 1_000_000 : row % 3 === 1 ? 100 : 10;
      for (let i = 0; i < 200; i++) addValue(bins, 'total', next() < 0.05 ? 0 : next() * scale + (row % 2 ? 0.01 : 5));
      return bins;
    });
    const merged: Sketches = {};
    for (const bins of rows) mergeSketches(merged, bins);
    const byPairs = new BinCounts();
    for (const bins of rows) byPairs.addPairs(bins.total!);
    const expected = summarize(merged, 'total', QS);
    expect(byPairs.count).toBe(expected.count);
    expect(byPairs.quantiles(QS)).toEqual(expected.values);
    // One row kept as it is, and that row added to another's counts.
    const one = new BinCounts();
    one.addPairs(rows[0]!.total!);
    expect(one.quantiles(QS)).toEqual(summarize(rows[0]!, 'total', QS).values);
    const twice = new BinCounts();
    twice.addPairs(rows[0]!.total!);
    twice.addPairs(rows[0]!.total!);
    expect(twice.count).toBe(2 * one.count);
    expect(twice.quantiles(QS)).toEqual(summarize(mergeSketches(mergeSketches({}, rows[0]!), rows[0]!), 'total', QS).values);
    expect(new BinCounts().quantiles([0.5, 0.99])).toEqual([null, null]);
    const zeros = new BinCounts();
    zeros.addPairs(summaryPairs([0, 0, 0]));
    expect(zeros.quantiles([0, 1])).toEqual([0, 0]);
  });
});

/** The stored pairs of a sketch of `values`. */
function summaryPairs(values: number[]): number[] {
  const bins: Sketches = {};
  for (const v of values) addValue(bins, 'total', v);
  return bins.total!;
}
