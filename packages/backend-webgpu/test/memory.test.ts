// GPU memory: live bytes, the pool, and a long training loop that must not grow. A file of its
// own: every tensor here is disposed, so no leftovers of other tests can be collected (and
// returned to the pool) in the middle of a measurement.
import { beforeEach, expect, it } from 'vitest';
import { noGrad } from '@tapegrad/autograd';
import * as tg from '@tapegrad/tensor';
import type { GpuHandle } from '../src/index.js';
import { openDevice } from './helpers.js';

const { backend, gpuDescribe } = await openDevice();

beforeEach(() => tg.manualSeed(11));

const gpu = (t: tg.Tensor) => {
  const g = t.to('webgpu');
  t.dispose();
  return g;
};

gpuDescribe('memory', () => {
  it('memory() reports live and pooled GPU bytes; dispose returns buffers to the pool', async () => {
    const before = tg.memory().devices.webgpu!;
    const x = gpu(tg.zeros([1000]));
    await x.data();
    const live = tg.memory().devices.webgpu!;
    expect(live.tensors).toBe(before.tensors + 1);
    expect(live.bytes).toBe(before.bytes + 4000);
    const buffer = (x.storage.handle as GpuHandle).buffer;
    const pooled = live.pooledBytes!;
    x.dispose();
    await backend!.sync();
    expect(tg.memory().devices.webgpu!.pooledBytes).toBe(pooled + 4096);
    // the next tensor of that size class takes the pooled buffer (and holds its own values)
    const z = tg.zeros([900], { device: 'webgpu' });
    expect((z.storage.handle as GpuHandle).buffer).toBe(buffer);
    expect(tg.memory().devices.webgpu!.pooledBytes).toBe(pooled);
    expect(Math.max(...(await z.data()))).toBe(0);
    z.dispose();
  });
  it('a reused buffer reads as zeros until written (alloc gives zero-filled storage)', async () => {
    const x = gpu(tg.full([64], 7));
    await x.data();
    const buffer = (x.storage.handle as GpuHandle).buffer;
    x.dispose();
    const h = backend!.alloc('float32', 60);
    expect(h.buffer).toBe(buffer);
    expect(Array.from(await backend!.read(h, 'float32', 60))).toEqual(new Array(60).fill(0));
    // and a kernel reading it before any write sees zeros too (the backend clears it first)
    const t = new tg.Tensor(new tg.Storage(backend!, h, 'float32', 60), [60], [1], 0, 'float32');
    const y = t.add(1);
    expect(Array.from(await y.data())).toEqual(new Array(60).fill(1));
    y.dispose();
    t.dispose();
  });
  it('a 1,000-step training loop keeps live GPU memory flat', async () => {
    const x = gpu(tg.randn([32, 20]));
    const target = gpu(tg.randint(0, 5, [32]));
    const w = gpu(tg.randn([20, 5]).mul(0.1)).requiresGrad_();
    const b = gpu(tg.zeros([5])).requiresGrad_();
    const snapshots: { tensors: number; bytes: number; pooled: number }[] = [];
    let first = 0;
    let last = 0;
    for (let step = 0; step < 1000; step++) {
      const loss = tg.tidy(() => {
        const logp = tg.logSoftmax(x.matmul(w).add(b), 1);
        const l = tg.gather(logp, 1, target.unsqueeze(1)).mean().neg();
        l.backward();
        noGrad(() => {
          w.sub_(w.grad!.mul(0.5));
          b.sub_(b.grad!.mul(0.5));
        });
        w.grad!.dispose();
        b.grad!.dispose();
        w.grad = null;
        b.grad = null;
        return l.detach();
      });
      if (step === 0) first = await loss.item();
      if (step === 999) last = await loss.item();
      loss.dispose();
      if (step % 100 === 99) {
        await backend!.sync();
        const m = tg.memory().devices.webgpu!;
        snapshots.push({ tensors: m.tensors, bytes: m.bytes, pooled: m.pooledBytes! });
      }
    }
    expect(last).toBeLessThan(first);
    for (const s of snapshots) expect(s).toEqual(snapshots[0]);
    for (const t of [x, target, w, b]) t.dispose();
  });
});
