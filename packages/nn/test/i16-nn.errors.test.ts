// Bad input to issue 16's layers and functions: each kind gives a TapegradError subclass whose
// message names the op, the argument, the shapes or values, and what was expected.
import './helpers.js';
import { describe, expect, it } from 'vitest';
import { DTypeError, IndexError, ShapeError, TapegradError, ValueError, ones, tensor, zeros } from '@tapegrad/tensor';
import { AdaptiveAvgPool2d, Conv1d, ConvTranspose2d, GroupNorm, functional as F } from '../src/index.js';

function throws(fn: () => unknown, type: new (...a: never[]) => Error, message: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected an error').toBeInstanceOf(type);
  expect(error).toBeInstanceOf(TapegradError);
  expect((error as Error).message).toMatch(message);
}
const i32 = (data: number[]) => tensor(data, { dtype: 'int32' });

describe('activations', () => {
  it('integer input, and attrs that are not finite numbers', () => {
    for (const [name, f] of [['silu', F.silu], ['mish', F.mish], ['hardswish', F.hardswish], ['leakyRelu', F.leakyRelu], ['elu', F.elu], ['softplus', F.softplus]] as const) {
      throws(() => f(i32([1, 2])), DTypeError, new RegExp(`^${name}: input must be a floating-point tensor; got int32`));
    }
    throws(() => F.leakyRelu(ones([2]), NaN), ValueError, /^leakyRelu: negativeSlope must be a finite number; got NaN/);
    throws(() => F.elu(ones([2]), Infinity), ValueError, /^elu: alpha must be a finite number; got Infinity/);
    throws(() => F.softplus(ones([2]), { beta: 0 }), ValueError, /^softplus: beta must be non-zero; got 0/);
    throws(() => F.softplus(ones([2]), { threshold: NaN }), ValueError, /^softplus: threshold must be a number; got NaN/);
  });
});

describe('conv1d and Conv1d', () => {
  it('ranks, channels, options, an empty output', () => {
    throws(() => F.conv1d(ones([2, 3, 4, 5]), ones([2, 3, 3])), ShapeError, /^conv1d: input must be \[N, C, L\] or unbatched \[C, L\]; got shape \[2, 3, 4, 5\]/);
    throws(() => F.conv1d(ones([2, 3, 5]), ones([2, 3])), ShapeError, /^conv1d: weight must be \[outChannels, inChannels \/ groups, k\]; got shape \[2, 3\]/);
    throws(() => F.conv1d(ones([2, 3, 5]), ones([2, 4, 3])), ShapeError, /^conv1d: input \[2, 3, 5\] has 3 channels but weight \[2, 4, 3\] with groups=1 expects 4/);
    throws(() => F.conv1d(ones([2, 3, 5]), ones([2, 3, 3]), null, { stride: 0 }), ValueError, /^conv1d: stride must be an integer >= 1; got 0/);
    throws(() => F.conv1d(ones([2, 3, 5]), ones([2, 3, 3]), null, { padding: -1 }), ValueError, /^conv1d: padding \(or 'valid' or 'same'\) must be an integer >= 0; got -1/);
    throws(() => F.conv1d(ones([2, 3, 5]), ones([2, 3, 4]), null, { padding: 'same' }), ValueError, /^conv1d: padding 'same' with kernel 4 and dilation 1 needs uneven padding/);
    throws(() => F.conv1d(ones([2, 3, 2]), ones([2, 3, 3])), ShapeError, /^conv1d: input \[2, 3, 2\] \(padded by 0\) is shorter than the dilated kernel \(3\); the output would be empty/);
    throws(() => new Conv1d(3, 4, 0), ValueError, /^Conv1d: kernelSize must be a positive integer; got 0/);
    throws(() => new Conv1d(3, 4, 3, { groups: 2 }), ValueError, /^Conv1d: groups=2 must be a positive integer dividing inChannels=3 and outChannels=4/);
  });
});

