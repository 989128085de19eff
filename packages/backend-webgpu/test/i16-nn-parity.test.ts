// Parity of issue 16's nn ops on WebGPU against the CPU backend, on seeded random inputs of
// several shapes: the activation kernels and convTranspose2d (kernels of their own), and the
// composites built on core ops (conv1d, groupNorm, adaptiveAvgPool2d, interpolate, normalize,
// cosineSimilarity). Outputs, then the gradients of every differentiable input through backward
// with one random upstream gradient. Tolerances as nn-parity.test.ts's.
import { beforeEach, expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { gradParity, openDevice } from './helpers.js';

const { gpuDescribe } = await openDevice();
const F = nn.functional;

beforeEach(() => tg.manualSeed(16));

gpuDescribe('activations', () => {
  // values on both sides of every kink, very negative and very large ones, and a NaN
  const special = tg.tensor([-200, -60, -30, -20.5, -5, -3, -2.5, -1e-4, -1e-7, 0, 1e-7, 1e-4, 2.5, 3, 5, 20.5, 30, 90, NaN]);
  const cases: Record<string, (x: tg.Tensor) => tg.Tensor> = {
    silu: (x) => F.silu(x),
    leakyRelu: (x) => F.leakyRelu(x, 0.2),
    elu: (x) => F.elu(x, 0.7),
    softplus: (x) => F.softplus(x),
    'softplus beta=2 threshold=5': (x) => F.softplus(x, { beta: 2, threshold: 5 }),
    mish: (x) => F.mish(x),
    hardswish: (x) => F.hardswish(x),
  };
  for (const [name, f] of Object.entries(cases)) {
    it(`${name}: random shapes, special values, a strided view`, async () => {
      for (const shape of [[7], [3, 70], [2, 3, 4, 5]]) await gradParity(`${name} ${JSON.stringify(shape)}`, f, [tg.randn(shape).mul(4)], [0]);
      await gradParity(`${name} special values`, f, [special], [0]);
      await gradParity(`${name} transposed`, (x) => f(x.transpose(0, 1)), [tg.randn([6, 9]).mul(4)], [0]);
    });
  }
});

gpuDescribe('convTranspose2d', () => {
  const configs: [string, number[], number[], nn.ConvTranspose2dOptions][] = [
    ['basic', [2, 3, 4, 5], [3, 4, 3, 3], {}],
    ['stride 2, padding, outputPadding, groups', [2, 4, 3, 4], [4, 3, 3, 3], { stride: 2, padding: 1, outputPadding: 1, groups: 2 }],
    ['asymmetric, dilation', [1, 2, 3, 4], [2, 3, 2, 3], { stride: [2, 1], padding: [0, 1], dilation: [1, 2] }],
    ['outputPadding below the dilation', [1, 2, 4, 4], [2, 2, 3, 3], { dilation: 2, outputPadding: 1 }],
  ];
  for (const [what, x, w, options] of configs) {
    it(what, async () => {
      await gradParity(`convTranspose2d ${what}`, (x, w, b) => F.convTranspose2d(x!, w!, b, options), [tg.randn(x), tg.randn(w), tg.randn([w[1]! * (options.groups ?? 1)])], [0, 1, 2]);
    });
  }
});

gpuDescribe('composite layers', () => {
  it('conv1d, groupNorm, adaptiveAvgPool2d', async () => {
    await gradParity('conv1d', (x, w, b) => F.conv1d(x!, w!, b, { stride: 2, padding: 1, groups: 2 }), [tg.randn([2, 4, 9]), tg.randn([6, 2, 3]), tg.randn([6])], [0, 1, 2]);
    await gradParity('groupNorm', (x, w, b) => F.groupNorm(x!, 2, w, b), [tg.randn([3, 6, 4, 5]), tg.randn([6]), tg.randn([6])], [0, 1, 2]);
    await gradParity('adaptiveAvgPool2d overlapping bins', (x) => F.adaptiveAvgPool2d(x!, [3, 2]), [tg.randn([2, 2, 7, 5])], [0]);
    await gradParity('adaptiveAvgPool2d dividing bins', (x) => F.adaptiveAvgPool2d(x!, 1), [tg.randn([2, 3, 4, 6])], [0]);
  });
  it('interpolate: nearest and bilinear', async () => {
    const x = tg.randn([2, 3, 4, 5]);
    await gradParity('interpolate nearest', (x) => F.interpolate(x!, { scaleFactor: 1.5 }), [x], [0]);
    await gradParity('interpolate bilinear', (x) => F.interpolate(x!, { size: [7, 3], mode: 'bilinear' }), [x], [0]);
    await gradParity('interpolate bilinear alignCorners', (x) => F.interpolate(x!, { scaleFactor: 2, mode: 'bilinear', alignCorners: true }), [x], [0]);
  });
  it('normalize and cosineSimilarity', async () => {
    const x = tg.randn([4, 5]);
    await gradParity('normalize', (x) => F.normalize(x!), [x], [0]);
    await gradParity('normalize p=3', (x) => F.normalize(x!, { p: 3, dim: 0 }), [x], [0]);
    await gradParity('cosineSimilarity', (a, b) => F.cosineSimilarity(a!, b!, -1), [tg.randn([3, 1, 5]), tg.randn([4, 5])], [0, 1]);
  });
  it('oneHot with numClasses -1 needs a synchronous read: a clear error on WebGPU', () => {
    const idx = tg.tensor([1, 0, 2], { dtype: 'int32' }).to('webgpu');
    expect(() => F.oneHot(idx)).toThrow(/oneHot: numClasses -1 \(the default\) reads the indices .* 'webgpu' cannot do synchronously; pass numClasses/);
    expect(F.oneHot(idx, 3).shape).toEqual([3, 3]);
  });
});
