import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { throws } from './helpers.js';

// Each kind of bad input gives a TapegradError whose message names the op, the argument,
// the shapes and what was expected.
const i32 = (data: number[] | number[][]) => tg.tensor(data as number[], { dtype: 'int32' });

// A second device without kernels, to check device mixing and missing-kernel errors.
tg.registerBackend({
  name: 'other',
  alloc: (dtype, n) => tg.allocArray(dtype, n),
  free: () => {},
  write: (h: tg.TypedArray, d) => h.set(d),
  read: async (h: tg.TypedArray) => h.slice(),
  run: () => {
    throw new Error('unreachable: no kernels are registered for other');
  },
});


describe('shape mismatches', () => {
  it('broadcasting names the op and both shapes', () => {
    throws(() => tg.add(tg.ones([2, 3]), tg.ones([4])), tg.ShapeError, /^add: shapes \[2, 3\] and \[4\] cannot be broadcast \(dim -1: 3 vs 4\)/);
    throws(() => tg.where(tg.ones([2]).gt(0), tg.ones([3]), 0), tg.ShapeError, /^where: shapes/);
  });
  it('matmul names the inner dims', () => {
    throws(() => tg.matmul(tg.ones([2, 3]), tg.ones([4, 5])), tg.ShapeError, /^matmul: shapes \[2, 3\] and \[4, 5\] cannot be multiplied .*inner dims 3 and 4 differ/);
    throws(() => tg.matmul(tg.ones([]), tg.ones([3])), tg.ShapeError, /^matmul: both arguments need at least 1 dim/);
    throws(() => tg.matmul(tg.ones([2, 2, 3]), tg.ones([3, 3, 1])), tg.ShapeError, /^matmul: shapes \[2\] and \[3\] cannot be broadcast/);
  });
  it('reshape, view, expand, cat, stack, gather', () => {
    throws(() => tg.ones([2, 3]).reshape(4, 2), tg.ShapeError, /^reshape: shape \[4, 2\] is invalid for input of size 6/);
    throws(() => tg.ones([2, 3]).T.view(6), tg.ShapeError, /^view: .*use reshape\(\)/);
    throws(() => tg.ones([2, 3]).expand(4, 3), tg.ShapeError, /^expand: cannot expand shape \[2, 3\] to \[4, 3\]/);
    throws(() => tg.cat([tg.ones([2, 3]), tg.ones([2, 4])], 0), tg.ShapeError, /^cat: tensor 1 has shape \[2, 4\]/);
    throws(() => tg.stack([tg.ones([2]), tg.ones([3])]), tg.ShapeError, /^stack: tensor 1 has shape \[3\]/);
    throws(() => tg.ones([2, 3]).gather(1, i32([0, 1])), tg.ShapeError, /^gather: index must have the same rank/);
    throws(() => tg.tensor([[1, 2], [3]] as number[][]), tg.ShapeError, /^tensor: ragged nested array/);
    throws(() => tg.ones([2]).backward(tg.ones([3])), tg.TapegradError, /does not require grad/);
  });
});

describe('wrong dtypes', () => {
  it('names the op and the dtype', () => {
    throws(() => tg.ones([2]).gather(0, tg.ones([2])), tg.DTypeError, /^gather: index must be an int32 tensor; got float32/);
    throws(() => i32([1, 2]).mean(), tg.DTypeError, /^mean: input must be floating point; got int32/);
    throws(() => tg.where(tg.ones([2]), 1, 0), tg.DTypeError, /^where: condition must be a bool tensor; got float32/);
    throws(() => i32([1]).requiresGrad_(), tg.DTypeError, /only floating-point tensors can require gradients; got int32/);
    throws(() => tg.sub(tg.tensor([true]), tg.tensor([false])), tg.DTypeError, /^sub: not defined for two bool tensors/);
    throws(() => tg.neg(tg.tensor([true])), tg.DTypeError, /^neg: not defined for bool tensors/);
    throws(() => i32([1, 2]).softmax(0), tg.DTypeError, /^softmax: input must be floating point; got int32/);
    throws(() => tg.zeros([2], { dtype: 'float8' as tg.DType }), tg.DTypeError, /must be one of/);
    throws(() => tg.rand([2], { dtype: 'int32' }), tg.DTypeError, /^rand: dtype must be floating point/);
  });
});

