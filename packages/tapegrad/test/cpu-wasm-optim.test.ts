import { afterAll, describe, expect, it } from 'vitest';
import { cpuKernelInfo, setCpuKernelOptions } from '@tapegrad/backend-cpu';
import * as tg from '../src/index.js';

// The fused SGD and Adam steps on float32 parameters that live in the CPU backend's WebAssembly memory runs
// as a SIMD kernel (backend-cpu wasm/elementwise.wat) that promises the very bits of the
// JavaScript kernel, which runs on parameters held in plain typed arrays (no shared memory).
const initial = cpuKernelInfo();
// (skipped in the suite's no-sab project: without SharedArrayBuffer no storage lives in the memory)
const SHARED = initial.sharedMemoryAvailable;
afterAll(() => setCpuKernelOptions({ simd: 'auto', sharedMemory: initial.sharedMemory }));

type Make = (params: tg.Tensor[]) => tg.optim.Optimizer<{ lr: number }>;
function train(shared: boolean, make: Make, n: number): number[] {
  setCpuKernelOptions({ simd: 'simd', sharedMemory: shared });
  tg.manualSeed(21);
  const w = tg.randn([n]).requiresGrad_();
  const inMemory = (w.kernelView().handle as Float32Array).buffer instanceof SharedArrayBuffer;
  expect(inMemory).toBe(shared);
  const opt = make([w]);
  const target = tg.randn([n]);
  for (let step = 0; step < 3; step++) {
    opt.zeroGrad();
    tg.tidy(() => w.sub(target).square().mul(tg.randn([n])).sum().backward());
    opt.step();
  }
  return Array.from(w.dataSync());
}

describe.skipIf(!SHARED)('SGD step on WebAssembly-resident float32 parameters', () => {
  const options: tg.optim.SGDOptions[] = [
    { lr: 0.1 },
    { lr: 0.1, momentum: 0.9 },
    { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0.01 },
    { lr: 0.05, momentum: 0.9, nesterov: true, maximize: true },
    { lr: 0.2, weightDecay: 0.1, maximize: true },
  ];
  for (const o of options) {
    it(`matches the JavaScript kernel bit for bit: ${JSON.stringify(o)}`, () => {
      for (const n of [1, 2, 7, 64, 1001]) {
        const make: Make = (ps) => new tg.optim.SGD(ps, o);
        const wasm = train(true, make, n), js = train(false, make, n);
        expect(wasm, `n=${n}`).toEqual(js);
        expect(wasm.every(Number.isFinite)).toBe(true);
      }
    });
  }
});

describe.skipIf(!SHARED)('Adam step on WebAssembly-resident float32 parameters', () => {
  const cases: [string, Make][] = [
    ['Adam', (ps) => new tg.optim.Adam(ps, { lr: 0.01 })],
    ['Adam, weight decay, maximize', (ps) => new tg.optim.Adam(ps, { lr: 0.02, weightDecay: 0.05, maximize: true })],
    ['Adam, amsgrad', (ps) => new tg.optim.Adam(ps, { lr: 0.01, amsgrad: true, betas: [0.8, 0.99] })],
    ['AdamW, amsgrad', (ps) => new tg.optim.AdamW(ps, { lr: 0.01, weightDecay: 0.1, amsgrad: true })],
  ];
  for (const [name, make] of cases) {
    it(`matches the JavaScript kernel bit for bit: ${name}`, () => {
      for (const n of [1, 2, 7, 64, 1001]) {
        const wasm = train(true, make, n), js = train(false, make, n);
        expect(wasm, `n=${n}`).toEqual(js);
        expect(wasm.every(Number.isFinite)).toBe(true);
      }
    });
  }
});
