import { afterAll, afterEach, describe, expect, it, test } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { cpuKernelInfo, setCpuKernelOptions, setCpuPoolCap, type CpuKernelOptions } from '../src/index.js';
import { setWasmStorageLimit } from '../src/wasm/runtime.js';

// Freed storage goes to later allocations: float32 storage inside the WebAssembly kernels' shared
// memory (its own free lists) where there is one, otherwise a pool of typed arrays. These tests
// check, on both, that storage goes back only when no tensor or view refers to it any more, that
// reused storage reads as zeros, and that no two live tensors ever share a block.

const initial = cpuKernelInfo();
// the storage in the shared memory, where there is one (not in the suite's no-sab project)
const SHARED = initial.sharedMemoryAvailable;
afterEach(() => setCpuPoolCap(256 * 2 ** 20));
afterAll(() => setCpuKernelOptions({ simd: 'auto', sharedMemory: initial.sharedMemory }));

const handle = (t: tg.Tensor) => t.kernelView().handle as tg.TypedArray;
const inWasmMemory = (t: tg.Tensor) => SHARED && handle(t).buffer instanceof SharedArrayBuffer;
/** Identifies a block of storage: a byte address in the shared memory, else the array itself. */
const block = (t: tg.Tensor): unknown => (inWasmMemory(t) ? handle(t).byteOffset : handle(t));

const modes: [string, CpuKernelOptions, boolean][] = [
  ['in the WebAssembly shared memory', { simd: 'simd', sharedMemory: true }, true],
  ['in JavaScript typed arrays (no shared memory)', { simd: 'simd', sharedMemory: false }, false],
  ['in JavaScript typed arrays (WebAssembly off)', { simd: 'off' }, false],
];

describe.each(modes)('CPU storage %s', (_, opts, wasm) => {
  const it = test.skipIf(wasm && !SHARED);
  it('lives where expected, and is reused zero-filled once disposed', () => {
    setCpuKernelOptions(opts);
    const a = tg.arange(0, 1000, 1, { dtype: 'float32' });
    expect(inWasmMemory(a)).toBe(wasm);
    const where = block(a);
    a.dispose();
    const b = tg.zeros([1000]);
    expect(block(b)).toBe(where);
    expect(Array.from(b.dataSync()).every((v) => v === 0)).toBe(true);
    b.dispose();
  });

  it('stays out of reuse while a view of it is alive', () => {
    setCpuKernelOptions(opts);
    const a = tg.arange(0, 1000, 1, { dtype: 'float32' });
    const where = block(a);
    const v = tg.tidy(() => a.reshape([10, 100]).transpose(0, 1));
    a.dispose();
    const b = tg.zeros([1000]);
    expect(block(b)).not.toBe(where);
    b.fill_(7);
    const values = tg.tidy(() => v.transpose(0, 1).reshape([1000]).dataSync());
    expect(values).toEqual(Float32Array.from({ length: 1000 }, (_, i) => i));
    v.dispose();
    expect(block(tg.zeros([1000]))).toBe(where);
  });

  it('never hands one block to two live tensors', () => {
    setCpuKernelOptions(opts);
    const ts: tg.Tensor[] = [];
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 8; i++) ts.push(tg.zeros([100 + (i % 3) * 17]).add(round));
      for (let i = 0; i < 5; i++) ts.splice((i * 7 + round) % ts.length, 1)[0]!.dispose();
      const seen = new Set<unknown>();
      for (const t of ts) {
        expect(seen.has(block(t))).toBe(false);
        seen.add(block(t));
      }
    }
    // and every tensor still holds what it was given
    for (const t of ts) expect(new Set(t.dataSync()).size).toBe(1);
    for (const t of ts) t.dispose();
  });
});

describe('CPU storage pool', () => {
  it('reports pooled bytes in memory(); a zero cap turns the typed-array pool off', () => {
    setCpuKernelOptions({ simd: 'auto', sharedMemory: initial.sharedMemory });
    tg.zeros([1000], { dtype: 'int32' }).dispose();
    const before = tg.memory().devices.cpu!.pooledBytes!;
    expect(before).toBeGreaterThanOrEqual(4000);
    setCpuPoolCap(0);
    tg.zeros([1000], { dtype: 'int32' }).dispose();
    expect(tg.memory().devices.cpu!.pooledBytes).toBeLessThan(before);
  });

  it.skipIf(!SHARED)('keeps tensors made before the kernel options change valid, and takes them back safely', () => {
    setCpuKernelOptions({ simd: 'simd', sharedMemory: true });
    const a = tg.arange(0, 500, 1, { dtype: 'float32' });
    setCpuKernelOptions({ simd: 'off' }); // the engine and its memory go; a new one starts below
    setCpuKernelOptions({ simd: 'simd' });
    const others = Array.from({ length: 4 }, () => tg.full([500], 3));
    expect(a.dataSync()).toEqual(Float32Array.from({ length: 500 }, (_, i) => i));
    a.dispose();
    const b = tg.zeros([500]);
    expect(Array.from(b.dataSync()).every((v) => v === 0)).toBe(true);
    for (const o of others) expect(Array.from(o.dataSync()).every((v) => v === 3)).toBe(true);
  });
});

describe.skipIf(!SHARED)('CPU storage in the WebAssembly memory at its limit', () => {
  afterAll(() => setWasmStorageLimit(2 ** 29));
  it('cuts larger freed blocks before giving up, then falls back to the JavaScript heap', () => {
    setCpuKernelOptions({ simd: 'off' });
    setCpuKernelOptions({ simd: 'simd', sharedMemory: true }); // a fresh engine: storage starts at 64 KB
    setWasmStorageLimit(65536 + 32768);
    const a = tg.full([8192], 7); // fills the storage space
    expect(inWasmMemory(a)).toBe(true);
    const at = handle(a).byteOffset;
    a.dispose();
    const b = tg.zeros([4096]), c = tg.zeros([4096]); // two halves of a's block
    expect([block(b), block(c)].sort()).toEqual([at, at + 16384]);
    expect(new Set([...b.dataSync(), ...c.dataSync()])).toEqual(new Set([0]));
    b.fill_(1);
    c.fill_(2);
    const d = tg.zeros([10]); // nothing left in the memory
    expect(inWasmMemory(d)).toBe(false);
    expect(new Set(b.dataSync())).toEqual(new Set([1]));
    expect(new Set(c.dataSync())).toEqual(new Set([2]));
  });
});
