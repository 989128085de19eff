// Poison mode on WebGPU: a buffer returning to the pool is filled with the poison pattern once
// the work that may still use it is submitted, and every buffer handed out holds the pattern
// until a kernel writes it, so a kernel that leaves part of its output unwritten shows it.
// A buffer read before anything writes it still reads as zeros (alloc's zero-filled contract).
import { afterEach, beforeEach, expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { copyProgram, type GpuHandle, type GpuView, type WebGPUKernel } from '../src/index.js';
import { openDevice } from './helpers.js';

const { backend, gpuDescribe } = await openDevice();
const initialPoison = tg.poisonMode();
beforeEach(() => void tg.setPoisonMode(true));
afterEach(() => void tg.setPoisonMode(initialPoison));

const handle = (t: tg.Tensor) => t.storage.handle as GpuHandle;

// An op whose WebGPU kernel writes all but the last element of its output.
tg.defineOp({ name: 'test.skipsLast', infer: ([x]) => [{ shape: x!.shape, dtype: x!.dtype }] });
tg.registerKernel('test.skipsLast', 'webgpu', (([x], [out]) => {
  const n = out!.shape[0]! - 1;
  return [copyProgram({ ...x!, shape: [n] }, { ...out!, shape: [n] } as GpuView)];
}) as WebGPUKernel);

gpuDescribe('poison mode on WebGPU', () => {
  it('a freed buffer reads as poison through its stale handle: NaN, 2147475117, or a bool other than 0 and 1', async () => {
    const cases: [tg.DType, number, (v: number) => boolean][] = [
      ['float32', 2.5, Number.isNaN],
      ['int32', 7, (v) => v === 0x7fffdead],
      ['bool', 1, (v) => v > 1],
    ];
    for (const [dtype, value, isPoison] of cases) {
      const t = tg.full([100], value, { dtype, device: 'webgpu' });
      expect(Array.from(await t.data()).every((v) => v === value), dtype).toBe(true);
      const stale = handle(t);
      t.dispose();
      await backend!.sync();
      expect(Array.from(await backend!.read(stale, dtype, 100)).every(isPoison), dtype).toBe(true);
    }
  });

  it('a buffer freed while a dispatch that reads it is still encoded is poisoned only after that dispatch', async () => {
    const x = tg.tensor([1, 2, 3, 4], { device: 'webgpu' });
    await x.data();
    const stale = handle(x);
    const y = x.mul(10);
    x.dispose(); // y's dispatch is encoded, not yet submitted
    expect(Array.from(await y.data())).toEqual([10, 20, 30, 40]);
    expect(Array.from(await backend!.read(stale, 'float32', 4)).every(Number.isNaN)).toBe(true);
    y.dispose();
  });

  it('a kernel that leaves an element of its output unwritten shows poison there, in a fresh or a reused buffer', async () => {
    const x = tg.ones([3000], { device: 'webgpu' });
    for (const round of ['fresh', 'reused']) {
      const y = tg.run('test.skipsLast', [x]);
      const v = await y.data();
      expect(v[2998], round).toBe(1);
      expect(v[2999], round).toBeNaN();
      y.dispose();
      await backend!.sync();
    }
    x.dispose();
  });

  it('a poisoned buffer read before anything writes it reads as zeros, from the host or a kernel', async () => {
    const t = tg.full([64], 7, { device: 'webgpu' });
    await t.data();
    const buffer = handle(t).buffer;
    t.dispose();
    await backend!.sync();
    const h = backend!.alloc('float32', 60);
    expect(h.buffer).toBe(buffer);
    expect(Array.from(await backend!.read(h, 'float32', 60))).toEqual(new Array(60).fill(0));
    const z = new tg.Tensor(new tg.Storage(backend!, h, 'float32', 60), [60], [1], 0, 'float32');
    const y = z.add(1);
    expect(Array.from(await y.data())).toEqual(new Array(60).fill(1));
    y.dispose();
    z.dispose();
  });
});
