import '@tapegrad/backend-cpu';
import { describe, expect, it } from 'vitest';
import { functional as F } from '../src/index.js';
import { cases, expectClose, toTensor, values, type FixtureCase } from './fixtures.js';
import type { Tensor } from '@tapegrad/tensor';

// Every case of fixtures/losses.json: the loss value against PyTorch's.

type Call = (inputs: Record<string, Tensor>, options: Record<string, unknown>) => Tensor;
const withExtras = (fn: (x: Tensor, y: Tensor, o: any) => Tensor): Call => ({ input, target, weight, posWeight }, options) =>
  fn(input!, target!, { ...options, ...(weight ? { weight } : {}), ...(posWeight ? { posWeight } : {}) });
export const CALLS: Record<string, Call> = {
  crossEntropy: withExtras(F.crossEntropy),
  nllLoss: withExtras(F.nllLoss),
  mseLoss: withExtras(F.mseLoss),
  l1Loss: withExtras(F.l1Loss),
  smoothL1Loss: withExtras(F.smoothL1Loss),
  huberLoss: withExtras(F.huberLoss),
  binaryCrossEntropy: withExtras(F.binaryCrossEntropy),
  binaryCrossEntropyWithLogits: withExtras(F.binaryCrossEntropyWithLogits),
  klDiv: withExtras(F.klDiv),
  logSoftmax: ({ input }, { dim }) => F.logSoftmax(input!, dim as number),
  softmax: ({ input }, { dim }) => F.softmax(input!, dim as number),
};

function runCase(c: FixtureCase): Tensor {
  const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, toTensor(v)]));
  return CALLS[c.fn]!(inputs, c.options);
}

describe('losses match PyTorch (values)', () => {
  it('covers every loss and softmax in the fixture', () => {
    expect(new Set(cases.map((c) => c.fn))).toEqual(new Set(Object.keys(CALLS)));
  });
  for (const c of cases) {
    it(c.name, () => {
      const out = runCase(c);
      expect(out.shape).toEqual(c.output.shape);
      expect(out.dtype).toBe('float64');
      expectClose(out.dataSync(), values(c.output), c.name);
    });
  }
});
