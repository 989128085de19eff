// The WebGPU device as a user meets it: errors, moving tensors, gradients on the GPU (against
// the CPU), and device loss (last: it ends this file's device). Memory has its own file.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { noGrad } from '@tapegrad/autograd';
import * as tg from '@tapegrad/tensor';
import { initWebGPU, type WebGPUKernel } from '../src/index.js';
import { expectClose, openDevice } from './helpers.js';

const { backend, gpuDescribe } = await openDevice();

beforeEach(() => tg.manualSeed(11));
afterEach(() => tg.setDefaultDevice('cpu'));

const gpu = (t: tg.Tensor) => t.to('webgpu');

gpuDescribe('errors', () => {
  it('float64 is refused with a DTypeError', () => {
    expect(() => tg.zeros([2], { dtype: 'float64', device: 'webgpu' })).toThrow(tg.DTypeError);
    expect(() => tg.zeros([2], { dtype: 'float64', device: 'webgpu' })).toThrow(/float64 is not supported on WebGPU/);
    expect(() => gpu(tg.ones([2])).cast('float64')).toThrow(tg.DTypeError);
  });
  it('bfloat16 is refused naming the op and WGSL; float16 lives here (half.test.ts)', () => {
    expect(() => tg.zeros([2], { dtype: 'bfloat16', device: 'webgpu' })).toThrow(/^full: a bfloat16 tensor cannot live on 'webgpu': bfloat16 is not supported on WebGPU \(WGSL has no bfloat16 type\)/);
    const h = tg.tensor([1, 2], { dtype: 'bfloat16' });
    expect(() => h.to('webgpu')).toThrow(tg.DTypeError);
    expect(() => h.to('webgpu')).toThrow(/^to: a bfloat16 tensor/);
    expect(() => gpu(tg.ones([2])).cast('bfloat16')).toThrow(/^copy: a bfloat16 tensor cannot live on 'webgpu'/);
    h.dispose();
    expect(gpu(tg.ones([2])).cast('float16').dtype).toBe('float16');
  });
  it('a tensor larger than the device allows names the limit', () => {
    const limit = Math.min(backend!.limits.maxStorageBufferBindingSize, backend!.limits.maxBufferSize);
    const x = gpu(tg.ones([1]));
    expect(() => x.expand([limit / 4 + 1]).contiguous()).toThrow(tg.DeviceError);
    expect(() => x.expand([limit / 4 + 1]).contiguous()).toThrow(/maxStorageBufferBindingSize|maxBufferSize/);
  });
  it('out-of-range indices fail reads of the output with the IndexError the CPU throws', async () => {
    const x = gpu(tg.randn([3, 4]));
    const bad = gpu(tg.tensor([[0, 5]], { dtype: 'int32' }));
    const cpuMessage = (() => {
      try {
        tg.gather(tg.randn([3, 4]), 1, tg.tensor([[0, 5]], { dtype: 'int32' }));
      } catch (e) {
        return (e as Error).message;
      }
    })();
    await expect(tg.gather(x, 1, bad).data()).rejects.toThrow(tg.IndexError);
    await expect(tg.gather(x, 1, bad).data()).rejects.toThrow(cpuMessage);
    await expect(tg.indexSelect(x, 0, gpu(tg.tensor([0, -1], { dtype: 'int32' }))).data()).rejects.toThrow(/indexSelect: index -1 is out of range for dim 0 of size 3/);
    await expect(tg.scatterAdd(x, 0, gpu(tg.tensor([[3]], { dtype: 'int32' })), gpu(tg.ones([1, 1]))).data()).rejects.toThrow(/scatterAdd: index 3 is out of range/);
    await expect(tg.oneHot(gpu(tg.tensor([1, 7], { dtype: 'int32' })), 4).data()).rejects.toThrow(/oneHot: class 7 is out of range for 4 classes \(at index \[1\]\)/);
    // the error belongs to the bad outputs: reads of good results succeed (test/bad-input.test.ts has the rest)
    expectClose(await x.data(), await x.data());
    const ok = tg.gather(x, 1, gpu(tg.tensor([[3]], { dtype: 'int32' })));
    expect((await ok.data()).length).toBe(1);
  });
  it('an int32 power with a negative exponent fails reads of the result', async () => {
    const x = gpu(tg.tensor([2, 3], { dtype: 'int32' }));
    await expect(x.pow(-1).data()).rejects.toThrow(/pow: integers to negative integer powers are not allowed/);
  });
  it('a failed GPU command (here a custom kernel with broken WGSL) fails the next read', async () => {
    tg.defineOp({ name: 'testBrokenShader', infer: ([x]) => [{ shape: x!.shape, dtype: x!.dtype }] });
    const broken: WebGPUKernel = (inputs, outputs) => [
      { key: 'testBrokenShader', wgsl: () => 'this is not WGSL', inputs: [inputs[0]!.handle], outputs: [outputs[0]!.handle], meta: [1, 0], workgroups: 1 },
    ];
    tg.registerKernel('testBrokenShader', 'webgpu', broken);
    const y = tg.run('testBrokenShader', [gpu(tg.ones([3]))]);
    await expect(y.data()).rejects.toThrow(/webgpu: a GPU command failed: .*this is not WGSL/s);
    expectClose(await gpu(tg.ones([2])).data(), [1, 1]); // reported once
  });
  it('mixing devices names both; synchronous reads point to data()', () => {
    expect(() => tg.add(tg.ones([2]), gpu(tg.ones([2])))).toThrow(/'cpu' and 'webgpu'/);
    expect(() => gpu(tg.ones([2])).dataSync()).toThrow(/await t.data\(\)/);
    expect(() => gpu(tg.ones([2])).to('cpu')).toThrow(/toAsync/);
  });
});

