import { afterAll, describe, expect, it } from 'vitest';
import { cpuKernelInfo, setCpuKernelOptions, type CpuKernelOptions } from '@tapegrad/backend-cpu';
import * as tg from '../src/index.js';

// A small MLP trained a few steps on each CPU path. With storage in the WebAssembly memory the
// kernels work in place; without shared memory (a browser page without cross-origin isolation)
// the same WebAssembly kernels run on staged copies and the elementwise ops and optimizer on
// TypeScript loops that promise the same bits; with WebAssembly off everything is TypeScript.
const initial = cpuKernelInfo();
afterAll(() => setCpuKernelOptions({ simd: 'auto', threads: 'auto', sharedMemory: initial.sharedMemory }));

function train(opts: CpuKernelOptions, optimizer: 'sgd' | 'adam', steps = 4): { losses: number[]; params: number[][]; pooled: number[]; bytes: number[] } {
  setCpuKernelOptions({ threads: 1, ...opts });
  tg.manualSeed(5);
  const model = new tg.nn.Sequential(new tg.nn.Linear(37, 24), new tg.nn.ReLU(), new tg.nn.Linear(24, 5));
  const x = tg.randn([16, 37]);
  const y = tg.randint(0, 5, [16]);
  const opt = optimizer === 'sgd' ? new tg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }) : new tg.optim.Adam(model.parameters(), { lr: 0.01 });
  const losses: number[] = [], pooled: number[] = [], bytes: number[] = [];
  for (let i = 0; i < steps; i++) {
    losses.push(tg.tidy(() => {
      const loss = tg.nn.functional.crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      return loss.itemSync();
    }));
    pooled.push(tg.memory().devices.cpu!.pooledBytes ?? 0);
    bytes.push(tg.memory().bytes);
  }
  const params = model.parameters().map((p) => Array.from(p.dataSync()));
  model.dispose();
  return { losses, params, pooled, bytes };
}

describe('CPU paths train an MLP alike', () => {
  for (const optimizer of ['sgd', 'adam'] as const) {
    it(`${optimizer}: WebAssembly memory and staged copies give the same bits; TypeScript is close`, () => {
      const inMemory = train({ simd: 'simd', sharedMemory: true }, optimizer);
      const staged = train({ simd: 'simd', sharedMemory: false }, optimizer);
      const typescript = train({ simd: 'off' }, optimizer);
      expect(inMemory.losses).toEqual(staged.losses);
      expect(inMemory.params).toEqual(staged.params);
      expect(inMemory.losses[3]).toBeLessThan(inMemory.losses[0]!);
      inMemory.losses.forEach((l, i) => expect(Math.abs(l - typescript.losses[i]!)).toBeLessThan(1e-5));
      // after the first step every allocation is served from freed storage: nothing grows
      for (const run of [inMemory, staged]) {
        expect(new Set(run.bytes.slice(1)).size).toBe(1);
        expect(new Set(run.pooled.slice(1)).size).toBe(1);
      }
    });
  }
});
