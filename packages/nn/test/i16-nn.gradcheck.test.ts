// Finite differences (float64, on the CPU) against the analytical gradients of issue 16's ops:
// the activations' and convTranspose2d's backward kernels, and the composites' gradients.
import './helpers.js';
import { gradcheck } from '@tapegrad/autograd';
import { tensor, type Tensor } from '@tapegrad/tensor';
import { describe, expect, it } from 'vitest';
import { functional as F } from '../src/index.js';
import { rnd } from './helpers.js';

// inputs away from the kinks (finite differences straddling one measure neither side), spread
// over [-6, 6], so every branch is taken: below -3, between, above 3 (hardswish), above the
// softplus threshold
const spread = (seed: number) => rnd([4, 6], seed).mul(6).detach().requiresGrad_();

describe('gradcheck of the activation kernels', () => {
  const cases: Record<string, (x: Tensor) => Tensor> = {
    silu: (x) => F.silu(x),
    leakyRelu: (x) => F.leakyRelu(x, 0.2),
    elu: (x) => F.elu(x, 0.7),
    softplus: (x) => F.softplus(x),
    'softplus beta=2 threshold=3': (x) => F.softplus(x, { beta: 2, threshold: 3 }),
    'softplus beta=-1': (x) => F.softplus(x, { beta: -1 }),
    mish: (x) => F.mish(x),
    hardswish: (x) => F.hardswish(x),
  };
  for (const [name, f] of Object.entries(cases)) {
    it(name, () => {
      const x = spread(3);
      const near = Array.from(x.dataSync()).filter((v) => [0, 3, -3, 1.5, -1.5].some((k) => Math.abs(v - k) < 1e-3));
      expect(near, 'an input sits on a kink').toEqual([]);
      expect(gradcheck(f, [x])).toBe(true);
    });
  }
});

describe('gradcheck of the layers', () => {
  it('convTranspose2d: stride, padding, outputPadding, dilation, groups and bias', () => {
    expect(gradcheck((x, w, b) => F.convTranspose2d(x!, w!, b, { stride: [2, 1], padding: [1, 0], outputPadding: [1, 0], dilation: [1, 2], groups: 2 }),
      [rnd([2, 4, 3, 3], 1), rnd([4, 1, 3, 2], 2), rnd([2], 3)])).toBe(true);
    // an outputPadding at least the stride (allowed below the dilation): rows no input row reaches
    expect(gradcheck((x, w) => F.convTranspose2d(x!, w!, null, { dilation: 2, outputPadding: 1 }), [rnd([1, 2, 3, 3], 4), rnd([2, 3, 2, 2], 5)])).toBe(true);
  });
  it('conv1d', () => {
    expect(gradcheck((x, w, b) => F.conv1d(x!, w!, b, { stride: 2, padding: 1, dilation: 2, groups: 2 }), [rnd([2, 4, 9], 1), rnd([6, 2, 3], 2), rnd([6], 3)])).toBe(true);
  });
  it('groupNorm', () => {
    expect(gradcheck((x, w, b) => F.groupNorm(x!, 2, w, b), [rnd([2, 4, 3], 1), rnd([4], 2), rnd([4], 3)])).toBe(true);
  });
  it('adaptiveAvgPool2d, bins that divide and bins that overlap', () => {
    expect(gradcheck((x) => F.adaptiveAvgPool2d(x!, [3, 2]), [rnd([1, 2, 7, 5], 1)])).toBe(true);
    expect(gradcheck((x) => F.adaptiveAvgPool2d(x!, [2, 5]), [rnd([1, 2, 4, 5], 2)])).toBe(true);
  });
  it('interpolate: nearest, linear, bilinear with and without alignCorners', () => {
    const x = rnd([1, 2, 3, 4], 1);
    expect(gradcheck((x) => F.interpolate(x!, { scaleFactor: 1.5 }), [x])).toBe(true);
    expect(gradcheck((x) => F.interpolate(x!, { size: [5, 7], mode: 'bilinear' }), [x])).toBe(true);
    expect(gradcheck((x) => F.interpolate(x!, { size: [2, 6], mode: 'bilinear', alignCorners: true }), [x])).toBe(true);
    expect(gradcheck((x) => F.interpolate(x!, { scaleFactor: 2.2, mode: 'linear' }), [rnd([2, 1, 4], 2)])).toBe(true);
  });
  it('normalize (p = 1, 2, 3, Infinity) and cosineSimilarity (broadcast)', () => {
    for (const p of [1, 2, 3, Infinity]) expect(gradcheck((x) => F.normalize(x!, { p, dim: -1 }), [rnd([3, 4], p === Infinity ? 9 : p)])).toBe(true);
    expect(gradcheck((a, b) => F.cosineSimilarity(a!, b!, -1), [rnd([3, 1, 5], 1), rnd([4, 5], 2)])).toBe(true);
  });
  it('normalize and cosineSimilarity give zero vectors zero gradients, not NaN', () => {
    const z = tensor([[0, 0, 0], [1, 2, 2]], { dtype: 'float64', requiresGrad: true });
    F.normalize(z).sum().backward();
    expect(Array.from(z.grad!.dataSync()).every(Number.isFinite)).toBe(true);
    expect(Array.from(z.grad!.dataSync()).slice(0, 3)).toEqual([1e12, 1e12, 1e12]); // PyTorch's: 1/eps, the norm clamped
  });
});
