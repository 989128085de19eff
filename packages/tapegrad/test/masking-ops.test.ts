import { afterAll, describe, expect, it } from 'vitest';
import { cpuKernelInfo, setCpuKernelOptions } from '@tapegrad/backend-cpu';
import * as tg from '../src/index.js';
import { caseNames, checkCase } from './fixture-i16.js';
import { throws } from './helpers.js';

// Issue 16's masking and reduction ops: where with numbers, maskedFill / maskedFill_, tril,
// triu, any, all. Values and gradients against PyTorch (fixtures/gen_i16-elementwise.py),
// gradients against finite differences, in-place semantics, bad input. WebGPU's versions:
// backend-webgpu's parity-i16.test.ts.

const b = (data: boolean[] | boolean[][]) => tg.tensor(data as boolean[]);
const calls: Record<string, (...xs: tg.Tensor[]) => tg.Tensor> = {
  where_scalars_int: (c) => tg.where(c!, 0, 1),
  where_scalars_float: (c) => tg.where(c!, 0.5, -1),
  where_scalars_mixed: (c) => tg.where(c!, 2, 1.5),
  where_scalars_bool: (c) => tg.where(c!, true, false),
  where_tensor_float_scalar: (c, x) => tg.where(c!, x!, 2.5),
  where_f64_scalar: (c, x) => x!.where(c!, -1.25),
  where_int_scalar_int: (c, x) => x!.where(c!, 7),
  where_int_scalar_float: (c, x) => tg.where(c!, x!, 0.5),
  where_scalar_first: (c, x) => tg.where(c!, -3, x!),
  where_minus_inf: (c, x) => x!.where(c!, -Infinity),
  // an integer beside a float tensor is a float: it used to be typed from the bool condition, as
  // an int32 that 2^31 overflows (a ValueError)
  where_big_int_float_tensor: (c, x) => tg.where(c!, x!, 2 ** 31),
  masked_fill: (x, m) => x!.maskedFill(m!, -1.5),
  masked_fill_bcast_mask: (x, m) => x!.maskedFill(m!, -Infinity),
  masked_fill_bcast_out: (x, m) => tg.maskedFill(x!, m!, 2),
  masked_fill_value_tensor: (x, m, v) => x!.maskedFill(m!, v!),
  masked_fill_value_f64_into_f32: (x, m, v) => x!.maskedFill(m!, v!),
  masked_fill_int_fraction: (x, m) => x!.maskedFill(m!, 2.7),
  masked_fill_int_negative_fraction: (x, m) => x!.maskedFill(m!, -2.7),
  masked_fill_bool: (x, m) => x!.maskedFill(m!, 0.5),
  masked_fill_causal: (x) => x!.maskedFill(tg.ones([4, 4], { dtype: 'bool' }).triu(1), -Infinity).softmax(-1),
  masked_fill_inplace: (x, m) => x!.clone().maskedFill_(m!, 9),
};
for (const op of ['tril', 'triu'] as const) {
  Object.assign(calls, {
    [op]: (x: tg.Tensor) => tg[op](x),
    [`${op}_diag1`]: (x: tg.Tensor) => x[op](1),
    [`${op}_diag_neg`]: (x: tg.Tensor) => tg[op](x, -2),
    [`${op}_batched`]: (x: tg.Tensor) => x[op](-1),
    [`${op}_far`]: (x: tg.Tensor) => x[op](10),
    [`${op}_far_neg`]: (x: tg.Tensor) => x[op](-10),
    [`${op}_int`]: (x: tg.Tensor) => x[op](),
    [`${op}_bool`]: (x: tg.Tensor) => x[op](1),
    [`${op}_transposed`]: (x: tg.Tensor) => x.transpose(-1, -2)[op](),
  });
}
for (const op of ['any', 'all'] as const) {
  Object.assign(calls, {
    [op]: (x: tg.Tensor) => tg[op](x),
    [`${op}_dim0`]: (x: tg.Tensor) => x[op](0),
    [`${op}_dim1_keep`]: (x: tg.Tensor) => x[op](1, true),
    [`${op}_neg_dim`]: (x: tg.Tensor) => tg[op](x, -1),
    [`${op}_bool`]: (x: tg.Tensor) => x[op](1),
    [`${op}_int`]: (x: tg.Tensor) => x[op](),
    [`${op}_empty`]: (x: tg.Tensor) => x[op](),
    [`${op}_empty_dim`]: (x: tg.Tensor) => x[op](1),
    [`${op}_0d`]: (x: tg.Tensor) => x[op](),
  });
}

describe('masking and any/all against PyTorch', () => {
  const names = caseNames(['where', 'masked_fill', 'tril', 'triu', 'any', 'all']);
  it('covers every case of theirs in the fixture', () => {
    expect(names.filter((k) => !calls[k])).toEqual([]);
    expect(names.length).toBeGreaterThan(50);
  });
  for (const name of names) it(name, () => checkCase(name, calls[name]!));
});

