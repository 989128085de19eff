import { afterAll, describe, expect, it } from 'vitest';
import '@tapegrad/autograd';
import { setCpuKernelOptions } from '@tapegrad/backend-cpu';
import { manualSeed, mul, randn, sum, type Tensor } from '@tapegrad/tensor';
import { conv2d } from '../src/index.js';

// float32 conv2d runs its im2col products on the CPU backend's WebAssembly SIMD kernel (the
// PyTorch-value tests run in float64, on the TypeScript path): forward and both gradients must
// agree with the TypeScript path, on one thread and on two.
afterAll(() => setCpuKernelOptions({ simd: 'auto', threads: 'auto', parallelMinFlops: 1 << 21 }));

function convAndGrads(opts: Parameters<typeof setCpuKernelOptions>[0]): Float32Array[] {
  setCpuKernelOptions(opts);
  manualSeed(21);
  const x = randn([5, 4, 9, 7]).requiresGrad_();
  const w = randn([6, 2, 3, 2]).requiresGrad_();
  const b = randn([6]).requiresGrad_();
  const out = conv2d(x, w, b, { stride: [2, 1], padding: [1, 1], dilation: [1, 2], groups: 2 });
  sum(mul(out, randn(out.shape))).backward();
  return [out, x.grad!, w.grad!, b.grad!].map((t: Tensor) => t.dataSync().slice() as Float32Array);
}

describe('conv2d float32 on the WebAssembly kernels', () => {
  it('matches the TypeScript path, forward and gradients, 1 and 2 threads', () => {
    const ts = convAndGrads({ simd: 'off', threads: 1 });
    for (const opts of [{ simd: 'simd', threads: 1 }, { simd: 'auto', threads: 2, parallelMinFlops: 0 }] as const) {
      const got = convAndGrads(opts);
      got.forEach((g, i) => {
        expect(g.length).toBe(ts[i]!.length);
        for (let j = 0; j < g.length; j++) expect(Math.abs(g[j]! - ts[i]![j]!)).toBeLessThan(1e-4 * (1 + Math.abs(ts[i]![j]!)));
      });
    }
  });
});
