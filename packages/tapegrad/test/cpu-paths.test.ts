import { afterAll, describe, expect, it } from 'vitest';
import { cpuKernelInfo, setCpuKernelOptions, type CpuKernelOptions } from '@tapegrad/backend-cpu';
import * as tg from '../src/index.js';

// A small MLP trained a few steps on each CPU path. With storage in the WebAssembly memory the
// kernels work in place; without shared memory (a browser page without cross-origin isolation)
// the same WebAssembly kernels run on staged copies and the elementwise ops and optimizer on
// TypeScript loops that promise the same bits; with WebAssembly off everything is TypeScript.
const initial = cpuKernelInfo();
// Each comparison below needs both layouts, so the suite's no-sab project (no SharedArrayBuffer,
// hence no storage in the WebAssembly memory) skips them.
const SHARED = initial.sharedMemoryAvailable;
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

describe.skipIf(!SHARED)('CPU paths train an MLP alike', () => {
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

describe.skipIf(!SHARED)('sum over leading dims (a bias gradient) on each CPU path', () => {
  // wasm/elementwise.wat's sum_rows on storage in the memory, the JavaScript column sums on
  // plain arrays: both add each column in double in row order, so they give the same bits
  const sums = (sharedMemory: boolean, shape: number[], lead: number) => {
    setCpuKernelOptions({ simd: 'simd', sharedMemory });
    tg.manualSeed(9);
    const x = tg.randn(shape).mul(100);
    expect((x.kernelView().handle as Float32Array).buffer instanceof SharedArrayBuffer).toBe(sharedMemory);
    return Array.from(x.sum(Array.from({ length: lead }, (_, i) => i)).dataSync());
  };
  for (const [shape, lead] of [[[64, 128], 1], [[3, 5, 13], 1], [[4, 3, 19], 2], [[1, 7], 1], [[0, 9], 1], [[200, 8], 1]] as [number[], number][]) {
    it(`[${shape}] over ${lead} leading dim(s)`, () => {
      const wasm = sums(true, shape, lead), js = sums(false, shape, lead);
      expect(wasm).toEqual(js);
      expect(wasm.length).toBe(shape.slice(lead).reduce((p, d) => p * d, 1));
      if (shape[0]! > 0) expect(wasm.some((v) => v !== 0)).toBe(true);
    });
  }
});

describe.skipIf(!SHARED)('indexSelect of whole rows (DataLoader batches) on each CPU path', () => {
  // rows in the WebAssembly memory are copied by its memory.copy, others by TypedArray.set
  const pick = (sharedMemory: boolean, dtype: 'float32' | 'int32' | 'bool') => {
    setCpuKernelOptions({ simd: 'simd', sharedMemory });
    tg.manualSeed(4);
    const x = tg.randn([50, 3, 5]).mul(10).cast(dtype);
    const rows = [49, 0, 7, 7, 23];
    const got = x.indexSelect(0, tg.tensor(rows, { dtype: 'int32' }));
    const all = Array.from(x.dataSync());
    const want = rows.flatMap((r) => all.slice(r * 15, (r + 1) * 15));
    return { got: Array.from(got.dataSync()), want };
  };
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    it(`${dtype}: the same rows in both layouts`, () => {
      const wasm = pick(true, dtype), js = pick(false, dtype);
      expect(wasm.got).toEqual(wasm.want);
      expect(js.got).toEqual(js.want);
      expect(wasm.got).toEqual(js.got);
    });
  }
});

describe.skipIf(!SHARED)("relu's gradient (reluBackward) on each CPU path", () => {
  // wasm/elementwise.wat's relu_backward masks four lanes at a time; the TypeScript loop picks
  // per element. Both give g where y > 0 and +0 elsewhere, NaN y included.
  const grad = (sharedMemory: boolean, n: number) => {
    setCpuKernelOptions({ simd: 'simd', sharedMemory });
    tg.manualSeed(12);
    const x = tg.randn([n]).requiresGrad_();
    const g = tg.randn([n]);
    const y = tg.relu(x);
    y.backward(g);
    return { dx: Array.from(x.grad!.dataSync()), x: Array.from(x.dataSync()), g: Array.from(g.dataSync()) };
  };
  for (const n of [3, 64, 67, 8192]) {
    it(`${n} elements`, () => {
      const wasm = grad(true, n), js = grad(false, n);
      expect(wasm.dx).toEqual(js.dx);
      expect(wasm.dx).toEqual(wasm.x.map((v, i) => (v > 0 ? wasm.g[i]! : 0)));
      expect(wasm.dx.some((v) => v !== 0) && wasm.dx.some((v) => v === 0)).toBe(true);
    });
  }
  it('NaN and signed zeros', () => {
    for (const sharedMemory of [true, false]) {
      setCpuKernelOptions({ simd: 'simd', sharedMemory });
      const y = tg.tensor(Float32Array.from({ length: 70 }, (_, i) => [NaN, -0, 0, 1, -1, 2][i % 6]!));
      const g = tg.tensor(Float32Array.from({ length: 70 }, (_, i) => [5, NaN, -0, -0, 3, NaN][i % 6]!));
      const dx = Array.from(tg.dispatch('reluBackward', [g, y])[0]!.dataSync());
      expect(dx).toEqual(Array.from({ length: 70 }, (_, i) => [0, 0, 0, -0, 0, NaN][i % 6]!));
    }
  });
  it('names both shapes when they differ', () => {
    expect(() => tg.dispatch('reluBackward', [tg.ones([4]), tg.ones([5])])).toThrow(new tg.ShapeError('reluBackward: gradient [4] and relu output [5] must have one shape'));
  });
});