gpuDescribe('devices', () => {
  it('moves tensors both ways and becomes the default device', async () => {
    const c = tg.randn([3, 4]);
    const back = await tg.toAsync(gpu(c).T, 'cpu');
    expect(back.device).toBe('cpu');
    expectClose(back.dataSync(), c.T.contiguous().dataSync(), { atol: 0, rtol: 0 });
    tg.setDefaultDevice('webgpu');
    const t = tg.tensor([[1, 2], [3, 4]]);
    expect(t.device).toBe('webgpu');
    expect(await t.add(1).toArray()).toEqual([[2, 3], [4, 5]]);
    expect(await tg.tensor([true, false]).toArray()).toEqual([true, false]);
    expect(await t.sum().item()).toBe(10);
  });
  it('reads in flight together each get their own values', async () => {
    const xs = Array.from({ length: 8 }, (_, i) => tg.arange(0, 5 + i).to('webgpu').mul(i));
    const got = await Promise.all(xs.map((x) => x.data()));
    got.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from({ length: 5 + i }, (_, j) => j * i)));
    expect(await tg.zeros([0], { device: 'webgpu' }).toArray()).toEqual([]);
  });
  it('initWebGPU returns the device it already opened', async () => {
    expect(await initWebGPU()).toBe(backend);
  });
});

