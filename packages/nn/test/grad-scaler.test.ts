import '@tapegrad/backend-cpu';
import '@tapegrad/autograd';
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { DTypeError, Tensor, TapegradError, ValueError, memory, ones, tensor, tidy, zeros, type DType } from '@tapegrad/tensor';
import { amp, optim } from '../src/index.js';
import { runScenario, type ScalerFixture } from './grad-scaler-run.js';

// PyTorch 1.13 reference values written by fixtures/gen_grad-scaler.py (torch's GradScaler source
// run on the CPU, its two CUDA kernels transcribed; the docstring there says how).
const ref = JSON.parse(readFileSync(new URL('./fixtures/grad-scaler.json', import.meta.url), 'utf8')) as ScalerFixture;
const { GradScaler } = amp;

describe('GradScaler against PyTorch, step by step (CPU)', () => {
  for (const sc of ref.scenarios) {
    for (const dtype of Object.keys(sc.runs) as DType[]) {
      it(`${sc.name} (${dtype})`, async () => {
        await runScenario(ref, sc, dtype, 'cpu', 'step');
      });
    }
  }

  it('stepAsync takes the same steps as step on the CPU', async () => {
    await runScenario(ref, ref.scenarios[2]!, 'float64', 'cpu', 'stepAsync');
  });

  it('reads one value per optimizer per step, and leaves no tensor behind', async () => {
    const sc = ref.scenarios[2]!; // two optimizers
    const read = vi.spyOn(Tensor.prototype, 'itemSync');
    const before = memory().tensors;
    try {
      await runScenario(ref, sc, 'float64', 'cpu', 'step', {
        afterStep: () => {
          expect(read.mock.calls.length).toBe(2);
          read.mockClear();
        },
      });
    } finally {
      read.mockRestore();
    }
    expect(memory().tensors).toBe(before);
  });
});

describe('GradScaler: defaults, disabled, state dicts', () => {
  it("has PyTorch's defaults, and scale() multiplies by the scale", () => {
    const d = ref.defaults;
    const s = new GradScaler();
    expect(s.getScale()).toBe(d.before.scale);
    expect(s.stateDict()).toEqual(d.before.stateDict);
    expect([s.getGrowthFactor(), s.getBackoffFactor(), s.getGrowthInterval(), s.isEnabled()]).toEqual([d.growthFactor, d.backoffFactor, d.growthInterval, true]);
    const loss = tensor(d.loss, { dtype: 'float64' });
    const scaled = s.scale(loss);
    // PyTorch's result is float32 (its scale is a float32 tensor of shape [1]); tapegrad keeps the loss's dtype and shape
    expect(scaled.dtype).toBe('float64');
    expect(scaled.shape).toEqual([]);
    expect(Math.abs(scaled.itemSync() - d.scaledLoss) / d.scaledLoss).toBeLessThan(1e-7);
    const [a, b] = s.scale([ones([2]), tensor([3])]);
    expect([Array.from(a!.dataSync()), Array.from(b!.dataSync())]).toEqual([[65536, 65536], [196608]]);
  });

  it('disabled: scale() returns its input, step() is the optimizer step, the state dict is empty', () => {
    const d = ref.disabled;
    const s = new GradScaler({ enabled: false });
    const w = tensor(Float64Array.from(ref.w0.data), { shape: ref.w0.shape, dtype: 'float64' }).requiresGrad_();
    const b = tensor(Float64Array.from(ref.b0.data), { dtype: 'float64' });
    const x = tensor(Float64Array.from(ref.x.data), { shape: ref.x.shape, dtype: 'float64' });
    const y = tensor(Float64Array.from(ref.y.data), { shape: ref.y.shape, dtype: 'float64' });
    const opt = new optim.SGD([w], { lr: 0.1 });
    const loss = x.matmul(w).add(b).sub(y).square().mean();
    expect(s.scale(loss) === loss).toBe(d.scaleReturnsInput);
    loss.backward();
    s.unscale_(opt);
    s.step(opt);
    s.update();
    expect([s.getScale(), s.isEnabled(), s.stateDict()]).toEqual([d.scale, d.isEnabled, d.stateDict]);
    Array.from(w.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(d.w.data[i] as number, 12));
    s.loadStateDict({}); // does nothing when disabled, as PyTorch
  });

  it("loads PyTorch's state dict into a fresh scaler, through JSON", () => {
    const r = ref.resume;
    const s = new GradScaler({ initScale: 1, growthFactor: 1.5, backoffFactor: 0.9, growthInterval: 7 });
    s.loadStateDict(JSON.parse(JSON.stringify(r.saved)));
    expect(s.stateDict()).toEqual(r.loaded);
    expect(s.getScale()).toBe(r.scaleAfterLoad);
  });

  it('a scaler and optimizer restored mid-training continue as PyTorch’s did', async () => {
    await runScenario(ref, ref.scenarios[0]!, 'float64', 'cpu', 'step', { restoreAt: 5 });
    await runScenario(ref, ref.scenarios[1]!, 'float32', 'cpu', 'step', { restoreAt: 3 });
  });
});

