// The bookkeeping behind "bad input on the GPU poisons what is computed from it" (no device
// needed): spans of checking dispatches, settled in order, with the failures among them.
import { describe, expect, it } from 'vitest';
import { IndexError } from '@tapegrad/tensor';
import { Taints, type Failure } from '../src/taint.js';

const failure = (seq: number): Failure => ({ seq, error: () => new IndexError(`op ${seq} found bad input`) });

describe('Taints', () => {
  it('a merge of one taint (or of clean inputs) is that taint; of several, their sorted union', () => {
    const t = new Taints();
    const [a, b, c] = [t.issue(), t.issue(), t.issue()];
    expect(t.merge([undefined, undefined])).toBeUndefined();
    const ta = [a, a];
    expect(t.merge([undefined, ta, ta])).toBe(ta);
    expect(t.merge([[c, c], ta])).toEqual([a, a, c, c]);
    expect(t.merge([[c, c], ta, [b, b]])).toEqual([a, c]); // adjacent numbers join
  });

  it('settled clean dispatches drop out; a failure among a taint\'s dispatches becomes its state', () => {
    const t = new Taints();
    for (let i = 0; i < 10; i++) t.issue();
    const taint = [1, 2, 5, 8];
    t.settle(3, []);
    expect(t.state(taint)).toEqual([5, 8]);
    t.settle(7, [failure(4)]);
    expect(t.state(taint)).toEqual([7, 8]); // 4 failed, but this taint does not depend on it
    expect(t.state([3, 6])).toMatchObject({ seq: 4 });
    t.settle(10, [failure(9)]);
    expect(t.state(taint)).toBeUndefined();
    expect(t.state([0, 9])).toMatchObject({ seq: 4 }); // the first failure: the op the bad values came from
    expect(t.merge([[8, 8], failure(9), [3, 5]])).toMatchObject({ seq: 4 });
    expect((t.state([9, 9]) as Failure).error().message).toBe('op 9 found bad input');
  });

  it('past 8 spans, the two nearest join', () => {
    const t = new Taints();
    for (let i = 0; i < 100; i++) t.issue();
    const spans = [0, 0, 10, 10, 20, 20, 30, 30, 40, 40, 50, 50, 60, 60, 70, 70];
    expect(t.merge([spans, [73, 73]])).toEqual([...spans.slice(0, -2), 70, 73]);
  });
});
