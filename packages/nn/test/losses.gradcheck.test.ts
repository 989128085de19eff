import '@tapegrad/backend-cpu';
import { gradcheck } from '@tapegrad/autograd';
import { add, manualSeed, mul, rand, randint, randn, softmax, tensor, type Tensor } from '@tapegrad/tensor';
import { describe, expect, it } from 'vitest';
import { functional as F } from '../src/index.js';

// Finite differences (float64) against the analytical gradients of every loss, in every
// reduction: the fused kernels' backward ops as well as the composite losses.

const f64 = { dtype: 'float64' } as const;
const leaf = (t: Tensor) => t.requiresGrad_();
const reductions = ['none', 'mean', 'sum'] as const;

/** Random class indices with class 1 (the ignored class below) at the first position and a kept one at the last. */
function targets(shape: number[], C: number): Tensor {
  const t = randint(0, C, shape, { dtype: 'int32' });
  const d = t.dataSync() as Int32Array;
  d[d.length - 1] = C - 1;
  if (d.length > 1) d[0] = 1;
  return tensor(d, { dtype: 'int32', shape });
}

describe('gradcheck', () => {
  manualSeed(7);
  for (const reduction of reductions) {
    for (const shape of [[5], [3, 5], [2, 4, 3], [2, 3, 2, 2]]) {
      const C = shape.length === 1 ? shape[0]! : shape[1]!;
      const tShape = shape.length === 1 ? [] : [shape[0]!, ...shape.slice(2)];
      it(`crossEntropy ${reduction} ${JSON.stringify(shape)} with weight, an ignored class and labelSmoothing`, () => {
        const x = leaf(mul(randn(shape, f64), 2));
        const target = targets(tShape, C);
        const weight = add(rand([C], f64), 0.5);
        expect(gradcheck((x) => F.crossEntropy(x, target, { weight, reduction, ignoreIndex: 1, labelSmoothing: 0.3 }), [x])).toBe(true);
        expect(gradcheck((x) => F.crossEntropy(x, target, { reduction }), [x])).toBe(true);
      });
      it(`crossEntropy ${reduction} ${JSON.stringify(shape)} with probability targets (input and target)`, () => {
        const x = leaf(randn(shape, f64));
        const p = leaf(softmax(randn(shape, f64), shape.length === 1 ? 0 : 1).detach());
        const weight = add(rand([C], f64), 0.5);
        expect(gradcheck((x, p) => F.crossEntropy(x, p, { weight, reduction, labelSmoothing: 0.1 }), [x, p])).toBe(true);
      });
      it(`nllLoss ${reduction} ${JSON.stringify(shape)}`, () => {
        const x = leaf(randn(shape, f64));
        const target = targets(tShape, C);
        const weight = add(rand([C], f64), 0.5);
        expect(gradcheck((x) => F.nllLoss(x, target, { weight, reduction, ignoreIndex: 1 }), [x])).toBe(true);
      });
    }
    // differences kept away from the kinks (|d| = 0, beta = delta = 0.5), where finite differences would straddle them
    const apart = () => tensor([0.15, -0.3, 0.8, -1.2, 0.25, 1.7, -0.7, 0.35, -2.1, 0.9, -0.2, 1.1], { ...f64, shape: [3, 4] });
    it(`regression losses ${reduction}`, () => {
      const y = leaf(randn([3, 4], f64));
      const x = leaf(add(y.detach(), apart()).detach());
      expect(gradcheck((x, y) => F.mseLoss(x, y, { reduction }), [x, y])).toBe(true);
      expect(gradcheck((x, y) => F.l1Loss(x, y, { reduction }), [x, y])).toBe(true);
      expect(gradcheck((x, y) => F.smoothL1Loss(x, y, { reduction, beta: 0.5 }), [x, y])).toBe(true);
      expect(gradcheck((x, y) => F.huberLoss(x, y, { reduction, delta: 0.5 }), [x, y])).toBe(true);
    });
    it(`binary cross-entropies ${reduction}`, () => {
      const p = leaf(add(mul(rand([3, 4], f64), 0.8), 0.1).detach());
      const z = leaf(mul(randn([3, 4], f64), 3));
      const y = leaf(rand([3, 4], f64));
      const weight = add(rand([4], f64), 0.5);
      const posWeight = add(rand([4], f64), 0.5);
      expect(gradcheck((p, y) => F.binaryCrossEntropy(p, y, { reduction, weight }), [p, y])).toBe(true);
      expect(gradcheck((z, y) => F.binaryCrossEntropyWithLogits(z, y, { reduction, weight, posWeight }), [z, y])).toBe(true);
    });
  }
  for (const reduction of [...reductions, 'batchmean'] as const) {
    it(`klDiv ${reduction}`, () => {
      const x = leaf(F.logSoftmax(randn([3, 4], f64), 1).detach());
      const y = leaf(add(rand([3, 4], f64), 0.05).detach());
      expect(gradcheck((x, y) => F.klDiv(x, y, { reduction }), [x, y])).toBe(true);
      expect(gradcheck((x, y) => F.klDiv(x, y, { reduction, logTarget: true }), [x, y])).toBe(true);
    });
  }
  it('softmax and logSoftmax', () => {
    const x = leaf(randn([2, 3, 4], f64));
    expect(gradcheck((x) => F.softmax(x, 1), [x])).toBe(true);
    expect(gradcheck((x) => F.logSoftmax(x, -1), [x])).toBe(true);
  });
  it('crossEntropy on a non-contiguous (transposed) input', () => {
    const base = leaf(randn([5, 3], f64));
    const target = tensor([4, 0, 2], { dtype: 'int32' });
    expect(gradcheck((b) => F.crossEntropy(b.T, target, { labelSmoothing: 0.2 }), [base])).toBe(true);
  });
});