describe('convTranspose2d and ConvTranspose2d', () => {
  it('ranks, channels, bias, options, an empty output, an outputSize out of range', () => {
    const x = ones([1, 4, 3, 3]);
    throws(() => F.convTranspose2d(ones([4, 3]), ones([4, 2, 3, 3])), ShapeError, /^convTranspose2d: input must be \[N, C, H, W\] or unbatched \[C, H, W\]; got shape \[4, 3\]/);
    throws(() => F.convTranspose2d(x, ones([3, 2, 3, 3])), ShapeError, /^convTranspose2d: input \[1, 4, 3, 3\] has 4 channels but weight \[3, 2, 3, 3\] expects 3 \(weight is \[inChannels, outChannels \/ groups, kH, kW\]\)/);
    throws(() => F.convTranspose2d(x, ones([4, 2, 3, 3]), null, { groups: 3 }), ShapeError, /^convTranspose2d: input \[1, 4, 3, 3\] has 4 channels, not divisible by groups=3/);
    throws(() => F.convTranspose2d(x, ones([4, 2, 3, 3]), ones([3])), ShapeError, /^convTranspose2d: bias must be a float32 tensor of shape \[2\] \(outChannels\); got float32 \[3\]/);
    throws(() => F.convTranspose2d(x, ones([4, 2, 3, 3]), null, { stride: 2, outputPadding: 2 }), ValueError, /^convTranspose2d: outputPadding \[2, 2\] must be smaller than either stride \[2, 2\] or dilation \[1, 1\]/);
    throws(() => F.convTranspose2d(x, ones([4, 2, 3, 3]), null, { padding: 3 }), ShapeError, /^convTranspose2d: input \[1, 4, 3, 3\] with kernel \[3, 3\], stride \[1, 1\], padding \[3, 3\] and dilation \[1, 1\] gives an empty output \[-1, -1\]/);
    throws(() => F.convTranspose2d(x, ones([4, 2, 3, 3]).cast('float64')), DTypeError, /^convTranspose2d: weight dtype float64 must match input dtype float32/);
    throws(() => F.convTranspose2d(x, ones([4, 2, 3, 3]), null, { stride: [1, 0] }), ValueError, /^convTranspose2d: stride must be an integer >= 1 or a pair of them; got \[1,0\]/);
    throws(() => new ConvTranspose2d(4, 2, 3, { stride: 2 }).forward(x, [8, 5]), ValueError, /^convTranspose2d: requested an output size of \[8, 5\], but valid sizes range from \[7, 7\] to \[8, 8\] \(for an input of \[3, 3\]\)/);
    throws(() => new ConvTranspose2d(4, 6, 3, { groups: 4 }), ValueError, /^ConvTranspose2d: groups=4 must be a positive integer dividing inChannels=4 and outChannels=6/);
  });
});

describe('groupNorm and GroupNorm', () => {
  it('groups that do not divide the channels, parameter shapes, ranks', () => {
    throws(() => F.groupNorm(ones([2, 6, 3]), 4), ValueError, /^groupNorm: numGroups must be a positive integer dividing the 6 channels of input \[2, 6, 3\]; got 4/);
    throws(() => F.groupNorm(ones([2, 6, 3]), 2, ones([4])), ShapeError, /^groupNorm: weight must have shape \[6\] for input \[2, 6, 3\]; got \[4\]/);
    throws(() => F.groupNorm(ones([6]), 2), ShapeError, /^groupNorm: input must be \[N, C, \.\.\.\]; got \[6\]/);
    throws(() => new GroupNorm(4, 6), ValueError, /^GroupNorm: numGroups=4 must divide numChannels=6/);
    throws(() => new GroupNorm(2, 6).forward(ones([2, 4, 3])), ShapeError, /^GroupNorm: expected an input \[N, 6, \.\.\.\]; got shape \[2, 4, 3\]/);
  });
});

