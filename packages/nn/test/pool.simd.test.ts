import { afterAll, describe, expect, it } from 'vitest';
import '@tapegrad/autograd';
import { cpuKernelInfo, setCpuKernelOptions } from '@tapegrad/backend-cpu';
import { manualSeed, mul, randn, sum, tensor } from '@tapegrad/tensor';
import { maxPool2dWithIndices } from '../src/index.js';

// float32 max-pooling over 2x2 windows at stride 2 runs on the CPU backend's WebAssembly kernels
// (wasm/pool.wat) where storage lives in the WebAssembly memory: values, indices and the input
// gradient must equal the TypeScript path's exactly, NaN and ties included.
afterAll(() => setCpuKernelOptions({ simd: 'auto' }));

function poolAndGrad(shape: number[], special: boolean, simd: 'off' | 'simd'): number[][] {
  setCpuKernelOptions({ simd });
  manualSeed(5);
  let data = Array.from(randn(shape).dataSync());
  // rounded values tie often; NaN and ±inf test the scan rule
  if (special) data = data.map((v, i) => (i % 7 === 3 ? NaN : i % 11 === 5 ? Infinity : i % 13 === 2 ? -Infinity : Math.round(v)));
  const x = tensor(data, { dtype: 'float32' }).reshape(shape).requiresGrad_();
  const calls = cpuKernelInfo().wasmKernelCalls;
  const [o, idx] = maxPool2dWithIndices(x, 2);
  sum(mul(o, randn(o.shape))).backward();
  // wasm/pool.wat ran forward and backward exactly when WebAssembly is on, on storage in its
  // memory (which needs SharedArrayBuffer)
  expect(cpuKernelInfo().wasmKernelCalls - calls).toBe(simd === 'off' || !cpuKernelInfo().sharedMemoryAvailable ? 0 : 2);
  return [o, idx, x.grad!].map((t) => Array.from(t.dataSync()));
}

describe('maxPool2d 2x2 on the WebAssembly kernels', () => {
  // widths give 1, 3, 4 and 9 windows a row (the kernel does four at a time, then one by one);
  // odd heights and widths leave a row or column out, as torch does
  it.each([[2, 3, 4, 9], [3, 2, 7, 2], [1, 5, 8, 8], [4, 8, 28, 28], [2, 2, 9, 19]])('matches the TypeScript path: %j', (...shape) => {
    for (const special of [false, true]) {
      const ts = poolAndGrad(shape, special, 'off');
      const wasm = poolAndGrad(shape, special, 'simd');
      // toEqual takes NaN as equal to NaN
      wasm.forEach((got, i) => expect(got).toEqual(ts[i]));
    }
  });
});
