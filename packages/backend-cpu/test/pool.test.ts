import { afterEach, describe, expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { setCpuPoolCap as setPoolCap } from '../src/index.js';

// The storage pool hands freed arrays to later allocations: these tests check that storage goes
// back only when no tensor or view refers to it any more, and that reused storage reads as zeros.

const handle = (t: tg.Tensor) => t.kernelView().handle as tg.TypedArray;
afterEach(() => setPoolCap(256 * 2 ** 20));

describe('CPU storage pool', () => {
  it('reuses the storage of a disposed tensor, zero-filled', () => {
    const a = tg.arange(0, 1000, 1, { dtype: 'float32' });
    const h = handle(a);
    a.dispose();
    const b = tg.zeros([1000]);
    expect(handle(b)).toBe(h);
    expect(Array.from(b.dataSync()).every((v) => v === 0)).toBe(true);
  });

  it('keeps storage out of the pool while a view of it is alive', () => {
    const a = tg.arange(0, 1000, 1, { dtype: 'float32' });
    const h = handle(a);
    const v = tg.tidy(() => a.reshape([10, 100]).transpose(0, 1));
    a.dispose();
    const b = tg.zeros([1000]);
    expect(handle(b)).not.toBe(h);
    b.fill_(7);
    const values = tg.tidy(() => v.transpose(0, 1).reshape([1000]).dataSync());
    expect(values).toEqual(Float32Array.from({ length: 1000 }, (_, i) => i));
    v.dispose();
    expect(handle(tg.zeros([1000]))).toBe(h);
  });

  it('never hands one array to two live tensors', () => {
    const live = new Set<tg.TypedArray>();
    const ts: tg.Tensor[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 8; i++) ts.push(tg.zeros([100 + (i % 3)]));
      for (let i = 0; i < 4; i++) ts.splice((i * 7 + round) % ts.length, 1)[0]!.dispose();
      live.clear();
      for (const t of ts) {
        expect(live.has(handle(t))).toBe(false);
        live.add(handle(t));
      }
    }
    for (const t of ts) t.dispose();
  });

  it('reports pooled bytes in memory() and holds none with a zero cap', () => {
    const a = tg.zeros([1000]);
    a.dispose();
    expect(tg.memory().devices.cpu!.pooledBytes).toBeGreaterThanOrEqual(4000);
    setPoolCap(0);
    tg.zeros([1000]).dispose();
    expect(tg.memory().devices.cpu!.pooledBytes).toBe(0);
  });
});
