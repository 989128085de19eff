// Parity of the nn kernels (losses, linear, conv2d, pooling, gelu, fused optimizer steps) against the
// CPU backend, on seeded random inputs: the forward outputs and, through backward with a
// random upstream gradient, the gradients of every differentiable input. Tolerances: 1e-5
// absolute + 1e-4 relative for forwards (float32 on the GPU; the CPU accumulates losses and
// convolutions in float64), 2e-5 + 2e-4 for gradients and optimizer steps (one more float32
// rounding per step). Shapes are small: lavapipe compiles every pipeline with LLVM.
import { beforeEach, expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { expectClose, gradParity, openDevice, type Tol } from './helpers.js';

const { gpuDescribe } = await openDevice();

beforeEach(() => tg.manualSeed(11));

const GRAD: Tol = { atol: 2e-5, rtol: 2e-4 };

/**
 * Run `fn` on the CPU inputs and on GPU copies: compare the output, then backward with the same
 * random upstream gradient on both devices and compare the gradient of each input in `grads`.
 */
gpuDescribe('losses', () => {
  it('crossEntropy: class indices, weights, ignoreIndex, label smoothing, every reduction', async () => {
    const x = tg.randn([9, 5]).mul(3);
    const t = tg.tensor([0, 4, 2, -100, 1, 3, 3, 0, 2], { dtype: 'int32' });
    const weight = tg.rand([5]).add(0.5);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      for (const w of [undefined, weight]) {
        for (const labelSmoothing of [0, 0.2]) {
          await gradParity(`crossEntropy ${reduction} weight=${!!w} ε=${labelSmoothing}`,
            (a, b) => nn.functional.crossEntropy(a, b, { reduction, weight: w?.device === a.device ? w : w?.to(a.device), labelSmoothing }), [x, t], [0]);
        }
      }
    }
  });

  it('crossEntropy: long rows (a workgroup per row), (N, C, d) input, a strided view, 1-d input, probability targets', async () => {
    await gradParity('crossEntropy C=600', (a, b) => nn.functional.crossEntropy(a, b), [tg.randn([3, 600]).mul(4), tg.randint(0, 600, [3])], [0]);
    await gradParity('crossEntropy (N, C, d)', (a, b) => nn.functional.crossEntropy(a, b, { reduction: 'none', ignoreIndex: 1 }), [tg.randn([2, 4, 3]), tg.randint(0, 4, [2, 3])], [0]);
    await gradParity('crossEntropy transposed', (a, b) => nn.functional.crossEntropy(a.transpose(0, 1), b, { labelSmoothing: 0.1 }), [tg.randn([6, 4]), tg.randint(0, 6, [4])], [0]);
    await gradParity('crossEntropy 1-d', (a, b) => nn.functional.crossEntropy(a, b), [tg.randn([7]), tg.tensor(3, { dtype: 'int32' })], [0]);
    await gradParity('crossEntropy probabilities', (a, b) => nn.functional.crossEntropy(a, b, { labelSmoothing: 0.1 }), [tg.randn([4, 5]), tg.softmax(tg.randn([4, 5]), 1)], [0, 1]);
  });

  it('every target ignored, or an empty batch, gives NaN under mean, as the CPU', async () => {
    const ignored = tg.tensor([-100, -100], { dtype: 'int32' });
    await gradParity('crossEntropy all ignored', (a, b) => nn.functional.crossEntropy(a, b), [tg.randn([2, 3]), ignored], [0]);
    await gradParity('nllLoss all ignored', (a, b) => nn.functional.nllLoss(a, b), [tg.randn([2, 3]), ignored], [0]);
    await gradParity('crossEntropy empty batch', (a, b) => nn.functional.crossEntropy(a, b, { reduction: 'sum' }), [tg.randn([0, 3]), tg.zeros([0], { dtype: 'int32' })], [0]);
  });

  it('crossEntropy: large logits, a NaN and an all -inf row give what the CPU gives', async () => {
    await gradParity('crossEntropy large logits', (a, b) => nn.functional.crossEntropy(a, b, { reduction: 'none', labelSmoothing: 0.1 }),
      [tg.randn([3, 5]).mul(1e4), tg.tensor([1, 4, 0], { dtype: 'int32' })], [0], { atol: 1e-2, rtol: 1e-4 });
    const x = tg.tensor([[1, 2, NaN], [-Infinity, -Infinity, -Infinity], [0.5, -1, 3]]);
    await gradParity('crossEntropy NaN and -inf', (a, b) => nn.functional.crossEntropy(a, b, { reduction: 'none' }), [x, tg.tensor([0, 1, 2], { dtype: 'int32' })], [0]);
  });

  it('a target out of range fails reads of the loss with the CPU message', async () => {
    const xc = tg.randn([3, 4]);
    const tc = tg.tensor([0, 7, 1], { dtype: 'int32' });
    const cpuErr = (() => { try { nn.functional.crossEntropy(xc, tc); } catch (e) { return e as Error; } })();
    const [x, t] = [xc.to('webgpu'), tc.to('webgpu')];
    expect(cpuErr).toBeInstanceOf(tg.IndexError);
    const loss = nn.functional.crossEntropy(x, t);
    await expect(loss.data()).rejects.toThrow(cpuErr!.message);
    const nll = nn.functional.nllLoss(x, t);
    await expect(nll.data()).rejects.toThrow(/nllLoss: target 7 is out of range for 4 classes \(at target index \[1\]\)/);
  });

  it('binaryCrossEntropy: values and gradients; an input outside [0, 1] fails reads of the loss with the CPU message', async () => {
    const p = tg.rand([4, 3]);
    await gradParity('binaryCrossEntropy', (a, b) => nn.functional.binaryCrossEntropy(a, b, { reduction: 'none' }), [p, tg.rand([4, 3])], [0]);
    const cases: [string, tg.Tensor][] = [
      ['above 1', tg.tensor([[0.5, 0.2, 0.1], [0.3, 1.01, 0]])],
      ['negative, strided view', tg.tensor([[0.5, 0.2, 0.1], [-0.25, 0.4, 1]]).transpose(0, 1)],
      ['NaN', tg.tensor([0.5, NaN, 0.25])],
      ['0-d', tg.tensor(3)],
    ];
    for (const [what, xc] of cases) {
      const target = tg.zerosLike(xc);
      const cpuErr = (() => { try { nn.functional.binaryCrossEntropy(xc, target); } catch (e) { return e as Error; } })();
      expect(cpuErr, what).toBeInstanceOf(tg.ValueError);
      const loss = nn.functional.binaryCrossEntropy(xc.to('webgpu'), target.to('webgpu'));
      await expect(loss.data(), what).rejects.toThrow(cpuErr!.message);
      // the error belongs to the loss: an unrelated read succeeds
      expect(await tg.zeros([1]).to('webgpu').data()).toEqual(new Float32Array([0]));
    }
  });

  it('nllLoss: weights, ignoreIndex, every reduction, (N, C, d) input', async () => {
    const x = tg.logSoftmax(tg.randn([8, 6]), 1);
    const t = tg.tensor([5, 0, 3, 3, -1, 2, 1, 4], { dtype: 'int32' });
    const weight = tg.rand([6]).add(0.5);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      for (const w of [undefined, weight]) {
        await gradParity(`nllLoss ${reduction} weight=${!!w}`, (a, b) => nn.functional.nllLoss(a, b, { reduction, ignoreIndex: -1, weight: w?.to(a.device) }), [x, t], [0]);
      }
    }
    await gradParity('nllLoss (N, C, d)', (a, b) => nn.functional.nllLoss(a, b, { reduction: 'none' }), [tg.randn([2, 3, 4]), tg.randint(0, 3, [2, 4])], [0]);
  });
});

