import { afterAll, describe, expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { getKernel, type ClassLossAttrs, type DType, type TypedArray } from '@tapegrad/tensor';
import { cpuKernelInfo, cpuWorkersReady, setCpuKernelOptions, terminateCpuWorkers, type CpuKernel, type CpuView } from '../src/index.js';
import { wasmAlloc } from '../src/wasm/runtime.js';

// The fused cross-entropy's two paths: wasm/loss.wat's row passes on float32 logits in the
// WebAssembly memory, the TypeScript loops on arrays elsewhere. Both promise the same bits, so
// the kernels run here on the same values in both places and every output is compared exactly.
// (Its values against PyTorch: @tapegrad/nn's losses tests, which run on the default path.)
const forward = getKernel('crossEntropy', 'cpu') as CpuKernel<ClassLossAttrs>;
const backward = getKernel('crossEntropyBackward', 'cpu') as CpuKernel<ClassLossAttrs>;

function view(dtype: DType, values: ArrayLike<number>, shape: number[], inMemory: boolean, strides?: number[]): CpuView {
  let handle: TypedArray;
  if (dtype === 'int32') handle = Int32Array.from(values);
  else if (dtype === 'float64') handle = Float64Array.from(values);
  else {
    // (no memory without SharedArrayBuffer: the heap, as the backend would place it)
    handle = ((inMemory && wasmAlloc('float32', Math.max(values.length, 1))) || new Float32Array(Math.max(values.length, 1))) as Float32Array;
    handle.set(values);
  }
  const st = strides ?? shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
  return { handle, dtype, shape, strides: st, offset: 0 };
}
const zeros = (dtype: DType, shape: number[], inMemory: boolean) => view(dtype, new Array(shape.reduce((p, d) => p * d, 1)).fill(0), shape, inMemory);

interface Case {
  name: string;
  logits: number[];
  shape: number[];
  targets: number[];
  attrs: ClassLossAttrs;
  weight?: number[];
  upstream?: number[];
  strides?: number[];
}

/**
 * Forward then backward on one path; every output as plain numbers (with `save`, the forward's
 * exps last, which the backward reads). The gradient's and the exps' storage starts as NaN (the
 * kernels write all of it).
 */
function run(c: Case, inMemory: boolean, dtype: DType = 'float32', save = false): number[][] {
  const x = view(dtype, c.logits, c.shape, inMemory, c.strides);
  const t = view('int32', c.targets, [c.targets.length], false);
  const w = c.weight ? view(dtype, c.weight, [c.weight.length], inMemory) : undefined;
  const P = c.targets.length;
  const C = c.shape[c.shape.length === 1 ? 0 : 1]!;
  const a = save ? { ...c.attrs, saveExps: true } : c.attrs;
  const lossShape = c.attrs.reduction === 'none' ? [P] : [];
  const [out, stats, total] = [zeros(dtype, lossShape, inMemory), zeros(dtype, [P, 2], inMemory), zeros(dtype, [], inMemory)];
  const exps = save ? [view(dtype, new Array(P * C).fill(NaN), c.shape.length === 1 ? [C] : [P, C], inMemory)] : [];
  forward(w ? [x, t, w] : [x, t], [out, stats, total, ...exps], a, 'crossEntropy');
  const g = view(dtype, c.upstream ?? [0.75], c.attrs.reduction === 'none' ? [P] : [], inMemory);
  const gx = view(dtype, new Array(c.shape.reduce((p, d) => p * d, 1)).fill(NaN), c.shape, inMemory);
  backward([x, t, stats, total, g, ...(w ? [w] : []), ...exps], [gx], a, 'crossEntropyBackward');
  const n = (v: CpuView) => Array.from(v.handle.subarray(0, Math.max(1, v.shape.reduce((p, d) => p * d, 1))));
  return [n(out), n(stats), n(total), n(gx), ...exps.map(n)];
}

tg.manualSeed(11);
const randn = (n: number, scale: number) => Array.from(tg.randn([n]).dataSync(), (v) => v * scale);
const randint = (n: number, C: number) => Array.from(tg.randint(0, C, [n]).dataSync());
const attrs = (reduction: ClassLossAttrs['reduction'], labelSmoothing = 0, ignoreIndex = -100): ClassLossAttrs => ({ reduction, labelSmoothing, ignoreIndex });

const wide = randn(33 * 1000, 50);
wide[5] = -Infinity;
for (let c = 0; c < 1000; c++) wide[2000 + c] = c === 7 ? 1e4 : -1e4; // row 2: one huge logit
const wideTargets = randint(33, 1000);
wideTargets[4] = -100;
wideTargets[9] = -100;

const cases: Case[] = [
  { name: 'an MNIST batch: 64x10, mean', logits: randn(640, 3), shape: [64, 10], targets: randint(64, 10), attrs: attrs('mean') },
  { name: '33x1000 with ignored targets, class weights, smoothing, none', logits: wide, shape: [33, 1000], targets: wideTargets, attrs: attrs('none', 0.1), weight: randn(1000, 1).map(Math.abs), upstream: randn(33, 2) },
  { name: 'one position (a 1-d input), sum, smoothing', logits: randn(9, 4), shape: [9], targets: [3], attrs: attrs('sum', 0.2) },
  // an all -inf row (loss inf), a NaN row, and exp arguments below -708 (Math.exp's range)
  { name: 'non-finite rows and exp below -708', logits: [-Infinity, -Infinity, -Infinity, 1, NaN, 2, 0, -720, -730], shape: [3, 3], targets: [0, 2, 1], attrs: attrs('mean'), upstream: [3e38] },
  { name: 'all targets ignored, mean (0/0)', logits: randn(12, 1), shape: [4, 3], targets: [7, 7, 7, 7], attrs: attrs('mean', 0, 7) },
  // exp arguments on both sides of the float32 exp's fast range [-87, 88] in one group of four
  // lanes, rows of 11 (a tail of 3), maxima of several sizes
  {
    name: 'rows across the edges of the float32 exp range, smoothing',
    logits: [10, -1e4, 3000].flatMap((m) => [0, 86.99, 87, 87.01, 87.4, 88, 90, 103.9, 104, 150, 0.25].map((d) => m - d)),
    shape: [3, 11],
    targets: [1, 0, 10],
    attrs: attrs('mean', 0.1),
  },
  // the forward skips the lanes' range test where a row's least logit is within 87 of its max:
  // rows exactly at that edge, just past it, with a NaN among logits in range, and at 1e4
  {
    name: "rows whose least logit is just inside or outside the exp range of the row's max",
    logits: [
      ...[0, 87, 1, 2, 3, 4, 5, 6, 7].map((d) => 5 - d),
      ...[0, 87.00001, 1, 2, 3, 4, 5, 6, 7].map((d) => 5 - d),
      NaN, 1, 2, 3, -80, 0, 0, 0, 0,
      ...[0, 86.5, 1, 2, 3, 40, 5, 6, 7].map((d) => 1e4 - d),
    ],
    shape: [4, 9],
    targets: [1, 1, 4, 8],
    attrs: attrs('none', 0.1),
    upstream: [1, 2, 3, 4],
  },
  { name: 'no positions', logits: [], shape: [0, 5], targets: [], attrs: attrs('sum') },
];

// (storage in the WebAssembly memory needs SharedArrayBuffer: without it, only the TypeScript loops run)
describe.skipIf(!cpuKernelInfo().sharedMemoryAvailable)('crossEntropy kernels: WebAssembly row passes and TypeScript loops give the same bits', () => {
  for (const c of cases) {
    it(c.name, () => {
      const before = cpuKernelInfo().wasmKernelCalls;
      const wasm = run(c, true);
      const passes = cpuKernelInfo().wasmKernelCalls - before; // the forward's and the backward's
      const js = run(c, false);
      expect(cpuKernelInfo().wasmKernelCalls - before).toBe(passes); // arrays on the heap: no WebAssembly
      expect(passes).toBe(c.targets.length ? 2 : 0);
      expect(wasm).toEqual(js);
      expect(wasm[3]!.some((v) => v !== 0) || c.targets.length === 0 || c.attrs.ignoreIndex === 7).toBe(true);
      // an ignored position's gradient row is written as zeros
      const C = c.shape[c.shape.length === 1 ? 0 : 1]!;
      c.targets.forEach((y, p) => {
        if (y === c.attrs.ignoreIndex) expect(wasm[3]!.slice(p * C, (p + 1) * C).every((v) => v === 0), `row ${p}`).toBe(true);
      });
    });
  }

  // saveExps: the forward writes its exps and the backward scales them (ce_scale), no exp
  for (const c of cases) {
    it(`${c.name}, with the forward's exps saved`, () => {
      const before = cpuKernelInfo().wasmKernelCalls;
      const wasm = run(c, true, 'float32', true);
      expect(cpuKernelInfo().wasmKernelCalls - before).toBe(c.targets.length ? 2 : 0);
      const js = run(c, false, 'float32', true);
      expect(cpuKernelInfo().wasmKernelCalls - before).toBe(c.targets.length ? 2 : 0);
      expect(wasm).toEqual(js);
      // the forward's other outputs are those it gives without saving
      const plain = run(c, true);
      expect(wasm.slice(0, 3)).toEqual(plain.slice(0, 3));
      // the gradient from the saved exps is the recomputed one within float32 rounding: each
      // softmax off by a few ulps and 2^-24·|x - max| relatively (x - max rounded, as PyTorch's log-softmax)
      if (c.targets.length === 0) return;
      const C = c.shape[c.shape.length === 1 ? 0 : 1]!;
      const scale = Math.max(...plain[3]!.filter(Number.isFinite).map(Math.abs), 0);
      wasm[3]!.forEach((v, i) => {
        const want = plain[3]![i]!;
        if (!Number.isFinite(want)) return expect(v, `element ${i}`).toEqual(want);
        const spread = Math.abs(c.logits[i]! - Math.max(...c.logits.slice(i - (i % C), i - (i % C) + C).filter((l) => !Number.isNaN(l))));
        expect(Math.abs(v - want), `element ${i}: ${v}, recomputed ${want}`).toBeLessThanOrEqual(2 ** -21 * Math.abs(want) * (1 + spread) + 2 ** -23 * scale);
      });
    });
  }

  it('strided logits and float64 take the TypeScript loops, with the same values', () => {
    const c = cases[0]!;
    // the same logits as a transposed view of their (10, 64) transpose
    const tr: number[] = [];
    for (let k = 0; k < 10; k++) for (let n = 0; n < 64; n++) tr.push(c.logits[n * 10 + k]!);
    const before = cpuKernelInfo().wasmKernelCalls;
    const strided = run({ ...c, logits: tr, strides: [1, 64] }, true);
    expect(cpuKernelInfo().wasmKernelCalls).toBe(before);
    const dense = run(c, true);
    expect(strided.slice(0, 3)).toEqual(dense.slice(0, 3));
    const f64 = run(c, true, 'float64');
    expect(cpuKernelInfo().wasmKernelCalls).toBe(before + 2);
    f64.forEach((a, i) => a.forEach((v, j) => expect(Math.abs(v - dense[i]![j]!)).toBeLessThan(1e-5)));
    // and with the forward's exps saved: the strided forward in TypeScript, its backward (which
    // reads the contiguous exps, not the logits) in WebAssembly; float64 in TypeScript
    const at = cpuKernelInfo().wasmKernelCalls;
    const savedStrided = run({ ...c, logits: tr, strides: [1, 64] }, true, 'float32', true);
    const savedF64 = run(c, true, 'float64', true);
    expect(cpuKernelInfo().wasmKernelCalls).toBe(at + 1);
    expect(savedStrided).toEqual(run(c, true, 'float32', true));
    savedF64.slice(0, 4).forEach((a, i) => a.forEach((v, j) => expect(Math.abs(v - f64[i]![j]!)).toBeLessThan(1e-12)));
  });

  it('an out-of-range target is an error on the WebAssembly path too', () => {
    const c: Case = { name: '', logits: randn(20, 1), shape: [4, 5], targets: [0, 5, 1, 2], attrs: attrs('mean') };
    expect(() => run(c, true)).toThrow(/crossEntropy.*5.*\[0, 5\)|crossEntropy.*out of bounds/);
  });
});

// Large row passes are cut into blocks of rows that the worker threads share. Each row is
// computed as on one thread and the losses are summed in TypeScript in position order, so the
// outputs must be the same bits whatever the thread count and whoever took which block. Without
// SharedArrayBuffer (the no-sab project) there are no workers: a request for two runs the
// TypeScript loops on one thread, which must still give the one-thread results.
describe('crossEntropy kernels on worker threads', () => {
  const initial = cpuKernelInfo();
  const SHARED = initial.sharedMemoryAvailable;
  afterAll(() => {
    setCpuKernelOptions({ threads: 'auto', parallelMinFlops: initial.parallelMinFlops });
    terminateCpuWorkers();
  });
  /** Where two runs' outputs first differ (Object.is: NaN is NaN, -0 is not +0), or '' (a diff of a million numbers would take the test runner minutes). */
  const firstDifference = (a: number[][], b: number[][]): string => {
    for (let i = 0; i < a.length; i++) {
      if (a[i]!.length !== b[i]!.length) return `output ${i}: ${a[i]!.length} against ${b[i]!.length} elements`;
      const j = a[i]!.findIndex((v, k) => !Object.is(v, b[i]![k]));
      if (j >= 0) return `output ${i}[${j}]: ${a[i]![j]} against ${b[i]![j]}`;
    }
    return '';
  };
  /** Outputs with every pass on one thread, then cut across two threads down to the smallest pass. */
  const oneAndTwo = (c: Case, save = false): [number[][], number[][]] => {
    setCpuKernelOptions({ parallelMinFlops: Infinity });
    const one = run(c, true, 'float32', save);
    setCpuKernelOptions({ parallelMinFlops: 0 });
    return [one, run(c, true, 'float32', save)];
  };

  tg.manualSeed(19);
  const reductions = ['mean', 'sum', 'none'] as const;
  const random: Case[] = [[1, 1], [1, 1000], [2, 3], [3, 10], [7, 37], [64, 10], [129, 100], [300, 33], [1023, 7]].map(([N, C], i) => {
    const targets = randint(N, C);
    for (let p = 0; p < N; p += 3 + (i % 4)) targets[p] = -100; // ignored positions
    const reduction = reductions[i % 3]!;
    return {
      name: `${N}x${C}, ${reduction}`,
      logits: randn(N * C, 1 + 10 * (i % 3)),
      shape: [N, C],
      targets,
      attrs: attrs(reduction, i % 2 ? 0.1 : 0),
      weight: i % 4 >= 2 ? randn(C, 1).map(Math.abs) : undefined,
      upstream: randn(reduction === 'none' ? N : 1, 2),
    };
  });

  it('give the same bits on two threads as on one, over random shapes, ignored targets, smoothing and weights', async () => {
    setCpuKernelOptions({ threads: 2 });
    expect(await cpuWorkersReady()).toBe(SHARED ? 2 : 1);
    for (const c of [...random, ...cases]) {
      for (const save of [false, true]) {
        const [one, two] = oneAndTwo(c, save);
        expect(firstDifference(two, one), `${c.name}${save ? ', exps saved' : ''}`).toBe('');
      }
    }
  });

  it.skipIf(!SHARED)('give the same bits when the workers take blocks of a large pass', async () => {
    setCpuKernelOptions({ threads: 2 });
    expect(await cpuWorkersReady()).toBe(2);
    // 2050 rows of 500: 8 blocks of 256 or 257 rows a pass (ragged: 2050 is not a multiple of 8)
    const N = 2050, C = 500;
    const targets = randint(N, C);
    targets[1000] = -100;
    const c: Case = { name: 'large', logits: randn(N * C, 8), shape: [N, C], targets, attrs: attrs('mean', 0.05), weight: randn(C, 1).map(Math.abs) };
    // a busy machine may deschedule the worker for a whole pass: retry until it took blocks
    let took = false;
    for (let attempt = 0; attempt < 20 && !took; attempt++) {
      const before = cpuKernelInfo().workerBlocks;
      const [one, two] = oneAndTwo(c, attempt % 2 === 1);
      took = cpuKernelInfo().workerBlocks > before;
      expect(firstDifference(two, one)).toBe('');
    }
    expect(took).toBe(true);
  });

  it.skipIf(!SHARED)('start the workers only for passes of at least parallelMinFlops, with the same bits either side', async () => {
    // a fresh engine with no workers yet; kernels never wait for workers to start
    setCpuKernelOptions({ threads: 1 });
    setCpuKernelOptions({ threads: 2, parallelMinFlops: 36 * 64 * 1000 });
    const c = (N: number): Case => ({ name: `${N}x1000`, logits: randn(N * 1000, 4), shape: [N, 1000], targets: randint(N, 1000), attrs: attrs('sum') });
    const below = c(63);
    const belowOut = run(below, true);
    await new Promise((r) => setTimeout(r, 200));
    expect(cpuKernelInfo().threads).toBe(1);
    const at = c(64);
    const atOut = run(at, true);
    const t0 = Date.now();
    while (cpuKernelInfo().threads < 2 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5));
    expect(cpuKernelInfo().threads).toBe(2);
    // and each side's outputs are those of one thread
    setCpuKernelOptions({ parallelMinFlops: Infinity });
    expect(firstDifference(run(below, true), belowOut)).toBe('');
    expect(firstDifference(run(at, true), atOut)).toBe('');
  });
});
