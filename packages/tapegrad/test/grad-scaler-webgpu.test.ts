// nn.amp.GradScaler on WebGPU (the software adapter in CI; TAPEGRAD_REQUIRE_WEBGPU=1 makes a
// missing adapter a failure rather than a skip): the inf check is a reduction on the GPU and
// stepAsync reads one value per step. The scenarios and PyTorch's values are the CPU test's
// (packages/nn/test/fixtures/grad-scaler.json, from gen_grad-scaler.py), in float32.
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import * as tg from '../src/index.js';
import { runScenario, type ScalerFixture } from '../../nn/test/grad-scaler-run.js';
import { webgpuForTests } from './helpers.js';

const ref = JSON.parse(readFileSync(new URL('../../nn/test/fixtures/grad-scaler.json', import.meta.url), 'utf8')) as ScalerFixture;

const gpu = await webgpuForTests('GradScaler');
const gpuDescribe = gpu ? describe : describe.skip;

// a one-parameter model on WebGPU, its loss scaled and backpropagated
function setup() {
  const w = tg.tensor([0.5, -1, 2], { device: 'webgpu' }).requiresGrad_();
  const opt = new tg.optim.SGD([w], { lr: 0.1 });
  const scaler = new tg.amp.GradScaler({ growthInterval: 2 });
  const backward = (bad = false) =>
    tg.tidy(() => {
      opt.zeroGrad();
      scaler.scale(w.square().sum()).backward();
      if (bad) w.grad!.add_(tg.tensor([0, NaN, 0], { device: 'webgpu' }));
    });
  return { w, opt, scaler, backward };
}

gpuDescribe('GradScaler on WebGPU against PyTorch', () => {
  for (const sc of ref.scenarios.filter((s) => s.runs.float32)) {
    it(`${sc.name} (float32, stepAsync)`, async () => {
      await runScenario(ref, sc, 'float32', 'webgpu', 'stepAsync');
    });
  }

  it('a scaler restored mid-training on WebGPU continues as PyTorch’s did', async () => {
    await runScenario(ref, ref.scenarios[0]!, 'float32', 'webgpu', 'stepAsync', { restoreAt: 5 });
  });
});

gpuDescribe('GradScaler on WebGPU: reads', () => {
  it('stepAsync reads one value per step; scale(), unscale_, update and getScale read none', async () => {
    const { w, opt, scaler, backward } = setup();
    const reads = [vi.spyOn(tg.Tensor.prototype, 'data'), vi.spyOn(tg.Tensor.prototype, 'item')];
    const before = tg.memory().tensors;
    try {
      for (const bad of [false, true, false, false]) {
        backward(bad);
        scaler.unscale_(opt);
        await scaler.stepAsync(opt);
        scaler.update();
        expect(reads[1]!.mock.calls.length).toBe(1); // the inf check (item() reads through data())
        expect(reads[0]!.mock.calls.length).toBe(1);
        reads.forEach((r) => r.mockClear());
      }
      expect(scaler.getScale()).toBe(2 ** 16); // halved at the NaN, grown back after the two clean steps that followed
    } finally {
      reads.forEach((r) => r.mockRestore());
    }
    opt.zeroGrad();
    expect(tg.memory().tensors).toBe(before);
    w.dispose();
  });

  it('step() says to use stepAsync, and stepAsync then finishes the step', async () => {
    const { w, opt, scaler, backward } = setup();
    backward();
    expect(() => scaler.step(opt)).toThrow(tg.DeviceError);
    expect(() => scaler.step(opt)).toThrow("GradScaler.step: step(optimizer) reads the inf check of gradients on 'webgpu', which cannot be read synchronously; use `await scaler.stepAsync(optimizer)`");
    const was = Array.from(await w.data());
    await scaler.stepAsync(opt); // the gradients were unscaled once, by the first step()
    await expect(scaler.stepAsync(opt)).rejects.toThrow('step() has already been called since the last update().');
    scaler.update();
    const now = Array.from(await w.data());
    now.forEach((v, i) => expect(v).toBeCloseTo(was[i]! - 0.1 * 2 * was[i]!, 6));
    opt.zeroGrad();
    w.dispose();
  });

  it('an optimizer over parameters on the CPU and on WebGPU: one check per device, an inf on either skips the step', async () => {
    const a = tg.tensor([1, 2]).requiresGrad_();
    const b = tg.tensor([3], { device: 'webgpu' }).requiresGrad_();
    const opt = new tg.optim.SGD([a, b], { lr: 0.5 });
    const scaler = new tg.amp.GradScaler({ initScale: 4 });
    const read = vi.spyOn(tg.Tensor.prototype, 'item');
    for (const bad of [false, true]) {
      tg.tidy(() => {
        opt.zeroGrad();
        scaler.scale(a.square().sum()).backward();
        scaler.scale(b.square().sum()).backward();
        if (bad) a.grad!.add_(tg.tensor([Infinity, 0]));
      });
      const pending = scaler.stepAsync(opt);
      expect(() => scaler.update()).toThrow('GradScaler.update: a stepAsync(optimizer) has not finished; await it before update()');
      await pending;
      scaler.update();
    }
    expect(read.mock.calls.length).toBe(4);
    read.mockRestore();
    expect([Array.from(a.dataSync()), Array.from(await b.data()), scaler.getScale()]).toEqual([[0, 0], [0], 2]); // x − 0.5·2x, once; then skipped
    opt.zeroGrad();
    a.dispose();
    b.dispose();
  });

  it('update() after unscale_ alone cannot read the check synchronously, and says what to do', () => {
    const { w, opt, scaler, backward } = setup();
    backward();
    scaler.unscale_(opt);
    expect(() => scaler.update()).toThrow("GradScaler.update: update() reads the inf check of gradients on 'webgpu', which cannot be read synchronously; use `await scaler.stepAsync(optimizer) for every optimizer before update()`");
    opt.zeroGrad();
    w.dispose();
  });
});