gpuDescribe('conv2d', () => {
  const CASES: [string, number[], number[], nn.Conv2dOptions, boolean][] = [
    ['plain with bias', [2, 3, 7, 6], [4, 3, 3, 3], {}, true],
    ['stride, padding, dilation', [2, 2, 9, 8], [3, 2, 3, 2], { stride: [2, 1], padding: [1, 2], dilation: [2, 1] }, false],
    ['groups', [1, 4, 6, 6], [6, 2, 3, 3], { groups: 2, padding: 1, stride: 2 }, true],
    ['same padding, dilated, depthwise', [2, 3, 6, 5], [3, 1, 3, 3], { padding: 'same', dilation: 2, groups: 3 }, false],
  ];
  it.each(CASES)('%s: output and both gradients', async (what, xs, ws, options, bias) => {
    const inputs = [tg.randn(xs), tg.randn(ws), ...(bias ? [tg.randn([ws[0]!])] : [])];
    await gradParity(`conv2d ${what}`, (x, w, b) => nn.conv2d(x!, w!, b, options), inputs, bias ? [0, 1, 2] : [0, 1]);
  });
  it('a non-contiguous input', async () => {
    await gradParity('conv2d permuted', (x, w) => nn.conv2d(x!.permute([0, 3, 1, 2]), w!, null, { padding: 1 }), [tg.randn([2, 5, 5, 3]), tg.randn([2, 3, 3, 3])], [0, 1]);
  });
});