tg.manualSeed(61);
const f64 = { dtype: 'float64' as const };
const rnd = (shape: number[]) => tg.randn(shape, f64).requiresGrad_();

describe('gradcheck', () => {
  const mask = () => b([[true, false, false], [false, true, true]]);
  const cases: [string, (...xs: tg.Tensor[]) => tg.Tensor, () => tg.Tensor[]][] = [
    ['maskedFill: x gets the gradient where the mask is false', (x) => x.maskedFill(mask(), -2).mul(x), () => [rnd([2, 3])]],
    ['maskedFill, broadcast mask and output', (x) => tg.maskedFill(x, b([[true], [false]]), 1).exp(), () => [rnd([3])]],
    ['maskedFill with a value tensor (its gradient sums where the mask is true)', (x, v) => x.maskedFill(mask(), v).square(), () => [rnd([2, 3]), rnd([])]],
    ['where with a number', (x) => x.where(mask(), 0.5).mul(x), () => [rnd([2, 3])]],
    ['tril', (x) => x.tril(-1).exp(), () => [rnd([2, 3, 4])]],
    ['triu of a transposed view', (x) => x.transpose(0, 1).triu(1).square(), () => [rnd([4, 3])]],
  ];
  for (const [name, fn, inputs] of cases) {
    it(name, () => {
      tg.tidy(() => {
        expect(tg.gradcheck(fn, inputs())).toBe(true);
      });
    });
  }
  it('any and all are not differentiable', () => {
    const x = tg.tensor([1, 0]).requiresGrad_();
    expect(x.any().requiresGrad).toBe(false);
    expect(x.all(0).gradFn).toBeNull();
  });
});

describe('maskedFill_ (in place)', () => {
  const values = (t: tg.Tensor) => Array.from(t.dataSync());
  it('writes into the tensor, its views and a strided view, and bumps the version', () => {
    const x = tg.arange(6).reshape(2, 3).cast('float32');
    const view = x.T;
    const v0 = x.version;
    expect(x.maskedFill_(b([true, false, true]), -1)).toBe(x);
    expect(values(x)).toEqual([-1, 1, -1, -1, 4, -1]);
    expect(x.version).toBe(v0 + 1);
    view.maskedFill_(b([[false, true]]), 7); // the transposed view: column 1 of x
    expect(values(x)).toEqual([-1, 1, -1, 7, 7, 7]);
    expect(x.version).toBe(v0 + 2);
  });
  it('converts the value to the tensor dtype, as torch', () => {
    expect(values(tg.tensor([1, 2, 3], { dtype: 'int32' }).maskedFill_(b([true, false, true]), -2.9))).toEqual([-2, 2, -2]);
    expect(values(tg.tensor([false, false]).maskedFill_(b([true, false]), 3))).toEqual([1, 0]);
  });
  it('a mask that is the tensor itself (bool) is read before it is written', () => {
    const m = b([true, false, true]);
    expect(values(m.maskedFill_(m, false))).toEqual([0, 0, 0]);
  });
  it('is recorded: the result takes the place of the tensor in the graph', () => {
    const w = tg.tensor([1, 2, 3], f64).requiresGrad_();
    const y = w.mul(2);
    y.maskedFill_(b([false, true, false]), 0);
    y.mul(y).sum().backward();
    // d/dw sum((2w)^2) where kept, 0 where filled
    expect(values(w.grad!)).toEqual([8, 0, 24]);
  });
  it('a value tensor that requires grad gets the gradient of the filled places', () => {
    const x = tg.zeros([3], f64);
    const v = tg.tensor(0.5, f64).requiresGrad_();
    x.maskedFill_(b([true, false, true]), v);
    x.mul(tg.tensor([1, 10, 100], f64)).sum().backward();
    expect(values(v.grad!)).toEqual([101]);
  });
  it('a tensor saved for backward, written since, is refused at backward', () => {
    const w = tg.tensor([1, 2], f64).requiresGrad_();
    const y = w.mul(1);
    const z = y.square();
    y.maskedFill_(b([true, false]), 5);
    expect(() => z.sum().backward()).toThrow(/input 0 of 'square'.*modified by an in-place operation/);
  });
  it('a leaf that requires grad, and storage a view shares, are refused in grad mode', () => {
    throws(() => tg.ones([2]).requiresGrad_().maskedFill_(b([true, false]), 0), tg.TapegradError, /^maskedFill_: a leaf tensor that requires grad \(shape \[2\]\) cannot be modified in place/);
    const y = tg.ones([2, 2], f64).requiresGrad_().mul(1);
    const view = y.T;
    throws(() => y.maskedFill_(b([true, false]), 0), tg.TapegradError, /^maskedFill_: cannot record an in-place op on a tensor \(shape \[2, 2\]\) whose storage a view shares/);
    view.dispose();
  });
});

