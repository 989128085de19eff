import { afterAll, afterEach, beforeEach, describe, expect, test } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { cpuBackend, cpuKernelInfo, fills, setCpuKernelOptions, type CpuKernel, type CpuKernelOptions } from '../src/index.js';

// Poison mode on the CPU, in each place storage lives: freed storage is filled with the poison
// pattern, so a view that outlived its storage reads NaN (int32: 2147475117; bool: bytes that are
// neither 0 nor 1), and storage handed out without zero-filling holds the pattern until written,
// so a kernel marked fills() that leaves an element unwritten shows it.

const initial = cpuKernelInfo();
// the storage in the shared memory, where there is one (not in the suite's no-sab project)
const SHARED = initial.sharedMemoryAvailable;
const initialPoison = tg.poisonMode();
beforeEach(() => void tg.setPoisonMode(true));
afterEach(() => void tg.setPoisonMode(initialPoison));
afterAll(() => setCpuKernelOptions({ simd: 'auto', sharedMemory: initial.sharedMemory }));

const handle = (t: tg.Tensor) => t.kernelView().handle as tg.TypedArray;
const sameBlock = (a: tg.TypedArray, b: tg.TypedArray) => a.buffer === b.buffer && a.byteOffset === b.byteOffset;
/** Whether every element reads as poison in its dtype (NaN, 2147475117, or a bool byte other than 0 and 1). */
function allPoison(a: tg.TypedArray): boolean {
  if (a instanceof Float32Array || a instanceof Float64Array) return a.every(Number.isNaN);
  if (a instanceof Int32Array) return a.every((v) => v === 0x7fffdead);
  return a.every((v) => v > 1);
}
const filled = (dtype: tg.DType, n: number) => tg.full([n], dtype === 'bool' ? 1 : 3, { dtype });

const modes: [string, CpuKernelOptions][] = [
  ['in the WebAssembly shared memory', { simd: 'simd', sharedMemory: true }],
  ['in JavaScript typed arrays (no shared memory)', { simd: 'simd', sharedMemory: false }],
  ['in JavaScript typed arrays (WebAssembly off)', { simd: 'off' }],
];
const dtypes: tg.DType[] = ['float32', 'float64', 'int32', 'bool'];
// pooled sizes (over 256 bytes; 301 bools end in a partial word) and a small unpooled one
const lengths = [301, 5];

describe.each(modes)('poison mode, CPU storage %s', (_, opts) => {
  beforeEach(() => setCpuKernelOptions(opts));
  const it = test.skipIf(opts.sharedMemory === true && !SHARED);

  it.each(dtypes)('freed %s storage reads as poison through a view that outlived it', (dtype) => {
    for (const n of lengths) {
      const t = filled(dtype, n);
      const stale = handle(t);
      t.dispose();
      expect(allPoison(stale), `${n} elements`).toBe(true);
    }
  });

  it.each(dtypes)('%s storage handed out unfilled holds poison, reused or fresh; handed out zero-filled, zeros', (dtype) => {
    const t = filled(dtype, 301);
    const was = handle(t);
    t.dispose();
    const reused = cpuBackend.alloc(dtype, 301, false);
    expect(sameBlock(reused, was), 'the freed block was reused').toBe(true);
    expect(allPoison(reused)).toBe(true);
    cpuBackend.free(reused, dtype, 301);
    const zeroed = cpuBackend.alloc(dtype, 301, true);
    expect(sameBlock(zeroed, was), 'the freed block was reused').toBe(true);
    expect(zeroed.every((v) => v === 0)).toBe(true);
    cpuBackend.free(zeroed, dtype, 301);
    // a length nothing here has freed: a fresh array, or fresh WebAssembly memory (zero until now)
    const fresh = cpuBackend.alloc(dtype, 100_003, false);
    expect(allPoison(fresh)).toBe(true);
    cpuBackend.free(fresh, dtype, 100_003);
  });

  it('without poison mode, freed storage keeps its values (what a stale view would silently read)', () => {
    tg.setPoisonMode(false);
    const t = filled('float32', 301);
    const stale = handle(t);
    t.dispose();
    expect(stale.every((v) => v === 3)).toBe(true);
  });
});

// An op whose CPU kernel claims to fill its output but skips the last element: the kind of bug
// poison mode is for. Outside poison mode its output reads 0 there on fresh storage, a
// plausible value; in poison mode, NaN.
tg.defineOp({ name: 'test.skipsLast', infer: ([x]) => [{ shape: x!.shape, dtype: x!.dtype }] });
tg.registerKernel('test.skipsLast', 'cpu', fills((([x], [o]) => {
  for (let i = 0; i < o!.handle.length - 1; i++) o!.handle[i] = x!.handle[x!.offset + i]!;
}) as CpuKernel));

describe.each(modes)('a kernel marked fills() that leaves an element unwritten, storage %s', (_, opts) => {
  beforeEach(() => setCpuKernelOptions(opts));
  const it = test.skipIf(opts.sharedMemory === true && !SHARED);
  it.each(['float32', 'float64'] as const)('gives NaN there in poison mode (%s)', (dtype) => {
    const x = tg.ones([400], { dtype });
    const y = tg.run('test.skipsLast', [x]);
    const v = y.dataSync();
    expect(v[398]).toBe(1);
    expect(v[399]).toBeNaN();
    x.dispose();
    y.dispose();
  });
});
