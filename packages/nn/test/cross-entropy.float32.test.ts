import '@tapegrad/backend-cpu';
import { cast, contiguous, expand, manualSeed, mul, permute, randint, randn, tensor, type Tensor } from '@tapegrad/tensor';
import { describe, expect, it } from 'vitest';
import { functional as F } from '../src/index.js';
import { expectClose } from './fixtures.js';

// The fused kernel computes exp with fastExp for float32 tensors and with Math.exp for float64
// ones, whose values the PyTorch fixtures check. Here every option and layout runs in both dtypes
// on the same logits: the float32 results must agree with the float64 ones to float32 precision.

interface Case {
  name: string;
  shape: number[];
  options: Parameters<typeof F.crossEntropy>[2];
  /** A view of the logits with the class dimension strided, rather than contiguous ones. */
  strided?: boolean;
}

function lossAndGrad(x: Tensor, target: Tensor, options: Case['options'], upstream: Tensor): { loss: number[]; grad: number[] } {
  const leaf = x.detach().requiresGrad_();
  const weight = options?.weight && cast(options.weight, x.dtype);
  const loss = F.crossEntropy(leaf, target, { ...options, ...(weight ? { weight } : {}) });
  loss.backward(loss.ndim === 0 ? undefined : cast(upstream, x.dtype));
  return { loss: Array.from(loss.dataSync()), grad: Array.from(leaf.grad!.dataSync()) };
}

describe('fused crossEntropy: float32 (fastExp) agrees with float64 (Math.exp)', () => {
  manualSeed(11);
  const C = 7;
  const weight = tensor(Array.from({ length: C }, (_, c) => 0.25 + c / 4));
  const cases: Case[] = [
    { name: '(N, C) mean', shape: [6, C], options: {} },
    { name: '(N, C) sum, weight', shape: [6, C], options: { reduction: 'sum', weight } },
    { name: '(N, C) none, ignoreIndex', shape: [6, C], options: { reduction: 'none', ignoreIndex: 2 } },
    { name: '(N, C) mean, weight, labelSmoothing, ignoreIndex', shape: [6, C], options: { weight, labelSmoothing: 0.3, ignoreIndex: 0 } },
    { name: '(C) labelSmoothing', shape: [C], options: { labelSmoothing: 0.1 } },
    { name: '(N, C, d1, d2) none, weight, labelSmoothing', shape: [2, C, 3, 2], options: { reduction: 'none', weight, labelSmoothing: 0.2 } },
    { name: '(N, C) strided, mean, weight', shape: [6, C], options: { weight }, strided: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      let x = mul(randn(c.strided ? [c.shape[1]!, c.shape[0]!] : c.shape), 3);
      if (c.strided) x = permute(x, [1, 0]);
      const positions = c.shape.filter((_, d) => d !== (c.shape.length === 1 ? 0 : 1));
      const target = randint(0, C, positions, { dtype: 'int32' });
      const upstream = randn(positions);
      const single = lossAndGrad(x, target, c.options, upstream);
      const double = lossAndGrad(cast(x, 'float64'), target, c.options, upstream);
      expectClose(single.loss, double.loss, `${c.name} loss`, 1e-6, 1e-7);
      expectClose(single.grad, double.grad, `${c.name} gradient`, 1e-6, 1e-7);
    });
  }

  it('an expanded input (class stride 0) gives the loss and gradient of its contiguous copy', () => {
    const column = randn([4, 1]);
    const target = randint(0, 5, [4], { dtype: 'int32' });
    const run = (materialise: boolean, labelSmoothing: number) => {
      const leaf = column.detach().requiresGrad_();
      const x = expand(leaf, [4, 5]);
      const loss = F.crossEntropy(materialise ? contiguous(x) : x, target, { labelSmoothing });
      loss.backward();
      return { loss: loss.itemSync(), grad: Array.from(leaf.grad!.dataSync()) };
    };
    for (const labelSmoothing of [0, 0.1]) {
      const viewed = run(false, labelSmoothing);
      const copied = run(true, labelSmoothing);
      expect(viewed.loss).toBeCloseTo(Math.log(5), 6); // equal logits: log C
      expectClose([viewed.loss], [copied.loss], 'loss', 1e-7, 0);
      expectClose(viewed.grad, copied.grad, 'gradient', 1e-7, 1e-9);
    }
  });
});
