import { setFlagsFromString } from 'node:v8';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { manualSeed, matmul, randn, ValueError, type Tensor } from '@tapegrad/tensor';
import { cpuKernelInfo, cpuWorkersReady, matmulF32, setCpuKernelOptions, terminateCpuWorkers, type CpuKernelOptions } from '../src/index.js';
import { dotProducts, setDotTuning } from '../src/wasm/runtime.js';

// Node 20 ships relaxed SIMD behind a flag; setting it here lets this file test that variant too
// (the runtime re-validates when 'relaxed' is requested). Node 22+ has it on by default.
setFlagsFromString('--experimental-wasm-relaxed-simd');

const initial = cpuKernelInfo();
// Without SharedArrayBuffer (the test suite's no-sab project, as on a page without cross-origin
// isolation) there are no worker threads: a request for two runs on one, with the same results.
const SHARED = initial.sharedMemoryAvailable;
const TWO = SHARED ? 2 : 1;
afterAll(() => {
  setCpuKernelOptions({ simd: 'auto', threads: 'auto', parallelMinFlops: initial.parallelMinFlops, sharedMemory: initial.sharedMemory });
  terminateCpuWorkers();
});

/** A·B in float64 from the tensors' logical (strided) elements. */
function reference(a: Tensor, b: Tensor): Float64Array {
  const [m, k] = a.shape as [number, number];
  const n = b.shape[1]!;
  const av = a.contiguous().dataSync(), bv = b.contiguous().dataSync();
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j]! += av[i * k + p]! * bv[p * n + j]!;
  return c;
}

/** Largest error relative to float32 rounding over a k-term sum of unit-variance products. */
function maxError(got: ArrayLike<number>, want: ArrayLike<number>, k: number): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (Math.sqrt(k) + Math.abs(want[i]!)));
  return worst;
}

// [m, k, n]: odd sizes around the 4×8 tile and the KC = 512 block, an MNIST batch, k > 2·KC
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 5, 7], [4, 8, 8], [17, 65, 33], [65, 17, 3], [1, 784, 10], [64, 784, 128], [5, 1030, 9], [130, 3, 260], [33, 513, 16],
];
type Layout = 'nn' | 'tn' | 'nt' | 'tt' | 'slice';
/** Operands of the given logical shapes laid out as plain, transposed (gradient-style) or sliced views. */
function operands(m: number, k: number, n: number, layout: Layout): [Tensor, Tensor] {
  if (layout === 'slice') return [randn([m, k + 40]).slice(1, 3, k + 3), randn([k, 3 * n]).slice(1, 0, 3 * n, 3)];
  const a = layout[0] === 't' ? randn([k, m]).transpose(0, 1) : randn([m, k]);
  const b = layout[1] === 't' ? randn([n, k]).transpose(0, 1) : randn([k, n]);
  return [a, b];
}

const modes: [string, CpuKernelOptions][] = [
  ['TypeScript (simd off)', { simd: 'off', threads: 1 }],
  ['SIMD128, 1 thread', { simd: 'simd', threads: 1 }],
  ['SIMD128, 1 thread, unshared memory (no cross-origin isolation)', { simd: 'simd', threads: 1, sharedMemory: false }],
  ['SIMD128, 2 threads', { simd: 'simd', threads: 2, parallelMinFlops: 0 }],
  ['relaxed SIMD, 1 thread', { simd: 'relaxed', threads: 1 }],
  ['relaxed SIMD, 2 threads', { simd: 'relaxed', threads: 2, parallelMinFlops: 0 }],
];

// Operands and their float64 products, made once and shared by every mode.
manualSeed(7);
const CASES = SHAPES.flatMap(([m, k, n]) =>
  (['nn', 'tn', 'nt', 'tt', 'slice'] as const).map((layout) => {
    const [a, b] = operands(m, k, n, layout);
    return { name: `${m}x${k}x${n} ${layout}`, a, b, k, want: reference(a, b) };
  }),
);

describe.each(modes)('matmul float32: %s', (_, opts) => {
  it('matches a float64 reference on odd, transposed, sliced and batched operands', async () => {
    setCpuKernelOptions({ sharedMemory: initial.sharedMemory, parallelMinFlops: initial.parallelMinFlops, ...opts });
    if (opts.threads === 2) expect(await cpuWorkersReady()).toBe(TWO);
    if (opts.threads === 2 && SHARED) {
      // the caller takes whatever blocks a worker has not claimed: make sure the worker did some
      const [a, b] = [randn([256, 200]).transpose(0, 1), randn([256, 136])];
      const want = reference(a, b);
      for (let i = 0; i < 200 && cpuKernelInfo().workerBlocks === 0; i++) expect(maxError(matmul(a, b).dataSync(), want, 256)).toBeLessThan(1e-5);
      expect(cpuKernelInfo().workerBlocks).toBeGreaterThan(0);
    }
    expect(cpuKernelInfo().simd).toBe(opts.simd);
    for (const { name, a, b, k, want } of CASES) expect(maxError(matmul(a, b).dataSync(), want, k), name).toBeLessThan(1e-5);
    // batched, with B broadcast over the batch and A a transposed batch
    const a = randn([3, 19, 6]).transpose(1, 2), b = randn([19, 10]);
    const got = matmul(a, b).dataSync();
    for (let i = 0; i < 3; i++) {
      const ai = a.narrow(0, i, 1).squeeze(0);
      expect(maxError(got.subarray(i * 60, (i + 1) * 60), reference(ai, b), 19)).toBeLessThan(1e-5);
    }
  });
});