gpuDescribe('linear (one kernel: the bias added before the one rounding)', () => {
  it('2-d and 3-d input, with and without bias, through strided views of input, weight and bias', async () => {
    const w = tg.randn([6, 5]);
    const b = tg.randn([6]);
    await gradParity('linear 2-d', (x, w, b) => nn.linear(x, w, b), [tg.randn([4, 5]), w, b], [0, 1, 2]);
    await gradParity('linear 3-d, no bias', (x, w) => nn.linear(x, w), [tg.randn([2, 3, 5]), w], [0, 1]);
    // x transposed in its leading dims, W the transpose of a [5, 6] tensor, b every other element of 12
    await gradParity('linear strided', (x, w, b) => nn.linear(x, w, b), [tg.randn([3, 2, 5]).transpose(0, 1), tg.randn([5, 6]).transpose(0, 1), tg.randn([12]).narrow(0, 0, 12).reshape([6, 2]).select(1, 1)], [0, 1, 2]);
  });
  it('float16: the CPU\'s bits (a float32 sum plus bias, rounded once)', async () => {
    const [x, w, b] = [tg.randn([7, 33]), tg.randn([9, 33]), tg.randn([9]).mul(4)].map((t) => t.cast('float16'));
    const cpu = nn.linear(x!, w!, b);
    const gpu = nn.linear(x!.to('webgpu'), w!.to('webgpu'), b!.to('webgpu'));
    expect(Array.from(await gpu.cast('float32').data())).toEqual(Array.from(cpu.cast('float32').dataSync()));
  });
});

