// The multi-tensor (foreach) optimizer step on WebGPU: every parameter of a step in one dispatch,
// or in as few as the storage bindings allow. It must give the per-parameter kernels' bits (one
// optimizer per parameter steps each alone, with the single op), and the CPU's values.
import { expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { expectClose, openDevice } from './helpers.js';

const { backend, gpuDescribe } = await openDevice();

type Make = (params: tg.Tensor[]) => nn.optim.Optimizer<{ lr: number }>;
// with the buffers each parameter binds: the gradient, the parameter and its state
const cases: [string, Make, number][] = [
  ['SGD', (p) => new nn.optim.SGD(p, { lr: 0.1 }), 2],
  ['SGD momentum, nesterov, weight decay', (p) => new nn.optim.SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }), 3],
  ['Adam amsgrad', (p) => new nn.optim.Adam(p, { lr: 0.01, amsgrad: true }), 5],
  ['AdamW', (p) => new nn.optim.AdamW(p, { lr: 0.01, weightDecay: 0.1 }), 4],
];
const shapes = [[30, 40], [40], [2, 3, 5], [1], [300], [7, 1], [0, 3], [257]];

function params(device: 'cpu' | 'webgpu'): tg.Tensor[] {
  tg.manualSeed(1);
  return shapes.map((s) => nn.parameter(tg.randn(s).to(device)));
}
function setGrads(ps: tg.Tensor[], step: number): void {
  tg.manualSeed(1000 + step);
  for (const p of ps) {
    p.grad?.dispose();
    p.grad = tg.randn(p.shape).to(p.device);
  }
}
/** Dispatches of the last step (its state exists by then). */
let lastStep = 0;
async function run(make: Make, device: 'cpu' | 'webgpu', together: boolean, steps = 3): Promise<number[][]> {
  const ps = params(device);
  const opts = together ? [make(ps)] : ps.map((p) => make([p]));
  for (let step = 0; step < steps; step++) {
    setGrads(ps, step);
    const before = backend!.counters.dispatches;
    for (const o of opts) o.step();
    lastStep = backend!.counters.dispatches - before;
  }
  const out: number[][] = [];
  for (const p of ps) out.push(Array.from(await p.data()));
  for (const o of opts) for (const s of o.state.values()) for (const v of Object.values(s)) if (typeof v !== 'number') out.push(Array.from(await v.data()));
  for (const o of opts) o.zeroGrad(), o.dispose();
  for (const p of ps) p.dispose();
  return out;
}

gpuDescribe('the foreach optimizer step on WebGPU', () => {
  for (const [name, make, buffers] of cases) {
    it(`${name}: one dispatch per as many parameters as the bindings allow, the per-parameter kernels' bits, the CPU's values`, async () => {
      const gpu = await run(make, 'webgpu', true);
      // the metadata takes one storage binding (the software adapter allows 16: SGD's 8 parameters in 2 dispatches, AdamW's in 3)
      const per = Math.floor((backend!.limits.maxStorageBuffersPerShaderStage - 1) / buffers);
      expect(lastStep).toBe(Math.ceil(shapes.length / per));
      expect(lastStep).toBeLessThan(shapes.length);
      expect(gpu).toEqual(await run(make, 'webgpu', false));
      const cpu = await run(make, 'cpu', true);
      gpu.forEach((a, k) => expectClose(a, cpu[k]!, { atol: 1e-5, rtol: 1e-4 }, `tensor ${k}`));
    });
  }
  it('more parameters than the storage bindings allow take several dispatches, with the same bits', async () => {
    const limits = backend!.limits;
    const limit = limits.maxStorageBuffersPerShaderStage;
    const make: Make = (p) => new nn.optim.Adam(p, { lr: 0.01 });
    const expected = await run(make, 'webgpu', false);
    try {
      limits.maxStorageBuffersPerShaderStage = 9; // the metadata and two parameters of four buffers each
      expect(await run(make, 'webgpu', true)).toEqual(expected);
      expect(lastStep).toBe(Math.ceil(shapes.length / 2));
    } finally {
      limits.maxStorageBuffersPerShaderStage = limit;
    }
  });
  it('a gradient a checking kernel found bad is refused, as per parameter', async () => {
    const ps = params('webgpu');
    const o = new nn.optim.SGD(ps, { lr: 0.1 });
    setGrads(ps, 0);
    const bad = tg.tensor([0, 5], { dtype: 'int32' }).to('webgpu');
    // an index out of range: the gather's output, and so this gradient, carries its failure
    const g = tg.gather(tg.randn([2, 3]).to('webgpu'), 1, bad.reshape([2, 1])).reshape([2]).sum().expand(shapes[3]!).contiguous();
    ps[3]!.grad!.dispose();
    ps[3]!.grad = g;
    await backend!.sync().catch(() => {});
    expect(() => o.step()).toThrow(/gather/);
    o.zeroGrad();
    o.dispose();
    for (const p of ps) p.dispose();
  });
});
