import { describe, expect, it } from 'vitest';
import { median, meets, summarize } from '../../src/stats.js';

describe('median', () => {
  it('takes the middle value of an odd count, whatever the order', () => {
    expect(median([9, 1, 5])).toBe(5);
  });

  it('averages the middle two of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('refuses an empty list', () => {
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('reports median, min, max and the number of runs', () => {
    expect(summarize([3, 10, 1, 7])).toEqual({ median: 5, min: 1, max: 10, runs: 4 });
  });

  it('does not reorder the caller’s samples', () => {
    const samples = [3, 1, 2];
    summarize(samples);
    expect(samples).toEqual([3, 1, 2]);
  });
});

describe('meets', () => {
  it('treats the target value itself as met, in both directions', () => {
    expect(meets({ op: '>=', value: 50 }, 50)).toBe(true);
    expect(meets({ op: '<=', value: 50 }, 50)).toBe(true);
    expect(meets({ op: '>=', value: 50 }, 49.9)).toBe(false);
    expect(meets({ op: '<=', value: 50 }, 50.1)).toBe(false);
  });
});
