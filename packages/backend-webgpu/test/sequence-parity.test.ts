// The sequence models (issue 16) on WebGPU against the CPU, float32, one configuration each: the
// same module on both devices (the GPU copy loads the CPU one's state dict), the same inputs,
// then every output and, after backward from a random upstream gradient per output, the gradient
// of every input and parameter. They are composites of ops each checked in parity.test.ts; this
// checks the composition (views, splits, masks, batched products) on the device. Tolerances as
// nn-parity.test.ts's; gradients through a sequence's steps accumulate one rounding per step.
import { beforeEach, expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { expectClose, openDevice, type Tol } from './helpers.js';

const { gpuDescribe } = await openDevice();

beforeEach(() => tg.manualSeed(16));

const FWD: Tol = { atol: 1e-5, rtol: 1e-4 };
const GRAD: Tol = { atol: 5e-5, rtol: 5e-4 };

/**
 * Build the module twice (CPU, and a copy moved to the GPU), run `fn` on each with the inputs (the
 * first `nGrad` of them need gradients), compare the outputs, backpropagate the same random
 * upstream gradients and compare the inputs' and parameters' gradients.
 */
async function moduleParity<M extends nn.Module>(what: string, make: () => M, fn: (m: M, ...xs: tg.Tensor[]) => tg.Tensor[], inputs: tg.Tensor[], nGrad: number): Promise<void> {
  const cpu = make();
  const gpu = make();
  gpu.loadStateDict(cpu.stateDict());
  gpu.to('webgpu');
  const cpuIn = inputs.map((t, i) => (i < nGrad ? t.clone().requiresGrad_() : t));
  const gpuIn = inputs.map((t, i) => (i < nGrad ? t.to('webgpu').requiresGrad_() : t.to('webgpu')));
  const expected = fn(cpu, ...cpuIn);
  const actual = fn(gpu, ...gpuIn);
  const ups = expected.map((e) => tg.randn(e.shape));
  for (const [k, e] of expected.entries()) {
    expect(actual[k]!.device, what).toBe('webgpu');
    expect(actual[k]!.shape, `${what} output ${k}`).toEqual(e.shape);
    expectClose(await actual[k]!.data(), e.dataSync(), FWD, `${what} output ${k}`);
  }
  const loss = (outs: tg.Tensor[], device: tg.Device) => outs.map((o, k) => o.mul(ups[k]!.to(device)).sum()).reduce((a, b) => a.add(b));
  loss(expected, 'cpu').backward();
  loss(actual, 'webgpu').backward();
  for (let i = 0; i < nGrad; i++) expectClose(await gpuIn[i]!.grad!.data(), cpuIn[i]!.grad!.dataSync(), GRAD, `${what} grad of input ${i}`);
  const gpuParams = new Map(gpu.namedParameters());
  for (const [name, p] of cpu.namedParameters()) expectClose(await gpuParams.get(name)!.grad!.data(), p.grad!.dataSync(), GRAD, `${what} grad of ${name}`);
}

/** A module without parameters, for moduleParity to run a function. */
class NoParameters extends nn.Module {
  forward(): never {
    throw new Error('not called');
  }
}

gpuDescribe('sequence models on WebGPU match the CPU', () => {
  it('LSTM: 2 layers, bidirectional, batch first, initial states', async () => {
    await moduleParity('LSTM', () => new nn.LSTM(5, 6, { numLayers: 2, bidirectional: true, batchFirst: true }),
      (m, x, h, c) => { const [o, [hn, cn]] = m.forward(x!, [h!, c!]); return [o, hn, cn]; },
      [tg.randn([3, 4, 5]), tg.randn([4, 3, 6]), tg.randn([4, 3, 6])], 3);
  });
  it('GRU: 2 layers; RNN (relu); the three cells', async () => {
    await moduleParity('GRU', () => new nn.GRU(5, 6, { numLayers: 2 }), (m, x) => m.forward(x!), [tg.randn([4, 3, 5])], 1);
    await moduleParity('RNN', () => new nn.RNN(5, 6, { nonlinearity: 'relu', bidirectional: true }), (m, x, h) => m.forward(x!, h), [tg.randn([4, 3, 5]), tg.randn([2, 3, 6])], 2);
    await moduleParity('LSTMCell', () => new nn.LSTMCell(5, 6), (m, x, h, c) => m.forward(x!, [h!, c!]), [tg.randn([3, 5]), tg.randn([3, 6]), tg.randn([3, 6])], 3);
    await moduleParity('GRUCell', () => new nn.GRUCell(5, 6), (m, x) => [m.forward(x!)], [tg.randn([5])], 1);
    await moduleParity('RNNCell', () => new nn.RNNCell(5, 6), (m, x, h) => [m.forward(x!, h)], [tg.randn([3, 5]), tg.randn([3, 6])], 2);
  });
  it('MultiheadAttention: kdim/vdim, bool attention and key padding masks, per-head weights', async () => {
    const attnMask = tg.tensor([[false, true, false, false, true], [false, false, false, true, true], [false, false, false, false, false], [false, true, true, true, true]]);
    const kpm = tg.tensor([[false, false, false, true, false], [false, false, false, false, false]]);
    await moduleParity('MultiheadAttention', () => new nn.MultiheadAttention(8, 2, { kdim: 6, vdim: 4, batchFirst: true }),
      (m, q, k, v, am, pm) => { const [o, w] = m.forward(q!, k!, v!, { attnMask: am, keyPaddingMask: pm, averageAttnWeights: false }); return [o, w!]; },
      [tg.randn([2, 4, 8]), tg.randn([2, 5, 6]), tg.randn([2, 5, 4]), attnMask, kpm], 3);
  });
  it('scaledDotProductAttention: causal, and a float mask', async () => {
    await moduleParity('sdpa causal', () => new NoParameters(), (_, q, k, v) => [nn.functional.scaledDotProductAttention(q!, k!, v!, { isCausal: true })],
      [tg.randn([2, 3, 5, 4]), tg.randn([2, 3, 5, 4]), tg.randn([2, 3, 5, 6])], 3);
    await moduleParity('sdpa float mask', () => new NoParameters(), (_, q, k, v, m) => [nn.functional.scaledDotProductAttention(q!, k!, v!, { attnMask: m, scale: 0.3 })],
      [tg.randn([4, 3]), tg.randn([6, 3]), tg.randn([6, 2]), tg.randn([4, 6])], 3);
  });
  it('TransformerEncoderLayer (post-norm, causal mask) and TransformerDecoderLayer (pre-norm, gelu, padding masks)', async () => {
    const noDropout = { dimFeedforward: 16, dropout: 0 };
    await moduleParity('TransformerEncoderLayer', () => new nn.TransformerEncoderLayer(8, 2, noDropout),
      (m, x, mask) => [m.forward(x!, { srcMask: mask })], [tg.randn([5, 2, 8]), nn.generateSquareSubsequentMask(5)], 1);
    const tgtPad = tg.tensor([[false, false, false, true], [false, false, false, false]]);
    await moduleParity('TransformerDecoderLayer', () => new nn.TransformerDecoderLayer(8, 2, { ...noDropout, normFirst: true, activation: 'gelu', batchFirst: true }),
      (m, t, mem, pad) => [m.forward(t!, mem!, { tgtKeyPaddingMask: pad })], [tg.randn([2, 4, 8]), tg.randn([2, 5, 8]), tgtPad], 2);
  });
});
