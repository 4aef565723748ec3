import { describe, expect, it } from 'vitest';
import { mergeSketches } from '../../src/store/sqlite/merge-sketches.js';

describe('mergeSketches (the SQLite rollup upsert)', () => {
  it('sums the counts of equal bins, keeps the others in bin order, and writes metrics in name order', () => {
    const current = JSON.stringify({ total: [3, 1, 7, 2, 9, 1], model: [4, 5] });
    const incoming = JSON.stringify({ total: [1, 4, 7, 3, 12, 1], ttft: [2, 2] });
    expect(mergeSketches(current, incoming)).toBe(JSON.stringify({ model: [4, 5], total: [1, 4, 3, 1, 7, 5, 9, 1, 12, 1], ttft: [2, 2] }));
  });

  it('leaves a sketch unchanged when merged with an empty one, either way round', () => {
    const sketch = JSON.stringify({ queue: [0, 2, 5, 1] });
    expect(mergeSketches(sketch, '{}')).toBe(sketch);
    expect(mergeSketches('{}', sketch)).toBe(sketch);
    expect(mergeSketches('{}', '{}')).toBe('{}');
  });
});
