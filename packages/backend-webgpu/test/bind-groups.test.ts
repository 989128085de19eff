// The bind group cache (backend.ts): a dispatch over buffers that an earlier dispatch of the same
// layout bound reuses its bind group, each dispatch still reading its own metadata (a dynamic
// offset); the cache stays within its capacity; emptyPool, which destroys pooled buffers, drops
// it; and results do not depend on it. The suite runs in poison mode too, where every buffer
// that returns to the pool is overwritten before a cached bind group binds it again.
import { afterEach, expect, it } from 'vitest';
import { noGrad } from '@tapegrad/autograd';
import * as tg from '@tapegrad/tensor';
import { openDevice } from './helpers.js';

const { backend, gpuDescribe } = await openDevice();
const capacity = backend?.bindGroupCapacity;
afterEach(() => void (backend && (backend.bindGroupCapacity = capacity!)));

const gpu = (values: number[]) => tg.tensor(values, { device: 'webgpu' });

gpuDescribe('bind group cache', () => {
  it('a computation repeated on the same buffers finds its bind group cached', async () => {
    const a = gpu([1, 2, 3, 4]), b = gpu([10, 20, 30, 40]);
    const { dispatches, bindGroupHits } = backend!.counters;
    for (let i = 0; i < 5; i++) {
      // after a read the batch is submitted, so the disposed output's buffer is the next one handed out
      const c = a.add(b);
      expect(Array.from(await c.data())).toEqual([11, 22, 33, 44]);
      c.dispose();
    }
    expect(backend!.counters.dispatches - dispatches).toBe(5);
    expect(backend!.counters.bindGroupHits - bindGroupHits).toBeGreaterThanOrEqual(4);
    a.dispose();
    b.dispose();
  });

  it('a chain with number operands (a 0-d buffer each, freed mid-batch) finds its bind groups when run again', async () => {
    const x = gpu([1, 2, 3]);
    const hits: number[] = [];
    for (let run = 0; run < 3; run++) {
      const { dispatches, bindGroupHits } = backend!.counters;
      const y = tg.tidy(() => {
        let y = x;
        for (let i = 0; i < 20; i++) y = y.mul(2).sub(1);
        return y;
      });
      expect(Array.from(await y.data())).toEqual([1, 2, 3].map((v) => 2 ** 20 * (v - 1) + 1));
      y.dispose();
      expect(backend!.counters.dispatches - dispatches).toBe(40);
      hits.push(backend!.counters.bindGroupHits - bindGroupHits);
    }
    // the pool hands the same buffers to the same allocations, whichever order they were freed in
    expect(hits.slice(1)).toEqual([40, 40]);
    x.dispose();
  });

  it('the pool hands out its buffers lowest id first, whatever order they were freed in', () => {
    const ids = (handles: { id: number }[]) => handles.map((h) => h.id);
    const size = 3 << 18; // a size class of its own in this file
    const first = [0, 1, 2, 3].map(() => backend!.alloc('float32', size));
    for (const i of [2, 0, 3, 1]) backend!.free(first[i]!);
    const second = [0, 1, 2, 3].map(() => backend!.alloc('float32', size));
    expect(ids(second)).toEqual(ids(first).sort((a, b) => a - b));
    for (const i of [3, 1, 0, 2]) backend!.free(second[i]!);
    const third = [0, 1, 2, 3].map(() => backend!.alloc('float32', size));
    expect(ids(third)).toEqual(ids(second));
    expect(third.map((h) => h.buffer)).toEqual(second.map((h) => h.buffer));
    for (const h of third) backend!.free(h);
  });

  it('dispatches that share a bind group in one batch each read their own metadata', async () => {
    const src = gpu([1, 2, 3, 4, 5, 6, 7, 8]);
    const dst = tg.zeros([8], { device: 'webgpu' });
    await dst.data();
    const hits = backend!.counters.bindGroupHits;
    // four copies from src into dst: the same buffers, a different offset in each one's metadata
    for (let k = 0; k < 4; k++) dst.narrow(0, 2 * k, 2).copy_(src.narrow(0, 6 - 2 * k, 2));
    expect(Array.from(await dst.data())).toEqual([7, 8, 5, 6, 3, 4, 1, 2]);
    expect(backend!.counters.bindGroupHits - hits).toBeGreaterThanOrEqual(3);
    src.dispose();
    dst.dispose();
  });

  it('holds at most bindGroupCapacity bind groups, and evicted ones are made again', async () => {
    backend!.bindGroupCapacity = 4;
    const xs = Array.from({ length: 6 }, (_, i) => gpu([i, 2 * i]));
    const sizes: number[] = [];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 6; i++) {
        const j = (i + 1) % 6;
        const y = xs[i]!.add(xs[j]!);
        expect(Array.from(await y.data()), `round ${round}, pair ${i}`).toEqual([i + j, 2 * (i + j)]);
        y.dispose();
        sizes.push(backend!.bindGroupsCached);
      }
    }
    expect(Math.max(...sizes)).toBe(4);
    for (const x of xs) x.dispose();
  });

  it('emptyPool drops the cached bind groups with the buffers it destroys; later dispatches bind live buffers', async () => {
    const a = gpu([1, 2, 3]);
    for (let i = 0; i < 3; i++) {
      const y = a.mul(i + 2);
      await y.data();
      y.dispose();
    }
    await backend!.sync();
    expect(backend!.bindGroupsCached).toBeGreaterThan(0);
    backend!.emptyPool();
    expect(backend!.bindGroupsCached).toBe(0);
    // new buffers for the outputs (and the scalar operands): a stale bind group would fail the
    // submit (a destroyed buffer), which the read reports as a DeviceError
    for (let i = 0; i < 3; i++) {
      const y = a.mul(i + 2);
      expect(Array.from(await y.data())).toEqual([1, 2, 3].map((v) => v * (i + 2)));
      y.dispose();
    }
    a.dispose();
  });

  it('training with and without the cache gives the same bits', async () => {
    const train = async (cacheCapacity: number) => {
      backend!.bindGroupCapacity = cacheCapacity;
      tg.manualSeed(3);
      const x = tg.randn([16, 12]).to('webgpu');
      const w = tg.randn([12, 4]).mul(0.3).to('webgpu').requiresGrad_();
      const target = tg.randn([16, 4]).to('webgpu');
      const losses: number[] = [];
      for (let step = 0; step < 5; step++) {
        const loss = tg.tidy(() => {
          const l = x.matmul(w).tanh().sub(target).square().mean();
          l.backward();
          noGrad(() => w.sub_(w.grad!.mul(0.5)));
          w.grad = (w.grad!.dispose(), null);
          return l.detach();
        });
        losses.push(await loss.item());
        loss.dispose();
      }
      const weights = Array.from(await w.data());
      for (const t of [x, w, target]) t.dispose();
      return { losses, weights };
    };
    const cached = await train(capacity!);
    const uncached = await train(0);
    expect(uncached).toEqual(cached);
    expect(cached.losses[4]).toBeLessThan(cached.losses[0]!);
  });
});