describe('matmul float32 paths agree', () => {
  it('2 threads give bit-identical results to 1 thread, and each SIMD variant is close to TypeScript', async () => {
    const cases = CASES.filter((c) => c.name.endsWith(' tn')).map(({ a, b }) => [a, b] as const);
    // above 32 MFLOP a product is cut into 4 blocks per thread: rows here, columns in the second
    cases.push([randn([261, 270]).transpose(0, 1), randn([261, 250])], [randn([90, 530]), randn([530, 400])]);
    const results = (opts: CpuKernelOptions) => {
      setCpuKernelOptions({ sharedMemory: initial.sharedMemory, ...opts });
      return cases.map(([a, b]) => matmul(a, b).dataSync().slice());
    };
    const ts = results({ simd: 'off' });
    for (const simd of ['simd', 'relaxed'] as const) {
      const one = results({ simd, threads: 1 });
      setCpuKernelOptions({ threads: 2, parallelMinFlops: 0 });
      expect(await cpuWorkersReady()).toBe(TWO);
      const two = results({ simd, threads: 2, parallelMinFlops: 0 });
      cases.forEach(([, b], i) => {
        expect(two[i]).toEqual(one[i]);
        expect(maxError(one[i]!, ts[i]!, b.shape[0]!)).toBeLessThan(1e-5);
      });
    }
  });

  it('leaves k = 0 products zero and handles empty outputs', () => {
    for (const simd of ['off', 'simd'] as const) {
      setCpuKernelOptions({ simd, threads: 1 });
      expect([...matmul(randn([3, 0]), randn([0, 4])).dataSync()]).toEqual(new Array(12).fill(0));
      expect(matmul(randn([0, 5]), randn([5, 4])).shape).toEqual([0, 4]);
    }
  });

  it('matmulF32 (the entry point for im2col kernels) writes C at an offset on every path', () => {
    manualSeed(3);
    const a = randn([9, 13]), b = randn([13, 6]).transpose(0, 1).contiguous().transpose(0, 1);
    const want = reference(a, b);
    for (const simd of ['off', 'simd'] as const) {
      setCpuKernelOptions({ simd, threads: 1 });
      const c = new Float32Array(5 + 54).fill(Number.NaN);
      matmulF32({ data: a.dataSync() as Float32Array, offset: 0, rs: 13, cs: 1 }, { data: b.contiguous().dataSync() as Float32Array, offset: 0, rs: 6, cs: 1 }, c, 5, 9, 6, 13);
      expect(c[4]).toBeNaN();
      expect(maxError(c.subarray(5), want, 13)).toBeLessThan(1e-5);
    }
  });
});