describe('out-of-range dims and indices', () => {
  it('dims', () => {
    throws(() => tg.ones([2, 3]).sum(2), tg.IndexError, /^sum: dim 2 is out of range for a tensor of rank 2 \(expected an integer in \[-2, 1\]\)/);
    throws(() => tg.ones([2, 3]).softmax(-3), tg.IndexError, /^softmax: dim -3 is out of range/);
    throws(() => tg.ones([2, 3]).transpose(0, 5), tg.IndexError, /^transpose: dim1 5 is out of range/);
    throws(() => tg.ones([2, 3]).narrow(1, 2, 2), tg.IndexError, /^narrow: start 2 and length 2 are out of range for dim 1 of size 3/);
    throws(() => tg.ones([2, 3]).sum([1, -1]), tg.ValueError, /^sum: dim \[1, -1\] names a dim more than once/);
    throws(() => tg.ones([2, 0]).max(1), tg.ValueError, /^max: cannot reduce over dim 1 of size 0/);
  });
  it('index values, with where they were found', () => {
    throws(() => tg.ones([2, 3]).gather(1, i32([[0, 1], [3, 0]])), tg.IndexError, /^gather: index 3 is out of range for dim 1 of size 3 \(at index \[1, 0\]\)/);
    throws(() => tg.ones([4]).indexSelect(0, i32([1, -1])), tg.IndexError, /^indexSelect: index -1 is out of range for dim 0 of size 4 \(at index \[1\]\)/);
    throws(() => tg.oneHot(i32([0, 5]), 3), tg.IndexError, /^oneHot: class 5 is out of range for 3 classes \(at index \[1\]\)/);
    throws(() => tg.zeros([3]).scatterAdd(0, i32([7]), tg.ones([1])), tg.IndexError, /^scatterAdd: index 7 is out of range/);
  });
  it('an integer to a negative integer power (a ValueError, as on WebGPU); only the exponent view is checked', () => {
    throws(() => i32([2, 3]).pow(i32([1, -1])), tg.ValueError, /^pow: integers to negative integer powers are not allowed \(exponent -1\)/);
    // the exponent is a view of [-1, 2, 3]: the -1 outside it is not an exponent
    expect(i32([2, 3]).pow(i32([-1, 2, 3]).narrow(0, 1, 2)).arraySync()).toEqual([4, 27]);
  });
});

describe('devices', () => {
  it('mixing devices names both', () => {
    const a = tg.ones([2]);
    const b = tg.ones([2], { device: 'other' });
    throws(() => tg.add(a, b), tg.DeviceError, /^add: expected all inputs on one device, but got inputs on 'cpu' and 'other'/);
  });
  it('a backend without a kernel says which op and backend', () => {
    throws(() => tg.exp(tg.ones([2], { device: 'other' })), tg.TapegradError, /^exp: no kernel for this op on backend 'other'/);
  });
  it('dataSync off the CPU says to await data()', async () => {
    const t = tg.tensor([1, 2], { device: 'other' });
    throws(() => t.dataSync(), tg.DeviceError, /use `await t.data\(\)`/);
    expect(Array.from(await t.data())).toEqual([1, 2]);
    throws(() => tg.ones([1], { device: 'nowhere' }), tg.DeviceError, /device 'nowhere' is not available/);
  });
});

describe('use after dispose and autograd misuse', () => {
  it('a disposed tensor cannot be used', () => {
    const t = tg.ones([2]);
    t.dispose();
    throws(() => t.add(1), tg.TapegradError, /^add: tensor of shape \[2\] was disposed/);
  });
  it('backward of a non-scalar without a gradient', () => {
    const x = tg.ones([3], { requiresGrad: true });
    throws(() => x.mul(2).backward(), tg.TapegradError, /^backward: grad can be implicitly created only for one-element outputs; got shape \[3\]/);
  });
  it('a second backward through a freed graph says to pass retainGraph', () => {
    const x = tg.ones([3], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward();
    throws(() => y.backward(), tg.TapegradError, /second time .*pass \{ retainGraph: true \}/);
  });
  it('in-place change of a leaf that requires grad', () => {
    throws(() => tg.ones([2], { requiresGrad: true }).add_(1), tg.TapegradError, /^add_: a leaf tensor that requires grad \(shape \[2\]\) cannot be modified in place while grad mode is on/);
  });
  it('tidy refuses async functions', () => {
    throws(() => tg.tidy((async () => 1) as never), tg.TapegradError, /tidy cannot span an await/);
  });
  it('ops given things that are not tensors', () => {
    throws(() => tg.add(tg.ones([1]), 'x' as never), tg.TapegradError, /^add: expected a Tensor or a number; got string/);
  });
  it('registering an op twice', () => {
    throws(() => tg.defineOp({ name: 'add', infer: () => [] }), tg.TapegradError, /an op named 'add' is already registered/);
  });
});
