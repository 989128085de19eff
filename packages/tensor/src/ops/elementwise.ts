import { int32Value, isFloating, resultType, type DType } from '../dtype.js';
import { DTypeError, ShapeError, TapegradError, ValueError } from '../errors.js';
import { run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { broadcastShapes, fmt, shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { tidy } from '../memory.js';
import { full } from '../creation.js';
import { isTensor, withOperands, type TensorLike } from './operand.js';

/**
 * Elementwise op families. Each name here is one op: its definition is generated from the
 * table, its kernels live in each backend's elementwise file, its gradient in autograd's
 * grads/elementwise.ts.
 */
export const UNARY_OPS = [
  'neg', 'abs', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'relu', 'sign', 'square',
  // issue 16: math, rounding and tests
  'sin', 'cos', 'erf', 'log1p', 'expm1', 'floor', 'ceil', 'round', 'isnan', 'isfinite',
] as const;
/** Names of the binary elementwise ops (they broadcast). */
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'atan2'] as const;
/** Names of the comparison ops (they broadcast and return bool). */
export const COMPARE_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
/** A unary elementwise op name. */
export type UnaryOp = (typeof UNARY_OPS)[number];
/** A binary elementwise op name. */
export type BinaryOp = (typeof BINARY_OPS)[number];
/** A comparison op name. */
export type CompareOp = (typeof COMPARE_OPS)[number];

// Ops whose result is floating even for integer input, as in PyTorch (int -> float32).
const FLOAT_RESULT = new Set<string>(['exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'div', 'sin', 'cos', 'erf', 'log1p', 'expm1', 'atan2']);
// Unary ops defined for bool tensors: the floating ones and the tests, as in PyTorch (abs, which
// PyTorch refuses, was accepted before and stays). The others raise, as PyTorch's do.
const BOOL_INPUT = new Set<string>(['abs', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'sin', 'cos', 'erf', 'log1p', 'expm1', 'isnan', 'isfinite']);
// Tests of a value: bool results, no gradient.
const PREDICATE = new Set<string>(['isnan', 'isfinite']);

for (const name of UNARY_OPS) {
  defineOp({
    name,
    differentiable: !PREDICATE.has(name),
    infer: ([x]) => {
      if (x!.dtype === 'bool' && !BOOL_INPUT.has(name)) throw new DTypeError(`${name}: not defined for bool tensors`);
      const dtype = PREDICATE.has(name) ? 'bool' : FLOAT_RESULT.has(name) && !isFloating(x!.dtype) ? 'float32' : x!.dtype;
      return [{ shape: x!.shape, dtype }];
    },
  });
}
function binaryType(name: string, a: Tensor, b: Tensor): DType {
  const t = resultType([a, b].map((x) => ({ dtype: x.dtype, zeroDim: x.ndim === 0 })));
  if (FLOAT_RESULT.has(name) && !isFloating(t)) return 'float32';
  if (t === 'bool' && (name === 'sub' || name === 'div' || name === 'pow')) {
    throw new DTypeError(`${name}: not defined for two bool tensors`);
  }
  return t;
}
for (const name of BINARY_OPS) {
  defineOp({ name, infer: ([a, b]) => [{ shape: broadcastShapes(name, a!.shape, b!.shape), dtype: binaryType(name, a!, b!) }] });
}
for (const name of COMPARE_OPS) {
  defineOp({ name, differentiable: false, infer: ([a, b]) => [{ shape: broadcastShapes(name, a!.shape, b!.shape), dtype: 'bool' }] });
}

// relu's gradient, g where y = relu(x) > 0 and 0 elsewhere (torch's threshold_backward), as one op:
// where(gt(y, 0), g, 0) would dispatch two ops, a bool mask and two scalar tensors every step.
defineOp({
  name: 'reluBackward',
  differentiable: false,
  infer: ([g, y]) => {
    if (!shapesEqual(g!.shape, y!.shape)) throw new ShapeError(`reluBackward: gradient ${fmt(g!.shape)} and relu output ${fmt(y!.shape)} must have one shape`);
    return [{ shape: g!.shape, dtype: g!.dtype }];
  },
});

/** Attrs of clamp (infinite where a bound is omitted). */
export interface ClampAttrs {
  min: number;
  max: number;
}
defineOp<ClampAttrs>({
  name: 'clamp',
  infer: ([x], { min, max }) => {
    if (x!.dtype === 'bool') throw new DTypeError('clamp: not defined for bool tensors');
    if (Number.isNaN(min) || Number.isNaN(max)) throw new ValueError('clamp: min and max must not be NaN');
    const fractional = [min, max].some((v) => Number.isFinite(v) && !Number.isInteger(v));
    const dtype = fractional && !isFloating(x!.dtype) ? 'float32' : x!.dtype;
    // an int32 bound beyond int32's range would wrap into the result (PyTorch raises too)
    if (dtype === 'int32') for (const v of [min, max]) if (Number.isFinite(v)) int32Value('clamp', v, ` (a bound of the int32 input)`);
    return [{ shape: x!.shape, dtype }];
  },
});

defineOp({
  name: 'where',
  infer: ([cond, a, b]) => {
    if (cond!.dtype !== 'bool') throw new DTypeError(`where: condition must be a bool tensor; got ${cond!.dtype}`);
    return [{ shape: broadcastShapes('where', cond!.shape, a!.shape, b!.shape), dtype: binaryType('where', a!, b!) }];
  },
});

const unary = (name: UnaryOp) => (x: Tensor) => run(name, [x]);
const binary = (name: BinaryOp | CompareOp) => (a: TensorLike, b: TensorLike) => withOperands(name, [a, b], (ts) => run(name, ts));

/** -x, elementwise. */
export const neg = unary('neg');
/** |x|, elementwise. */
export const abs = unary('abs');
/** e^x, elementwise. */
export const exp = unary('exp');
/** Natural logarithm, elementwise. */
export const log = unary('log');
/** Square root, elementwise. */
export const sqrt = unary('sqrt');
/** Hyperbolic tangent, elementwise. */
export const tanh = unary('tanh');
/** 1 / (1 + e^-x), computed without overflow, elementwise. */
export const sigmoid = unary('sigmoid');
/** max(x, 0), elementwise. */
export const relu = unary('relu');
/** -1, 0 or 1 by the sign of x, elementwise. */
export const sign = unary('sign');
/** x * x, elementwise. */
export const square = unary('square');
/** a + b, elementwise, broadcasting a and b (numbers act as scalars). */
export const add = binary('add');
/** a - b, elementwise, broadcasting a and b (numbers act as scalars). */
export const sub = binary('sub');
/** a * b, elementwise, broadcasting a and b (numbers act as scalars). */
export const mul = binary('mul');
/** a / b (true division: integer inputs give float32), elementwise, broadcasting a and b (numbers act as scalars). */
export const div = binary('div');
/** a to the power b, elementwise, broadcasting a and b (numbers act as scalars). */
export const pow = binary('pow');
/** The larger of a and b (NaN if either is NaN), elementwise, broadcasting a and b (numbers act as scalars). */
export const maximum = binary('maximum');
/** The smaller of a and b (NaN if either is NaN), elementwise, broadcasting a and b (numbers act as scalars). */
export const minimum = binary('minimum');
/** a == b, as bool, elementwise, broadcasting a and b (numbers act as scalars). */
export const eq = binary('eq');
/** a != b, as bool, elementwise, broadcasting a and b (numbers act as scalars). */
export const ne = binary('ne');
/** a < b, as bool, elementwise, broadcasting a and b (numbers act as scalars). */
export const lt = binary('lt');
/** a <= b, as bool, elementwise, broadcasting a and b (numbers act as scalars). */
export const le = binary('le');
/** a > b, as bool, elementwise, broadcasting a and b (numbers act as scalars). */
export const gt = binary('gt');
/** a >= b, as bool, elementwise, broadcasting a and b (numbers act as scalars). */
export const ge = binary('ge');

// issue 16: math, rounding and tests
/** Sine (radians), elementwise; integer and bool inputs give float32. */
export const sin = unary('sin');
/** Cosine (radians), elementwise; integer and bool inputs give float32. */
export const cos = unary('cos');
/** The error function 2/√π ∫₀ˣ e^(−t²) dt, elementwise; integer and bool inputs give float32. */
export const erf = unary('erf');
/** log(1 + x), accurate for small x, elementwise; integer and bool inputs give float32. */
export const log1p = unary('log1p');
/** e^x − 1, accurate for small x, elementwise; integer and bool inputs give float32. */
export const expm1 = unary('expm1');
/** The largest integer not above x (an int32 tensor is returned as a copy); zero gradient. */
export const floor = unary('floor');
/** The smallest integer not below x (an int32 tensor is returned as a copy); zero gradient. */
export const ceil = unary('ceil');
/** Whether each element is NaN, as a bool tensor (false for integers and bools). */
export const isnan = unary('isnan');
/** Whether each element is finite (not NaN or ±Infinity), as a bool tensor (true for integers and bools). */
export const isfinite = unary('isfinite');
/**
 * The angle of the point (b, a) from the positive x axis, atan(a / b) in the right quadrant, in
 * (−π, π] (torch.atan2(input, other) with input = a = y, other = b = x), broadcasting a and b.
 */
export const atan2 = binary('atan2');

/**
 * Round to the nearest integer, halves to even as torch.round (0.5 → 0, 1.5 → 2, −2.5 → −2); an
 * int32 tensor is returned as a copy; zero gradient. With `decimals`, round to that many decimal
 * places (negative: to tens, hundreds...) as torch does, x·10^d rounded, then divided by 10^d,
 * in x's dtype.
 */
export function round(x: Tensor, decimals = 0): Tensor {
  if (decimals === 0) return run('round', [x]);
  if (!Number.isInteger(decimals)) throw new ValueError(`round: decimals must be an integer; got ${decimals}`);
  if (!isTensor(x) || !isFloating(x.dtype)) throw new DTypeError(`round: decimals needs a floating-point input (as in torch); got ${isTensor(x) ? x.dtype : typeof x}`);
  const p = 10 ** Math.abs(decimals);
  return tidy(() => (decimals > 0 ? div(run('round', [mul(x, p)]), p) : mul(run('round', [div(x, p)]), p)));
}

/** Attrs of tril and triu: which diagonal bounds the triangle (0 the main one, positive above it). */
export interface TriangleAttrs {
  diagonal: number;
}
for (const name of ['tril', 'triu']) {
  defineOp<TriangleAttrs>({
    name,
    infer: ([x], { diagonal }) => {
      if (x!.ndim < 2) throw new ShapeError(`${name}: input must have at least 2 dims (the matrices are its last two); got shape ${fmt(x!.shape)}`);
      if (!Number.isInteger(diagonal)) throw new ValueError(`${name}: diagonal must be an integer; got ${diagonal}`);
      return [{ shape: x!.shape, dtype: x!.dtype }];
    },
  });
}
/**
 * The lower triangle of each matrix in the last two dims (torch.tril): elements whose column
 * minus row is at most `diagonal` are kept, the others are 0 (false for bool).
 */
export function tril(x: Tensor, diagonal = 0): Tensor {
  return run('tril', [x], { diagonal });
}
/**
 * The upper triangle of each matrix in the last two dims (torch.triu): elements whose column
 * minus row is at least `diagonal` are kept, the others are 0 (false for bool).
 */
export function triu(x: Tensor, diagonal = 0): Tensor {
  return run('triu', [x], { diagonal });
}

/**
 * @internal maskedFill's and maskedFill_'s checks of mask and value, and the value as a 0-d
 * tensor of x's dtype (`made` when it was made here, for the caller to dispose).
 */
export function fillValue(op: string, x: Tensor, mask: Tensor, value: TensorLike): { v: Tensor; made: boolean } {
  if (!isTensor(x)) throw new TapegradError(`${op}: input must be a Tensor; got ${typeof x}`);
  if (!isTensor(mask) || mask.dtype !== 'bool') {
    throw new DTypeError(`${op}: mask must be a bool tensor; got ${isTensor(mask) ? mask.dtype : typeof mask}${isTensor(mask) ? ' (compare, or cast it with .cast(\'bool\'))' : ''}`);
  }
  if (isTensor(value)) {
    if (value.ndim !== 0) throw new ShapeError(`${op}: value must be a number or a 0-d tensor; got a tensor of shape ${fmt(value.shape)}`);
    return value.dtype === x.dtype ? { v: value, made: false } : { v: run('copy', [value], { dtype: x.dtype }), made: true };
  }
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new TapegradError(`${op}: value must be a number, a boolean or a 0-d tensor; got ${value === null ? 'null' : typeof value}`);
  // the value takes x's dtype, as torch casts it: a fraction truncates into int32, anything non-zero is true
  const n = +value;
  if (x.dtype === 'int32') int32Value(op, n, ' (the fill value of an int32 tensor)');
  return { v: full([], x.dtype === 'bool' ? n !== 0 : n, { dtype: x.dtype, device: x.device }), made: true };
}
/**
 * `value` where `mask` is true, x elsewhere (torch.masked_fill): `mask` is a bool tensor that
 * broadcasts with x, `value` a number or a 0-d tensor, converted to x's dtype, which the result
 * keeps. The gradient reaches x where the mask is false (and a value tensor where it is true).
 * `x.maskedFill_(mask, value)` writes into x.
 */
export function maskedFill(x: Tensor, mask: Tensor, value: TensorLike): Tensor {
  const { v, made } = fillValue('maskedFill', x, mask, value);
  try {
    broadcastShapes('maskedFill', x.shape, mask.shape);
    return where(mask, v, x);
  } finally {
    if (made) v.dispose();
  }
}

/** Limit values to [min, max]; either bound may be omitted. */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  if (min === undefined && max === undefined) throw new ValueError('clamp: at least one of min and max must be given');
  return run('clamp', [x], { min: min ?? -Infinity, max: max ?? Infinity });
}
/**
 * Elements of `a` where `condition` holds, else of `b` (broadcast together). Either branch may
 * be a number (`where(c, 0, 1)`, `x.where(c, -Infinity)`), typed as torch types a Python scalar
 * beside the other branch: float32 for a fraction, int32 for an integer, bool for a boolean,
 * and the other branch's dtype where that is of the same kind or wider.
 */
export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  // a number takes its dtype from the other branch, not from the bool condition (an integer
  // beside a float tensor is a float, not an int32 that 3e9 would overflow); with no tensor
  // branch, from the condition, whose bool is the narrowest kind
  if (!isTensor(condition)) throw new DTypeError(`where: condition must be a bool tensor; got ${condition === null ? 'null' : typeof condition}`);
  const like = isTensor(a) ? a : isTensor(b) ? b : condition;
  return withOperands('where', [like, a, b], ([, x, y]) => run('where', [condition, x!, y!]));
}