describe('matmul float32: small C over a long k (the dot-product kernel)', () => {
  // [m, k, n]: convolution weight gradients (9x50176x8 is conv 1→8 over 64 MNIST images), odd
  // rows and columns around its 2×4 block, k tails around the 4-wide vectors and the 1024-long
  // chunks, and k past 255 chunks (longer chunks)
  const shapes: [number, number, number][] = [[9, 50176, 8], [72, 3136, 16], [1, 1024, 1], [3, 1031, 5], [7, 2053, 10], [64, 1025, 64], [2, 262_150, 3]];
  manualSeed(11);
  // A row-major and B a transposed view: both contiguous along k, read in place
  const cases = shapes.map(([m, k, n]) => {
    const a = randn([m, k]), b = randn([n, k]).transpose(0, 1);
    return { name: `${m}x${k}x${n}`, a, b, k, want: reference(a, b) };
  });
  const dotModes: [string, CpuKernelOptions][] = [
    ['SIMD128, 1 thread', { simd: 'simd', threads: 1 }],
    ['SIMD128, 1 thread, unshared memory', { simd: 'simd', threads: 1, sharedMemory: false }],
    ['relaxed SIMD, 1 thread', { simd: 'relaxed', threads: 1 }],
    ['relaxed SIMD, 2 threads', { simd: 'relaxed', threads: 2 }],
  ];
  const results = async (opts: CpuKernelOptions) => {
    setCpuKernelOptions({ sharedMemory: initial.sharedMemory, parallelMinFlops: 0, ...opts });
    if (opts.threads === 2) expect(await cpuWorkersReady()).toBe(TWO);
    const before = dotProducts;
    const out = cases.map(({ a, b }) => matmul(a, b).dataSync().slice());
    return { out, dot: dotProducts - before };
  };

  it.each(dotModes)('matches a float64 reference: %s', async (_, opts) => {
    const { out, dot } = await results(opts);
    expect(dot).toBe(cases.length);
    cases.forEach(({ name, k, want }, i) => expect(maxError(out[i]!, want, k), name).toBeLessThan(1e-5));
  });

  it('gives the same bits on 1 and 2 threads, and agrees with the packed kernel and TypeScript', async () => {
    const one = await results({ simd: 'relaxed', threads: 1 });
    const two = await results({ simd: 'relaxed', threads: 2 });
    expect(two.out).toEqual(one.out);
    const old = setDotTuning({ maxMN: 0 });
    try {
      const packed = await results({ simd: 'relaxed', threads: 1 });
      expect(packed.dot).toBe(0);
      const ts = await results({ simd: 'off', threads: 1 });
      cases.forEach(({ name, k }, i) => {
        expect(maxError(one.out[i]!, packed.out[i]!, k), name).toBeLessThan(1e-5);
        // TypeScript sums the k terms one after another, so its rounding error grows about as k
        // rather than √k: a looser bound for it at k = 50176
        expect(maxError(one.out[i]!, ts.out[i]!, k), name).toBeLessThan(5e-5);
      });
    } finally {
      setDotTuning(old);
    }
  });

  it('leaves operands that are not contiguous along k to the packed kernel', async () => {
    setCpuKernelOptions({ simd: 'simd', threads: 1, sharedMemory: initial.sharedMemory });
    const a = randn([3, 2000]), b = randn([2000, 5]); // B's columns are strided
    const before = dotProducts;
    expect(maxError(matmul(a, b).dataSync(), reference(a, b), 2000)).toBeLessThan(1e-5);
    expect(dotProducts).toBe(before);
  });
});

describe.skipIf(!SHARED)('matmul on storage in the WebAssembly memory (needs SharedArrayBuffer)', () => {
  it('reads operands and writes C in place, with the same bits as staged copies', async () => {
    for (const threads of [1, 2]) {
      setCpuKernelOptions({ simd: 'simd', threads, sharedMemory: true, parallelMinFlops: 0 });
      if (threads === 2) expect(await cpuWorkersReady()).toBe(2);
      manualSeed(9);
      // a transposed view and a slice at an offset: strides and offsets taken as they are
      const a = randn([70, 45]).transpose(0, 1), b = randn([80, 33]).narrow(0, 10, 70);
      const inMemory = (t: Tensor) => (t.kernelView().handle as Float32Array).buffer instanceof SharedArrayBuffer;
      expect(inMemory(a) && inMemory(b)).toBe(true);
      const c = matmul(a, b);
      expect(inMemory(c)).toBe(true);
      // the same values in plain arrays go through the staging path
      const plainA = a.contiguous().dataSync() as Float32Array, plainB = b.contiguous().dataSync() as Float32Array;
      const staged = new Float32Array(45 * 33);
      matmulF32({ data: plainA, offset: 0, rs: 70, cs: 1 }, { data: plainB, offset: 0, rs: 33, cs: 1 }, staged, 0, 45, 33, 70);
      expect(c.dataSync()).toEqual(staged);
      expect(maxError(staged, reference(a, b), 70)).toBeLessThan(1e-5);
    }
  });
});

describe('setCpuKernelOptions', () => {
  it('rejects bad values with a message naming the option', () => {
    expect(() => setCpuKernelOptions({ threads: 0 })).toThrow(ValueError);
    expect(() => setCpuKernelOptions({ threads: 1.5 })).toThrow(/threads must be a positive integer/);
    expect(() => setCpuKernelOptions({ simd: 'avx' as 'simd' })).toThrow(/simd must be 'auto', 'relaxed', 'simd' or 'off'; got 'avx'/);
    expect(() => setCpuKernelOptions({ parallelMinFlops: -1 })).toThrow(/parallelMinFlops/);
  });
});

describe('worker threads', () => {
  it('never keep a finished Node program alive', () => {
    const src = fileURLToPath(new URL('../src/index.ts', import.meta.url));
    const script = `
      import { setCpuKernelOptions, cpuWorkersReady, cpuKernelInfo } from ${JSON.stringify(src)};
      import { randn, matmul } from '@tapegrad/tensor';
      setCpuKernelOptions({ threads: 2, parallelMinFlops: 0 });
      await cpuWorkersReady();
      matmul(randn([64, 64]), randn([64, 64]));
      console.log('threads=' + cpuKernelInfo().threads);`;
    const r = spawnSync(process.execPath, ['--conditions=@tapegrad/source', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull(); // killed by the timeout would mean a worker held the process open
    expect(r.stdout.trim()).toBe('threads=2');
  });
});
