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

function runCase(c: FixtureCase, withGrad = false): { out: Tensor; inputs: Record<string, Tensor> } {
  const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, toTensor(v)]));
  if (withGrad) for (const k of Object.keys(c.grads)) inputs[k]!.requiresGrad_();
  return { out: CALLS[c.fn]!(inputs, c.options), inputs };
}

// PyTorch 1.13's kl_div differentiates xlogy(y, y) at y = 0 to 0/0 = NaN; tapegrad counts the
// y = 0 term as the constant 0 there, so its gradient is 0 (docs/losses.md).
function expectedGrad(c: FixtureCase, name: string): number[] {
  const g = values(c.grads[name]!);
  if (c.fn !== 'klDiv' || name !== 'target' || c.options.logTarget) return g;
  const y = values(c.inputs.target!);
  return g.map((v, i) => (y[i] === 0 && Number.isNaN(v) ? 0 : v));
}

describe('losses match PyTorch (values)', () => {
  it('covers every loss and softmax in the fixture', () => {
    expect(new Set(cases.map((c) => c.fn))).toEqual(new Set(Object.keys(CALLS)));
  });
  for (const c of cases) {
    it(c.name, () => {
      const { out } = runCase(c);
      expect(out.shape).toEqual(c.output.shape);
      expect(out.dtype).toBe('float64');
      expectClose(out.dataSync(), values(c.output), c.name);
    });
  }
});

describe('losses match PyTorch (gradients of sum(loss * upstream))', () => {
  for (const c of cases) {
    it(c.name, () => {
      const { out, inputs } = runCase(c, true);
      out.backward(toTensor(c.upstream));
      for (const name of Object.keys(c.grads)) {
        const grad = inputs[name]!.grad;
        expect(grad, `${c.name}: ${name}.grad`).not.toBeNull();
        expect(grad!.shape).toEqual(c.grads[name]!.shape);
        expectClose(grad!.dataSync(), expectedGrad(c, name), `${c.name}: d/d${name}`);
      }
    });
  }
});
