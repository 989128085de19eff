import { describe, expect, it } from 'vitest';
import './helpers.js';
import { noGrad } from '@tapegrad/autograd';
import { ShapeError, compile, dispatch, manualSeed, randn, type DType, type Tensor } from '@tapegrad/tensor';
import { optim, parameter } from '../src/index.js';

// The multi-tensor (foreach) step: one kernel call updates every parameter of an optimizer step
// that shares an op, device and dtype. It must leave exactly what the per-parameter step leaves:
// the reference here is one optimizer per parameter, whose step is the single fused op.

type Make = (params: Tensor[]) => optim.Optimizer<{ lr: number }>;
const cases: [string, Make][] = [
  ['SGD', (p) => new optim.SGD(p, { lr: 0.1 })],
  ['SGD momentum, weight decay', (p) => new optim.SGD(p, { lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 })],
  ['SGD nesterov, maximize', (p) => new optim.SGD(p, { lr: 0.05, momentum: 0.8, nesterov: true, maximize: true })],
  ['Adam', (p) => new optim.Adam(p, { lr: 0.01 })],
  ['Adam amsgrad, L2 decay', (p) => new optim.Adam(p, { lr: 0.01, amsgrad: true, weightDecay: 0.1 })],
  ['AdamW', (p) => new optim.AdamW(p, { lr: 0.01, betas: [0.8, 0.99] })],
];
const shapes = [[3, 4], [4], [2, 3, 5], [1], [7, 1], [0, 3]];
const bits = (t: Tensor) => Array.from(t.dataSync());

function params(dtype: DType, seed: number): Tensor[] {
  manualSeed(seed);
  return shapes.map((s) => parameter(randn(s, { dtype })));
}
function setGrads(ps: Tensor[], step: number): void {
  manualSeed(1000 + step);
  for (const p of ps) {
    p.grad?.dispose();
    p.grad = randn(p.shape, { dtype: p.dtype });
  }
}

describe('the foreach optimizer step equals the per-parameter step, bit for bit', () => {
  for (const dtype of ['float32', 'float64', 'float16', 'bfloat16'] as const) {
    for (const [name, make] of cases) {
      it(`${name}, ${dtype}: four steps, parameters and state`, () => {
        const all = params(dtype, 1), one = params(dtype, 1);
        const together = make(all), apart = one.map((p) => make([p]));
        for (let step = 0; step < 4; step++) {
          setGrads(all, step);
          setGrads(one, step);
          together.step();
          for (const o of apart) o.step();
          all.forEach((p, k) => {
            expect(bits(p), `step ${step}, parameter ${k}`).toEqual(bits(one[k]!));
            expect(p.version, `step ${step}, version ${k}`).toBe(one[k]!.version);
            for (const [key, v] of Object.entries(together.state.get(p)!)) {
              const w = apart[k]!.state.get(one[k]!)![key]!;
              if (typeof v === 'number') expect(v, `state ${key}`).toBe(w);
              else expect(bits(v), `step ${step}, state ${key} of ${k}`).toEqual(bits(w as Tensor));
            }
          });
        }
      });
    }
  }
  it('one kernel call per op and dtype: a compiled step of six parameters (and of two dtypes) records one or two', () => {
    const ps = params('float32', 2);
    const o = new optim.SGD(ps, { lr: 0.1 });
    setGrads(ps, 0);
    const step = compile(() => o.step());
    step();
    expect(step.stats().graphs[0]!.kernels).toBe(1);
    const mixed = [...params('float32', 3), ...params('float64', 4)];
    setGrads(mixed, 0);
    const o2 = new optim.SGD(mixed, { lr: 0.1 });
    const step2 = compile(() => o2.step());
    step2();
    expect(step2.stats().graphs[0]!.kernels).toBe(2);
  });
  it('a parameter without a gradient is left out, and the rest still step together', () => {
    const all = params('float32', 5), one = params('float32', 5);
    const together = new optim.Adam(all, { lr: 0.1 }), apart = one.map((p) => new optim.Adam([p], { lr: 0.1 }));
    for (let step = 0; step < 3; step++) {
      setGrads(all, step);
      setGrads(one, step);
      // parameter 1 skips the middle step: its step count falls behind the others'
      if (step === 1) for (const ps of [all, one]) ps[1]!.grad = null;
      together.step();
      for (const o of apart) o.step();
    }
    all.forEach((p, k) => expect(bits(p), `parameter ${k}`).toEqual(bits(one[k]!)));
    expect(together.state.get(all[1]!)!.step).toBe(2);
    expect(together.state.get(all[0]!)!.step).toBe(3);
  });
  it('a bad foreach call names the op, the parameter and the shapes', () => {
    const a = parameter(randn([2, 3])), b = parameter(randn([4]));
    const attrs = { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, init: false };
    noGrad(() => {
      expect(() => dispatch('sgdStepForeach', [a, randn([2, 3]), b, randn([5])], { each: [attrs, attrs] })).toThrow(ShapeError);
      expect(() => dispatch('sgdStepForeach', [a, randn([2, 3]), b, randn([5])], { each: [attrs, attrs] })).toThrow(
        'sgdStepForeach: parameter 1: input 3 is float32 [5], but the parameter is float32 [4]',
      );
      expect(() => dispatch('sgdStepForeach', [a, randn([2, 3]), b], { each: [attrs, attrs] })).toThrow(/got 3 inputs for 2 parameters/);
    });
  });
});