describe('GradScaler refuses what PyTorch refuses', () => {
  const e = ref.errors;
  const ready = () => {
    const w = tensor([1, 2]).requiresGrad_();
    const opt = new optim.SGD([w], { lr: 0.1 });
    const s = new GradScaler();
    s.scale(w.square().sum()).backward();
    return { s, opt, w };
  };

  it('unscale_ twice, unscale_ after step, step twice', () => {
    let { s, opt } = ready();
    s.unscale_(opt);
    expect(() => s.unscale_(opt)).toThrow(e.unscaleTwice);
    ({ s, opt } = ready());
    s.step(opt);
    expect(() => s.unscale_(opt)).toThrow(e.unscaleAfterStep);
    expect(() => s.step(opt)).toThrow(e.stepTwice);
    expect(() => s.step(opt)).toThrow(TapegradError);
    s.update(); // and then a new iteration may step again
    s.scale(opt.paramGroups[0]!.params[0]!.square().sum()).backward();
    s.step(opt);
  });

  it('unscale_, step or update before any scale()', () => {
    const s = new GradScaler();
    const opt = new optim.SGD([tensor([1]).requiresGrad_()]);
    // PyTorch's assertion names its _scale tensor; the advice is the same
    const advice = e.unscaleBeforeScale.split('.  ')[1]!;
    expect(() => s.unscale_(opt)).toThrow(advice);
    expect(() => s.step(opt)).toThrow(advice);
    expect(() => s.update()).toThrow(advice);
  });

  it('step on an optimizer without gradients, update without any inf check', () => {
    const { s } = ready();
    const empty = new optim.SGD([zeros([2]).requiresGrad_()]);
    expect(() => s.step(empty)).toThrow(e.stepWithoutGradients);
    const s2 = new GradScaler();
    s2.scale(ones([1]));
    expect(() => s2.update()).toThrow(e.updateWithoutChecks);
  });

  it('bad outputs to scale, an empty state dict, bad options', () => {
    const s = new GradScaler();
    expect(() => s.scale(3 as unknown as Tensor)).toThrow(e.scaleNotATensor);
    expect(() => s.scale([ones([1]), 'x' as unknown as Tensor])).toThrow(ValueError);
    expect(() => s.loadStateDict({})).toThrow(e.loadEmpty);
    // PyTorch asserts growth_factor > 1 and backoff_factor < 1 ("The growth factor must be > 1.0."); tapegrad also
    // refuses factors and scales that cannot work (a backoff of 0 or less, a scale of 0, inf or NaN)
    expect(() => new GradScaler({ growthFactor: 1 })).toThrow('GradScaler: growthFactor must be a finite number > 1; got 1');
    expect(() => new GradScaler({ backoffFactor: 1 })).toThrow('GradScaler: backoffFactor must be in (0, 1); got 1');
    expect(() => new GradScaler({ backoffFactor: 0 })).toThrow(ValueError);
    expect(() => new GradScaler({ initScale: 0 })).toThrow('GradScaler: initScale must be a positive number within float32\'s range; got 0');
    expect(() => new GradScaler({ initScale: 1e39 })).toThrow(ValueError);
    expect(() => new GradScaler({ growthInterval: 1.5 })).toThrow('GradScaler: growthInterval must be an integer >= 1; got 1.5');
    expect(() => s.setGrowthFactor(0.5)).toThrow('GradScaler.setGrowthFactor: growthFactor must be a finite number > 1; got 0.5');
    s.scale(ones([1]));
    expect(() => s.update(NaN)).toThrow('GradScaler.update: newScale must be a positive number within float32\'s range; got NaN');
    const good = s.stateDict() as amp.GradScalerStateDict;
    expect(() => s.loadStateDict({ ...good, growth_interval: 0 })).toThrow('GradScaler.loadStateDict: growth_interval must be an integer >= 1; got 0');
    expect(() => s.loadStateDict({ ...good, _growth_tracker: -1 })).toThrow('GradScaler.loadStateDict: _growth_tracker must be an integer >= 0; got -1');
    expect(s.stateDict()).toEqual(good); // a refused state dict changed nothing
  });

  it('unscale_ of a gradient that is not floating point, or disposed', () => {
    const { s, opt, w } = ready();
    w.grad = tensor([1, 2], { dtype: 'int32' });
    expect(() => s.unscale_(opt)).toThrow(DTypeError);
    expect(() => s.unscale_(opt)).toThrow('GradScaler.unscale_: parameter 0 (shape [2]): its gradient is int32; only floating-point gradients (float32, float64) can be unscaled');
    w.grad = tidy(() => tensor([1, 2]).mul(1));
    w.grad.dispose();
    expect(() => s.unscale_(opt)).toThrow('GradScaler.unscale_: parameter 0 (shape [2]): its gradient was disposed');
    w.grad = tensor([2, 4]);
    s.unscale_(opt); // a refused unscale_ left the optimizer ready
  });
});