gpuDescribe('gradients match the CPU', () => {
  // Each case: a scalar function of some float inputs; backward runs on both devices and the
  // leaf gradients are compared (within 1e-4: float32 sums in a different order).
  const CASES: [string, number[][], (...xs: tg.Tensor[]) => tg.Tensor][] = [
    ['elementwise', [[3, 4], [4]], (a, b) => a.mul(b).add(a.sigmoid()).sub(b.tanh()).div(a.abs().add(1)).exp().sum()],
    ['pow, maximum, clamp, where', [[3, 4], [3, 4]], (a, b) => a.abs().add(0.5).pow(b.clamp(-1, 2)).add(tg.maximum(a, b)).add(tg.where(a.gt(0), a, b.square())).sum()],
    ['reductions', [[4, 5, 6]], (a) => a.sum([0, 2]).mul(a.max(1).sum()).sum().add(a.mean()).add(a.logsumexp(2).sum())],
    ['matmul on views', [[5, 3], [4, 5], [2, 4, 3]], (a, b, c) => a.T.matmul(b.T).matmul(c).relu().sum()],
    ['softmax and logSoftmax', [[6, 7]], (a) => a.softmax(1).mul(a.logSoftmax(0)).sum()],
    ['indexing and cat', [[5, 4], [2, 4]], (a, b) => {
      const idx = tg.tensor([[0, 3, 3], [4, 1, 0]], { dtype: 'int32', device: a.device });
      const sel = tg.tensor([4, 0, 4], { dtype: 'int32', device: a.device });
      return tg.cat([a.gather(0, idx).mul(2), b.narrow(1, 1, 3)], 0).sum().add(a.indexSelect(0, sel).square().sum());
    }],
    ['unary ops', [[4, 6]], (a) => a.neg().abs().add(0.5).log().add(a.exp().sqrt()).add(a.relu().square()).add(a.sign()).sum()],
    ['minimum, min and views', [[3, 4, 5], [5]], (a, b) => tg.minimum(a.permute([2, 0, 1]), b.unsqueeze(1).unsqueeze(2)).min(0).sum().add(a.expand([2, 3, 4, 5]).narrow(3, 1, 3).sum())],
    ['scatterAdd and stack', [[3, 5], [2, 5]], (a, b) => {
      const idx = tg.tensor([[0, 2, 1, 0, 2], [2, 2, 0, 1, 1]], { dtype: 'int32', device: a.device });
      return tg.stack([a.scatterAdd(0, idx, b.mul(b)), a.tanh()], 1).sigmoid().sum();
    }],
  ];
  it.each(CASES)('%s', async (_, shapes, fn) => {
    const leaves = shapes.map((s) => tg.randn(s));
    const cpu = leaves.map((t) => t.clone().requiresGrad_());
    const dev = leaves.map((t) => gpu(t).requiresGrad_());
    const lc = fn(...cpu);
    const lg = fn(...dev);
    expectClose([await lg.item()], [lc.itemSync()], { atol: 1e-4, rtol: 1e-4 });
    lc.backward();
    lg.backward();
    for (let i = 0; i < leaves.length; i++) {
      expect(dev[i]!.grad!.device).toBe('webgpu');
      expectClose(await dev[i]!.grad!.data(), cpu[i]!.grad!.dataSync(), { atol: 1e-4, rtol: 1e-4 }, `grad ${i}`);
    }
  });
});

gpuDescribe('batching and buffer reuse', () => {
  it('a 200-step training trajectory matches the CPU (reused buffers, scalars written mid-batch)', async () => {
    const run = (device: 'cpu' | 'webgpu') => {
      tg.manualSeed(5);
      const x = tg.randn([16, 12]).to(device);
      const target = tg.randint(0, 4, [16]).to(device);
      const w = tg.randn([12, 4]).mul(0.3).to(device).requiresGrad_();
      for (let step = 0; step < 200; step++) {
        tg.tidy(() => {
          const l = tg.gather(tg.logSoftmax(x.matmul(w).tanh().mul(3), 1), 1, target.unsqueeze(1)).mean().neg();
          l.backward();
          noGrad(() => w.sub_(w.grad!.mul(0.2).clamp(-0.05, 0.05)));
          w.grad = null;
        });
      }
      return w;
    };
    const wc = run('cpu');
    const wg = run('webgpu');
    expectClose(await wg.data(), wc.dataSync(), { atol: 1e-4, rtol: 1e-3 });
  });
});

gpuDescribe('device loss (ends this file\'s device)', () => {
  it('every later op and read fails with the reason instead of hanging; a new device can be opened', async () => {
    const x = gpu(tg.randn([4]));
    const pendingRead = x.add(1).data();
    backend!.destroy();
    await Promise.allSettled([pendingRead]); // it may finish or fail, but it settles
    await expect(x.data()).rejects.toThrow(/device was lost/);
    expect(() => x.add(1)).toThrow(/device was lost \(destroyed/);
    expect(() => tg.ones([2], { device: 'webgpu' })).toThrow(tg.DeviceError);
    const fresh = await initWebGPU();
    expect(fresh).not.toBe(backend);
    expect(await tg.ones([2], { device: 'webgpu' }).add(1).toArray()).toEqual([2, 2]);
    fresh.destroy();
  });
});