// (both paths need SharedArrayBuffer: skipped in the suite's no-sab project)
describe.skipIf(!cpuKernelInfo().sharedMemoryAvailable)('maskedFill on each CPU path', () => {
  // wasm/elementwise.wat's where_scalar selects sixteen lanes at a time, flipped for where(c, s, x)
  // (maskedFill) and straight for where(c, x, s); without shared memory the TypeScript loop runs.
  const initial = cpuKernelInfo();
  afterAll(() => setCpuKernelOptions({ simd: 'auto', sharedMemory: initial.sharedMemory }));
  const run = (sharedMemory: boolean, n: number) => {
    setCpuKernelOptions({ simd: 'simd', sharedMemory });
    tg.manualSeed(3);
    const x = tg.randn([n]);
    const m = tg.rand([n]).lt(0.5);
    const inPlace = x.clone().maskedFill_(m, -Infinity);
    return {
      x: Array.from(x.dataSync()),
      m: Array.from(m.dataSync()),
      filled: Array.from(x.maskedFill(m, -Infinity).dataSync()),
      inPlace: Array.from(inPlace.dataSync()),
      kept: Array.from(x.where(m, 0.5).dataSync()),
    };
  };
  for (const n of [3, 64, 67, 8192]) {
    it(`${n} elements`, () => {
      const wasm = run(true, n), js = run(false, n);
      expect(wasm.filled).toEqual(wasm.x.map((v, i) => (wasm.m[i] ? -Infinity : v)));
      expect(wasm.inPlace).toEqual(wasm.filled);
      expect(wasm.kept).toEqual(wasm.x.map((v, i) => (wasm.m[i] ? v : 0.5)));
      expect(js).toEqual(wasm);
    });
  }
});

describe('bad input', () => {
  it('a mask that is not bool', () => {
    throws(() => tg.ones([3]).maskedFill(tg.ones([3]), 0), tg.DTypeError, /^maskedFill: mask must be a bool tensor; got float32/);
    throws(() => tg.ones([3]).maskedFill_(tg.ones([3], { dtype: 'int32' }), 0), tg.DTypeError, /^maskedFill_: mask must be a bool tensor; got int32/);
    throws(() => tg.maskedFill(tg.ones([3]), 1 as never, 0), tg.DTypeError, /^maskedFill: mask must be a bool tensor; got number/);
    throws(() => tg.where(true as never, 1, 0), tg.DTypeError, /^where: condition must be a bool tensor; got boolean/);
  });
  it('shapes that do not broadcast, and a mask that would grow the tensor written in place', () => {
    throws(() => tg.ones([2, 3]).maskedFill(b([true, false]), 0), tg.ShapeError, /^maskedFill: shapes \[2, 3\] and \[2\] cannot be broadcast \(dim -1: 3 vs 2\)/);
    throws(() => tg.ones([3]).maskedFill_(b([[true, false, true], [false, false, true]]), 0), tg.ShapeError, /^maskedFill_: mask shape \[2, 3\] cannot be broadcast to the shape \[3\] of the tensor written in place/);
    throws(() => tg.where(b([true, false]), tg.ones([3]), 0), tg.ShapeError, /^where: shapes \[2\] and \[3\] and \[\] cannot be broadcast/);
  });
  it('a value that is not a number or a 0-d tensor, or does not fit int32', () => {
    throws(() => tg.ones([3]).maskedFill(b([true, false, true]), tg.ones([1])), tg.ShapeError, /^maskedFill: value must be a number or a 0-d tensor; got a tensor of shape \[1\]/);
    throws(() => tg.ones([3]).maskedFill(b([true, false, true]), 'x' as never), tg.TapegradError, /^maskedFill: value must be a number, a boolean or a 0-d tensor; got string/);
    throws(() => tg.ones([2], { dtype: 'int32' }).maskedFill(b([true, false]), 3e9), tg.ValueError, /^maskedFill: value 3000000000 \(the fill value of an int32 tensor\) cannot be converted to int32 without overflow/);
    throws(() => tg.ones([2], { dtype: 'int32' }).maskedFill_(b([true, false]), NaN), tg.ValueError, /^maskedFill_: value NaN/);
  });
  it('tril and triu need a matrix and an integer diagonal', () => {
    throws(() => tg.ones([3]).tril(), tg.ShapeError, /^tril: input must have at least 2 dims \(the matrices are its last two\); got shape \[3\]/);
    throws(() => tg.triu(tg.ones([])), tg.ShapeError, /^triu: input must have at least 2 dims/);
    throws(() => tg.ones([2, 2]).triu(0.5), tg.ValueError, /^triu: diagonal must be an integer; got 0.5/);
  });
  it('any and all name a dim out of range', () => {
    throws(() => tg.ones([2, 3]).any(2), tg.IndexError, /^any: dim 2 is out of range for a tensor of rank 2/);
    throws(() => tg.all(tg.ones([2]), [0, 0]), tg.ValueError, /^all: dim \[0, 0\] names a dim more than once/);
  });
});
