import { afterAll, describe, expect, it } from 'vitest';
import '@tapegrad/autograd';
import { cpuKernelInfo, setCpuKernelOptions } from '@tapegrad/backend-cpu';
import { manualSeed, mul, randn, sum, type Tensor } from '@tapegrad/tensor';
import { conv2d } from '../src/index.js';

// float32 conv2d runs its im2col products on the CPU backend's WebAssembly SIMD kernel (the
// PyTorch-value tests run in float64, on the TypeScript path): forward and both gradients must
// agree with the TypeScript path, on one thread and on two.
const initial = cpuKernelInfo();
afterAll(() => setCpuKernelOptions({ simd: 'auto', threads: 'auto', parallelMinFlops: initial.parallelMinFlops }));

interface Case { x: number[]; w: number[]; options: Parameters<typeof conv2d>[3]; bias?: false }
const cases: Record<string, Case> = {
  'strided, dilated, grouped': { x: [5, 4, 9, 7], w: [6, 2, 3, 2], options: { stride: [2, 1], padding: [1, 1], dilation: [1, 2], groups: 2 } },
  // 'same' size at stride 1 (the MNIST CNN's layers): im2col and col2im move whole blocks of rows
  "'same', one input channel": { x: [6, 1, 10, 9], w: [4, 1, 3, 3], options: { padding: 'same' } },
  "'same', dilated": { x: [3, 5, 8, 8], w: [7, 5, 3, 3], options: { padding: 'same', dilation: 2 } },
  // 16 or more output channels and taps: the packed gemm with the WebAssembly re-layouts
  'many channels, strided, odd sizes': { x: [3, 4, 7, 6], w: [17, 4, 3, 3], options: { stride: 2, padding: 1 } },
  '1x1, one sample': { x: [1, 3, 5, 5], w: [6, 3, 1, 1], options: {} },
  // im2col of 576 x 256 entries a sample: the 2^20-entry scratch takes the batch in two chunks
  'two chunks of samples': { x: [9, 64, 16, 16], w: [3, 64, 3, 3], options: { padding: 1 } },
  'no bias, asymmetric padding and stride': { x: [2, 2, 9, 5], w: [5, 2, 2, 3], options: { stride: [1, 3], padding: [1, 2] }, bias: false },
};

function convAndGrads(c: Case, opts: Parameters<typeof setCpuKernelOptions>[0]): Float32Array[] {
  setCpuKernelOptions(opts);
  const calls = cpuKernelInfo().wasmKernelCalls;
  manualSeed(21);
  const x = randn(c.x).requiresGrad_();
  const w = randn(c.w).requiresGrad_();
  const b = c.bias === false ? undefined : randn([c.w[0]!]).requiresGrad_();
  const out = conv2d(x, w, b, c.options);
  sum(mul(out, randn(out.shape))).backward();
  // wasm/conv.wat ran its passes exactly when WebAssembly is on, on storage in its memory (which
  // needs SharedArrayBuffer; without it only the products run in WebAssembly, on staged copies)
  expect(cpuKernelInfo().wasmKernelCalls > calls).toBe(opts.simd !== 'off' && initial.sharedMemoryAvailable);
  return [out, x.grad!, w.grad!, ...(b ? [b.grad!] : [])].map((t: Tensor) => t.dataSync().slice() as Float32Array);
}

describe('conv2d float32 on the WebAssembly kernels', () => {
  it.each(Object.keys(cases))('matches the TypeScript path, forward and gradients, 1 and 2 threads: %s', (name) => {
    const ts = convAndGrads(cases[name]!, { simd: 'off', threads: 1 });
    for (const opts of [{ simd: 'simd', threads: 1 }, { simd: 'auto', threads: 2, parallelMinFlops: 0 }] as const) {
      const got = convAndGrads(cases[name]!, opts);
      got.forEach((g, i) => {
        expect(g.length).toBe(ts[i]!.length);
        // one expect per tensor, naming a failing element (one per element is slow at 150K elements)
        let worst = 0;
        for (let j = 0; j < g.length; j++) if (!(Math.abs(g[j]! - ts[i]![j]!) <= 1e-4 * (1 + Math.abs(ts[i]![j]!)))) worst = j + 1;
        if (worst) expect.fail(`${opts.simd}, ${opts.threads} thread(s): output ${i} [${worst - 1}] is ${g[worst - 1]}, the TypeScript path gives ${ts[i]![worst - 1]}`);
      });
    }
  });
});
