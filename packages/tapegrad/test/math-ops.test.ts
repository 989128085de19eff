import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { caseNames, checkCase } from './fixture-i16.js';
import { throws } from './helpers.js';

// Issue 16's elementwise math: sin, cos, erf, log1p, expm1, atan2, floor, ceil, round, isnan,
// isfinite. Values and gradients against PyTorch (fixtures/gen_i16-elementwise.py), gradients
// against finite differences, bad input. WebGPU's versions: backend-webgpu's parity.test.ts
// (every UNARY_OPS/BINARY_OPS row) and f32-math.test.ts.

const calls: Record<string, (...xs: tg.Tensor[]) => tg.Tensor> = {
  sin_large: tg.sin,
  cos_large: (x) => x.cos(),
  erf_f64_line: tg.erf,
  round_halves: (x) => tg.round(x),
  round_decimals: (x) => x.round(2),
  round_decimals_neg: (x) => tg.round(x, -2),
  round_decimals_f64: (x) => x.round(3),
  atan2: tg.atan2,
  atan2_bcast: (a, b) => a!.atan2(b!),
  atan2_int: tg.atan2,
  atan2_bool: tg.atan2,
  atan2_mixed: tg.atan2,
  atan2_special: tg.atan2,
};
for (const op of ['sin', 'cos', 'erf', 'log1p', 'expm1', 'floor', 'ceil', 'round', 'isnan', 'isfinite'] as const) {
  // the function form for the plain case, the method form for the others
  calls[op] = (x) => (tg[op] as (x: tg.Tensor) => tg.Tensor)(x);
  for (const variant of ['f32', 'f64', 'int', 'bool']) calls[`${op}_${variant}`] = (x) => (x[op] as () => tg.Tensor).call(x);
}
// bool inputs of the floating unary ops from before issue 16 (they used to be refused)
for (const op of ['exp', 'log', 'sqrt', 'tanh', 'sigmoid'] as const) calls[`${op}_bool`] = (x) => x[op]();

describe('math ops against PyTorch', () => {
  const names = caseNames(['sin', 'cos', 'erf', 'log1p', 'expm1', 'floor', 'ceil', 'round', 'isnan', 'isfinite', 'atan2', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid']);
  it('covers every case of theirs in the fixture', () => {
    expect(names.filter((k) => !calls[k])).toEqual([]);
    expect(names.length).toBeGreaterThan(40);
  });
  // erf over its whole line in float64: within about 2 ulp of torch's (glibc's), each within an ulp
  for (const name of names) it(name, () => checkCase(name, calls[name]!, name === 'erf_f64_line' ? 5e-16 : 1e-13));
});

tg.manualSeed(16);
const f64 = { dtype: 'float64' as const };
const rnd = (shape: number[], lo = -3, hi = 3) => tg.rand(shape, f64).mul(hi - lo).add(lo).detach().requiresGrad_();

describe('gradcheck', () => {
  const cases: [string, (...xs: tg.Tensor[]) => tg.Tensor, () => tg.Tensor[]][] = [
    ['sin', tg.sin, () => [rnd([2, 3])]],
    ['cos', (x) => x.cos(), () => [rnd([4])]],
    ['erf', tg.erf, () => [rnd([2, 3])]],
    ['erf, both regions of the float64 kernel', (x) => x.erf(), () => [tg.tensor([-2.5, -0.9, -0.3, 0.2, 0.99, 1.01, 3], f64).requiresGrad_()]],
    ['log1p', tg.log1p, () => [rnd([2, 3], -0.9, 4)]],
    ['expm1', (x) => x.expm1(), () => [rnd([3, 2])]],
    ['atan2, both inputs', tg.atan2, () => [rnd([2, 3]), rnd([2, 3])]],
    ['atan2, broadcast', (y, x) => y.atan2(x), () => [rnd([2, 1, 3]), rnd([4, 1])]],
    ['atan2 with a number', (y) => tg.atan2(y, -2), () => [rnd([3])]],
    // piecewise constant: away from the jumps the finite differences are 0, as the rules say
    ['floor', (x) => tg.floor(x).add(x), () => [tg.tensor([-1.7, -0.2, 0.3, 2.6], f64).requiresGrad_()]],
    ['ceil', (x) => x.ceil().mul(x), () => [tg.tensor([-1.7, -0.2, 0.3, 2.6], f64).requiresGrad_()]],
    ['round', (x) => x.round().add(x.square()), () => [tg.tensor([-1.7, -0.2, 0.3, 2.6], f64).requiresGrad_()]],
    ['round with decimals', (x) => x.round(1).add(x), () => [tg.tensor([-1.72, 0.33], f64).requiresGrad_()]],
  ];
  for (const [name, fn, inputs] of cases) it(name, () => {
    tg.tidy(() => {
      expect(tg.gradcheck(fn, inputs())).toBe(true);
    });
  });

  it('floor, ceil and round give zero gradients, as torch', () => {
    for (const op of ['floor', 'ceil', 'round'] as const) {
      const x = tg.tensor([0.4, 1.6], f64).requiresGrad_();
      tg[op](x).sum().backward();
      expect(Array.from(x.grad!.dataSync()), op).toEqual([0, 0]);
    }
  });
  it('isnan and isfinite are not differentiable', () => {
    const x = tg.tensor([1, NaN]).requiresGrad_();
    expect(x.isnan().requiresGrad).toBe(false);
    expect(x.isfinite().gradFn).toBeNull();
  });
});

describe('bad input', () => {
  it('floor, ceil and round of bool are not defined (as in torch)', () => {
    for (const op of ['floor', 'ceil', 'round'] as const) throws(() => tg[op](tg.tensor([true])), tg.DTypeError, new RegExp(`^${op}: not defined for bool tensors`));
  });
  it('round with decimals needs an integer count and a floating-point input', () => {
    throws(() => tg.round(tg.ones([2]), 1.5), tg.ValueError, /^round: decimals must be an integer; got 1.5/);
    throws(() => tg.ones([2], { dtype: 'int32' }).round(2), tg.DTypeError, /^round: decimals needs a floating-point input \(as in torch\); got int32/);
  });
  it('atan2 names both shapes when they do not broadcast', () => {
    throws(() => tg.atan2(tg.ones([2, 3]), tg.ones([4])), tg.ShapeError, /^atan2: shapes \[2, 3\] and \[4\] cannot be broadcast/);
  });
});
