import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { caseNames, checkCase } from './fixture-i16.js';
import { throws } from './helpers.js';

// where with numbers: values against PyTorch (fixtures/gen_i16-elementwise.py), gradients
// against finite differences, bad input.

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
};

describe('where with numbers against PyTorch', () => {
  const names = caseNames(['where']);
  it('covers every case of theirs in the fixture', () => {
    expect(names.filter((k) => !calls[k])).toEqual([]);
    expect(names.length).toBeGreaterThan(10);
  });
  for (const name of names) it(name, () => checkCase(name, calls[name]!));
});

tg.manualSeed(61);
const f64 = { dtype: 'float64' as const };

describe('gradcheck', () => {
  it('where with a number', () => {
    tg.tidy(() => {
      const mask = b([[true, false, false], [false, true, true]]);
      expect(tg.gradcheck((x) => x.where(mask, 0.5).mul(x), [tg.randn([2, 3], f64).requiresGrad_()])).toBe(true);
    });
  });
});

describe('bad input', () => {
  it('a condition that is not a bool tensor', () => {
    throws(() => tg.where(true as never, 1, 0), tg.DTypeError, /^where: condition must be a bool tensor; got boolean/);
  });
  it('shapes that do not broadcast', () => {
    throws(() => tg.where(b([true, false]), tg.ones([3]), 0), tg.ShapeError, /^where: shapes \[2\] and \[3\] and \[\] cannot be broadcast/);
  });
});