gpuDescribe('pooling', () => {
  it('maxPool2d with stride, padding, dilation and ties', async () => {
    await gradParity('maxPool2d', (x) => nn.maxPool2d(x!, 3, { stride: 2, padding: 1 }), [tg.randn([2, 3, 7, 8])], [0]);
    await gradParity('maxPool2d ceilMode', (x) => nn.maxPool2d(x!, 3, { stride: 2, ceilMode: true }), [tg.randn([1, 2, 8, 6])], [0]);
    await gradParity('maxPool2d dilation', (x) => nn.maxPool2d(x!, [2, 3], { stride: [1, 2], dilation: [2, 1] }), [tg.randn([1, 2, 7, 9])], [0]);
    // small integers: many ties, where the first index wins on both devices
    await gradParity('maxPool2d ties', (x) => nn.maxPool2d(x!, 2, { stride: 1 }), [tg.randint(0, 3, [1, 2, 5, 5]).cast('float32')], [0]);
    const x = tg.randn([1, 2, 6, 7]);
    const [, cpuIdx] = nn.maxPool2dWithIndices(x, 3, { stride: 2, padding: 1 });
    const [, gpuIdx] = nn.maxPool2dWithIndices(x.to('webgpu'), 3, { stride: 2, padding: 1 });
    expect(gpuIdx.dtype).toBe('int32');
    expect(Array.from(await gpuIdx.data())).toEqual(Array.from(cpuIdx.dataSync()));
  });
  it("maxPool2d takes a window's last NaN, as torch's CPU kernel", async () => {
    // indices from torch 1.13's F.max_pool2d(x, 2, return_indices=True): [4, 2]; with stride=1: [4, 1, 2]
    const x = tg.tensor([[[[1, NaN, 3, 2], [NaN, 0, 1, 1]]]]);
    for (const [options, indices] of [[{}, [4, 2]], [{ stride: 1 }, [4, 1, 2]]] as const) {
      for (const t of [x, x.to('webgpu')]) {
        const [values, idx] = nn.maxPool2dWithIndices(t, 2, options);
        expect(Array.from(await idx.data()), t.device).toEqual(indices);
        expect(Array.from(await values.data()).map(Number.isNaN), t.device).toEqual(indices.map((i) => i === 1 || i === 4));
      }
    }
  });
  it('avgPool2d with padding, countIncludePad, divisorOverride, ceilMode', async () => {
    const x = tg.randn([2, 2, 7, 6]);
    await gradParity('avgPool2d', (a) => nn.avgPool2d(a!, 3, { stride: 2, padding: 1 }), [x], [0]);
    await gradParity('avgPool2d no pad count', (a) => nn.avgPool2d(a!, 3, { stride: 2, padding: 1, countIncludePad: false, ceilMode: true }), [x], [0]);
    await gradParity('avgPool2d divisor', (a) => nn.avgPool2d(a!, [2, 3], { divisorOverride: 5 }), [x], [0]);
  });
});

gpuDescribe('gelu', () => {
  it('forward and backward', async () => {
    await gradParity('gelu', (x) => nn.gelu(x!), [tg.randn([5, 70]).mul(3)], [0]);
  });
});

gpuDescribe('fused optimizer steps', () => {
  type Make = (ps: tg.Tensor[]) => { step(): void; zeroGrad(): void };
  const OPTIMIZERS: [string, Make][] = [
    ['SGD momentum nesterov weightDecay', (ps) => new nn.optim.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
    ['SGD dampening maximize', (ps) => new nn.optim.SGD(ps, { lr: 0.05, momentum: 0.5, dampening: 0.3, maximize: true })],
    ['SGD plain', (ps) => new nn.optim.SGD(ps, { lr: 0.1 })],
    ['Adam amsgrad weightDecay', (ps) => new nn.optim.Adam(ps, { lr: 0.01, amsgrad: true, weightDecay: 0.1 })],
    ['AdamW', (ps) => new nn.optim.AdamW(ps, { lr: 0.01, weightDecay: 0.1 })],
  ];
  it.each(OPTIMIZERS)('%s: three steps match the CPU', async (_what, make) => {
    const init = tg.randn([4, 33]);
    const grads = [0, 1, 2].map(() => tg.randn([4, 33]));
    const run = (device: tg.Device) => {
      const p = init.clone().to(device).requiresGrad_();
      const opt = make([p]);
      for (const g of grads) {
        opt.zeroGrad();
        p.mul(g.to(device)).sum().backward(); // grad = g
        opt.step();
      }
      return p;
    };
    const cpu = run('cpu');
    const gpu = run('webgpu');
    expectClose(await gpu.data(), cpu.dataSync(), GRAD, 'parameters');
  });
});
