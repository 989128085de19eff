import { isFloating, resultType, type DType } from '../dtype.js';
import { DTypeError, ValueError } from '../errors.js';
import { run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { withOperands, type TensorLike } from './operand.js';

/**
 * Elementwise op families. Each name here is one op: its definition is generated from the
 * table, its kernels live in each backend's elementwise file, its gradient in autograd's
 * grads/elementwise.ts.
 */
export const UNARY_OPS = ['neg', 'abs', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'relu', 'sign', 'square'] as const;
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const;
export const COMPARE_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];
export type BinaryOp = (typeof BINARY_OPS)[number];
export type CompareOp = (typeof COMPARE_OPS)[number];

// Ops whose result is floating even for integer input, as in PyTorch (int -> float32).
const FLOAT_RESULT = new Set<string>(['exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'div']);

for (const name of UNARY_OPS) {
  defineOp({
    name,
    infer: ([x]) => {
      if (x!.dtype === 'bool' && name !== 'abs') throw new DTypeError(`${name}: not defined for bool tensors`);
      return [{ shape: x!.shape, dtype: FLOAT_RESULT.has(name) && !isFloating(x!.dtype) ? 'float32' : x!.dtype }];
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
    return [{ shape: x!.shape, dtype: fractional && !isFloating(x!.dtype) ? 'float32' : x!.dtype }];
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

export const neg = unary('neg');
export const abs = unary('abs');
export const exp = unary('exp');
export const log = unary('log');
export const sqrt = unary('sqrt');
export const tanh = unary('tanh');
export const sigmoid = unary('sigmoid');
export const relu = unary('relu');
export const sign = unary('sign');
export const square = unary('square');
export const add = binary('add');
export const sub = binary('sub');
export const mul = binary('mul');
export const div = binary('div');
export const pow = binary('pow');
export const maximum = binary('maximum');
export const minimum = binary('minimum');
export const eq = binary('eq');
export const ne = binary('ne');
export const lt = binary('lt');
export const le = binary('le');
export const gt = binary('gt');
export const ge = binary('ge');

/** Limit values to [min, max]; either bound may be omitted. */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  if (min === undefined && max === undefined) throw new ValueError('clamp: at least one of min and max must be given');
  return run('clamp', [x], { min: min ?? -Infinity, max: max ?? Infinity });
}
/** Elements of `a` where `condition` holds, else of `b` (broadcast together). */
export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  return withOperands('where', [condition, a, b], (ts) => run('where', ts));
}
