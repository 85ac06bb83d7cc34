import { describe, expect, it } from 'vitest';
import { splitCapAcrossInstances } from '../../../src/coord/local-cap.js';

describe('splitCapAcrossInstances', () => {
  it.each([
    [10, 1, 10],
    [10, 3, 3],
    [9, 3, 3],
    [8, 3, 2],
    [2, 3, 1],
    [1, 5, 1],
    [4, 0, 4],
    [4, Number.NaN, 4],
    [4, 2.7, 2],
  ])('cap %d over %d instances → %d each', (cap, n, expected) => {
    expect(splitCapAcrossInstances(cap, n)).toBe(expected);
  });

  it('never lets the shares add up past the cap while there are no more instances than the cap', () => {
    for (let cap = 1; cap <= 20; cap += 1) {
      for (let n = 1; n <= cap; n += 1) expect(splitCapAcrossInstances(cap, n) * n).toBeLessThanOrEqual(cap);
    }
  });
});
