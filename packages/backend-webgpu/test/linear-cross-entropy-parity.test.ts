// issue 16: linearCrossEntropy on WebGPU (the chunked composite of matmul, crossEntropy and
// crossEntropyBackward: there are no kernels of its own there) against the CPU (its kernels), on
// seeded random inputs of several shapes and every option; a bad target fails reads of the loss
// and of the gradients with the CPU's message. Tolerances as nn-parity.test.ts's.
import { beforeEach, expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { expectClose, openDevice, type Tol } from './helpers.js';

const { gpuDescribe } = await openDevice();
const F = nn.functional;

beforeEach(() => tg.manualSeed(16));

const FWD: Tol = { atol: 1e-5, rtol: 1e-4 };
const GRAD: Tol = { atol: 2e-5, rtol: 2e-4 };

gpuDescribe('linearCrossEntropy', () => {
  const shapes: [number[], number, number][] = [[[13], 4, 9], [[2, 5], 3, 17], [[40], 8, 300], [[1], 2, 3]];
  it('loss and the gradients of h, W and bias: shapes, chunk sizes, every reduction and option', async () => {
    for (const [rows, D, V] of shapes) {
      const N = rows.reduce((a, b) => a * b, 1);
      const h = tg.randn([...rows, D]);
      const W = tg.randn([V, D]).mul(0.5);
      const b = tg.randn([V]).mul(0.1);
      const weight = tg.rand([V]).add(0.5);
      const target = tg.tensor(Int32Array.from({ length: N }, (_, i) => (i % 4 === 2 ? -100 : (i * 7) % V)), { dtype: 'int32', shape: rows });
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        for (const [name, extra] of [['plain', {}], ['weight, ε 0.2', { weight, labelSmoothing: 0.2 }]] as const) {
          for (const chunkSize of [3, 64]) {
            const what = `${rows}x${D}->${V} ${reduction} ${name} chunk ${chunkSize}`;
            const up = reduction === 'none' ? tg.randn(rows) : undefined;
            const run = (device: 'cpu' | 'webgpu') => {
              const [hd, Wd, bd] = [h, W, b].map((t) => t.to(device).clone().requiresGrad_());
              const w = 'weight' in extra ? extra.weight.to(device) : undefined;
              const loss = F.linearCrossEntropy(hd!, Wd!, target.to(device), { reduction, labelSmoothing: 'labelSmoothing' in extra ? extra.labelSmoothing : 0, weight: w, bias: bd, chunkSize });
              loss.backward(up?.to(device));
              return [loss, hd!.grad!, Wd!.grad!, bd!.grad!];
            };
            const [cpu, gpu] = [run('cpu'), run('webgpu')];
            expect(gpu[0]!.device).toBe('webgpu');
            expect(gpu[0]!.shape).toEqual(cpu[0]!.shape);
            for (const [i, part] of ['loss', 'dh', 'dW', 'db'].entries()) expectClose(await gpu[i]!.data(), cpu[i]!.dataSync(), i ? GRAD : FWD, `${what} ${part}`);
          }
        }
      }
    }
  });

  it('a target out of range fails reads of the loss and of the gradients with the CPU message (its position in the whole target)', async () => {
    const h = tg.randn([2, 6, 4]);
    const W = tg.randn([5, 4]);
    const bad = tg.tensor(Int32Array.from({ length: 12 }, (_, i) => (i === 9 ? 7 : i % 5)), { dtype: 'int32', shape: [2, 6] });
    const cpuErr = (() => { try { F.linearCrossEntropy(h, W, bad, { chunkSize: 4 }); } catch (e) { return e as Error; } })();
    expect(cpuErr).toBeInstanceOf(tg.IndexError);
    expect(cpuErr!.message).toContain('linearCrossEntropy: target 7 is out of range for 5 classes (at target index [1, 3])');
    const hg = h.to('webgpu').requiresGrad_();
    const loss = F.linearCrossEntropy(hg, W.to('webgpu'), bad.to('webgpu'), { chunkSize: 4 });
    await expect(loss.data()).rejects.toThrow(cpuErr!.message);
    loss.backward();
    await expect(hg.grad!.data()).rejects.toThrow(cpuErr!.message);
  });

  it('peak memory stays far below the logits (the composite frees each chunk, in the backward too)', async () => {
    const [N, D, V] = [512, 8, 2048];
    const [h, W] = [tg.randn([N, D]).to('webgpu').requiresGrad_(), tg.randn([V, D]).to('webgpu').requiresGrad_()];
    const t = tg.randint(0, V, [N], { dtype: 'int32' }).to('webgpu');
    for (const reduction of ['mean', 'none'] as const) {
      const base = tg.memory().bytes;
      tg.resetPeakMemory();
      await tg.withScope(async () => {
        const loss = F.linearCrossEntropy(h, W, t, { chunkSize: 32, reduction });
        (reduction === 'none' ? loss.sum() : loss).backward();
        await h.grad!.data();
      });
      expect(tg.memory().peakBytes - base, reduction).toBeLessThan((N * V * 4) / 4);
      for (const p of [h, W]) p.grad = (p.grad?.dispose(), null);
    }
  });

  it('holds live GPU memory flat over training steps', async () => {
    const W = nn.parameter(tg.randn([50, 6]).to('webgpu'));
    const h = tg.randn([20, 6]).to('webgpu');
    const t = tg.randint(0, 50, [20], { dtype: 'int32' }).to('webgpu');
    const opt = new nn.optim.SGD([W], { lr: 0.1 });
    const step = async () => {
      using s = tg.scope();
      void s;
      opt.zeroGrad();
      const loss = F.linearCrossEntropy(h, W, t, { chunkSize: 7 });
      loss.backward();
      opt.step();
      return loss.item();
    };
    const first = await step();
    const before = tg.memory().devices.webgpu!;
    for (let i = 0; i < 3; i++) await step();
    expect(tg.memory().devices.webgpu!.tensors).toBe(before.tensors);
    expect(tg.memory().devices.webgpu!.bytes).toBe(before.bytes);
    expect(await step()).toBeLessThan(first);
  });
});