describe('adaptiveAvgPool2d', () => {
  it('sizes and ranks', () => {
    throws(() => F.adaptiveAvgPool2d(ones([2, 3, 4]), [0, 2]), ValueError, /^adaptiveAvgPool2d: outputSize must hold positive integers \(or null\); got \[0,2\]/);
    throws(() => F.adaptiveAvgPool2d(ones([2, 3, 4]), [1, 2, 3] as never), ValueError, /^adaptiveAvgPool2d: outputSize must be a number or \[outH, outW\]; got \[1,2,3\]/);
    throws(() => new AdaptiveAvgPool2d(2).forward(ones([4, 4])), ShapeError, /^adaptiveAvgPool2d: input must be \[N, C, H, W\] or unbatched \[C, H, W\]; got shape \[4, 4\]/);
    throws(() => F.adaptiveAvgPool2d(i32([1, 2, 3, 4]).reshape(1, 2, 2), 1), DTypeError, /^adaptiveAvgPool2d: input must be a floating-point tensor; got int32/);
  });
});

describe('interpolate', () => {
  it('size and scaleFactor, mode and rank, alignCorners', () => {
    const x = ones([1, 2, 3, 4]);
    throws(() => F.interpolate(x, {}), ValueError, /^interpolate: give exactly one of size and scaleFactor/);
    throws(() => F.interpolate(x, { size: 4, scaleFactor: 2 }), ValueError, /^interpolate: give exactly one of size and scaleFactor/);
    throws(() => F.interpolate(x, { size: [4, 5, 6] }), ValueError, /^interpolate: size must be a positive integer or 2 of them \(one per spatial dim\); got \[4,5,6\]/);
    throws(() => F.interpolate(x, { scaleFactor: -1 }), ValueError, /^interpolate: scaleFactor must be a positive number or 2 of them/);
    throws(() => F.interpolate(x, { scaleFactor: 0.2 }), ValueError, /^interpolate: input \[1, 2, 3, 4\] with scaleFactor \[0.2, 0.2\] gives an empty output \[0, 0\]/);
    throws(() => F.interpolate(x, { size: 4, mode: 'linear' }), ShapeError, /^interpolate: input must be 3-d \(\[N, C, \.\.\.spatial\]\) for mode 'linear'; got shape \[1, 2, 3, 4\]/);
    throws(() => F.interpolate(ones([2, 3]), { size: 4 }), ShapeError, /^interpolate: input must be 3-d or 4-d or 5-d \(\[N, C, \.\.\.spatial\]\) for mode 'nearest'; got shape \[2, 3\]/);
    throws(() => F.interpolate(x, { size: 4, mode: 'bicubic' as never }), ValueError, /^interpolate: mode must be 'nearest', 'linear' or 'bilinear'; got "bicubic"/);
    throws(() => F.interpolate(x, { size: 4, alignCorners: true }), ValueError, /^interpolate: alignCorners can only be set with the interpolating modes 'linear' and 'bilinear'/);
  });
});

describe('normalize, cosineSimilarity, oneHot', () => {
  it('p, eps, dims, dtypes and shapes', () => {
    throws(() => F.normalize(ones([2, 3]), { p: 0 }), ValueError, /^normalize: p must be a positive number \(or Infinity\); got 0/);
    throws(() => F.normalize(ones([2, 3]), { eps: -1 }), ValueError, /^normalize: eps must be a non-negative number; got -1/);
    throws(() => F.normalize(ones([2, 3]), { dim: 2 }), IndexError, /^normalize: dim 2 is out of range for a tensor of rank 2/);
    throws(() => F.normalize(i32([1, 2]).reshape(1, 2)), DTypeError, /^normalize: input must be a floating-point tensor; got int32/);
    throws(() => F.cosineSimilarity(ones([2, 3]), ones([4, 3])), ShapeError, /^cosineSimilarity: shapes \[2, 3\] and \[4, 3\] cannot be broadcast/);
    throws(() => F.cosineSimilarity(ones([2, 3]), ones([2, 3]), 2), IndexError, /^cosineSimilarity: dim 2 is out of range for a tensor of rank 2/);
    throws(() => F.oneHot(i32([0, 3]), 3), IndexError, /^oneHot: class 3 is out of range for 3 classes \(at index \[1\]\)/);
    throws(() => F.oneHot(zeros([2])), DTypeError, /^oneHot: index must be an int32 tensor; got float32/);
  });
});
