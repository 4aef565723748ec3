/**
 * Sums two rollup sketch columns — JSON objects of `bin, count, …` arrays, bins ascending — bin
 * by bin, metrics in name order. Registered on SQLite connections as `kairo_merge_sketches`: a
 * rollup upsert merges sketches on every run, and doing it here costs a fraction of SQLite's
 * JSON functions.
 */
export function mergeSketches(current: string, incoming: string): string {
  const a = JSON.parse(current) as Record<string, number[]>;
  const b = JSON.parse(incoming) as Record<string, number[]>;
  const merged: Record<string, number[]> = {};
  for (const metric of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    merged[metric] = mergePairs(a[metric] ?? [], b[metric] ?? []);
  }
  return JSON.stringify(merged);
}

function mergePairs(x: number[], y: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (j >= y.length || (i < x.length && x[i]! < y[j]!)) {
      out.push(x[i]!, x[i + 1]!);
      i += 2;
    } else if (i >= x.length || y[j]! < x[i]!) {
      out.push(y[j]!, y[j + 1]!);
      j += 2;
    } else {
      out.push(x[i]!, x[i + 1]! + y[j + 1]!);
      i += 2;
      j += 2;
    }
  }
  return out;
}
