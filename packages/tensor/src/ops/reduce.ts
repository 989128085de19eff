import { checkDType, isFloating, isHalf, type DType } from '../dtype.js';
import { autocastActive, autocastOp } from '../autocast-region.js';
import { readsInto } from './softmax.js';
import { cast } from './copy.js';
import { DTypeError, ValueError } from '../errors.js';
import { run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { fmt, normalizeDim, normalizeDims, numel, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { div, exp, log, sub, add, where, eq, abs, mul, ne, pow, sqrt } from './elementwise.js';
import { tidy } from '../memory.js';
import { gather } from './indexing.js';
import { reshape, squeeze } from './view.js';
import { zeros } from '../creation.js';

/** Reductions take sorted, normalised dims; an empty list reduces nothing. */
export interface ReduceAttrs {
  dims: number[];
  keepdim: boolean;
  /** sum only (issue 18): float32 for a float16/bfloat16 input, read and accumulated in float32. */
  dtype?: DType;
}
/** Names of the reduction ops. */
export const REDUCE_OPS = ['sum', 'max', 'min', 'argmax', 'argmin', 'prod', 'any', 'all'] as const;
// reductions with an identity, defined over empty dims too (sum 0, prod 1, any false, all true)
const HAS_IDENTITY = new Set<string>(['sum', 'prod', 'any', 'all']);

/** The shape left after reducing `dims` of `shape`. */
export function reducedShape(shape: Shape, dims: readonly number[], keepdim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!dims.includes(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

function reduceType(name: string, dtype: DType): DType {
  if (name === 'sum' || name === 'prod') return isFloating(dtype) ? dtype : 'int32';
  if (name === 'any' || name === 'all') return 'bool';
  if (name === 'argmax' || name === 'argmin') return 'int32';
  return dtype;
}
for (const name of REDUCE_OPS) {
  defineOp<ReduceAttrs>({
    name,
    differentiable: name !== 'argmax' && name !== 'argmin' && name !== 'any' && name !== 'all',
    infer: ([x], { dims, keepdim, dtype }) => {
      if (!HAS_IDENTITY.has(name)) {
        for (const d of dims) {
          if (x!.shape[d] === 0) throw new ValueError(`${name}: cannot reduce over dim ${d} of size 0 (shape ${fmt(x!.shape)}); the op has no identity`);
        }
        if (x!.size === 0 && dims.length === 0 && x!.ndim > 0) throw new ValueError(`${name}: cannot reduce an empty tensor`);
      }
      const count = numel(dims.map((d) => x!.shape[d]!));
      if ((name === 'argmax' || name === 'argmin') && count > 2 ** 31) {
        throw new ValueError(`${name}: an index into ${count} elements does not fit in int32, the dtype of its result (PyTorch's is int64, which tapegrad lacks)`);
      }
      const out = name === 'sum' ? readsInto(name, x!, dtype) : x!.dtype;
      return [{ shape: reducedShape(x!.shape, dims, keepdim), dtype: reduceType(name, out) }];
    },
  });
}

type Dims = number | readonly number[] | undefined;
function reduce(name: (typeof REDUCE_OPS)[number], x: Tensor, dim: Dims, keepdim: boolean): Tensor {
  return run(name, [x], { dims: normalizeDims(name, dim, x.ndim), keepdim });
}

/** Options of {@link sum} and {@link mean}, as torch's keyword. */
export interface ReduceOptions {
  /** Accumulate and return in this dtype, as if the input were cast to it first (torch's `dtype=`). */
  dtype?: DType;
}
// sum of x in `dtype`: a half input is read into a float32 sum by the kernel, anything else cast first
function sumIn(op: string, x: Tensor, dims: number[], keepdim: boolean, dtype: DType | undefined): Tensor {
  if (dtype === undefined || dtype === x.dtype) return run('sum', [x], { dims, keepdim });
  checkDType(op, 'dtype', dtype);
  if (isHalf(x.dtype) && dtype === 'float32') return run('sum', [x], { dims, keepdim, dtype });
  return tidy(() => run('sum', [cast(x, dtype)], { dims, keepdim }));
}
/** Sum over `dim` (all dims when omitted); ints and bools sum to int32; in `options.dtype` when given. */
export function sum(x: Tensor, dim?: Dims, keepdim = false, options: ReduceOptions = {}): Tensor {
  return sumIn('sum', x, normalizeDims('sum', dim, x.ndim), keepdim, options.dtype);
}
/**
 * Mean over `dim`; floating-point input only, as in PyTorch; in `options.dtype` when given. Not on
 * autocast's lists (as PyTorch's mean): the mean of a half tensor is half, summed in float32.
 */
export function mean(x: Tensor, dim?: Dims, keepdim = false, options: ReduceOptions = {}): Tensor {
  const dtype = options.dtype ?? x.dtype;
  if (!isFloating(dtype)) throw new DTypeError(`mean: input must be floating point; got ${dtype} (cast it first)`);
  const dims = normalizeDims('mean', dim, x.ndim);
  const count = numel(dims.map((d) => x.shape[d]!));
  return autocastOp('mean', [x], ([x]) => tidy(() => div(sumIn('mean', x!, dims, keepdim, options.dtype), count)));
}
/**
 * Largest value over `dim` (all when omitted), like torch.amax: values only; use argmax for
 * the indices. Its gradient is shared evenly among tied maxima.
 */
export function max(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return reduce('max', x, dim, keepdim);
}
/** Minimum over `dim` (all dims when omitted). */
export function min(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return reduce('min', x, dim, keepdim);
}
// Reducing several dims, the kernels give the index in row-major order over them: over every
// dim, that is torch.argmax's index into the flattened tensor, found without flattening a copy.
function argReduce(name: 'argmax' | 'argmin', x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  const dims = dim === undefined ? x.shape.map((_, d) => d) : [normalizeDim(name, dim, x.ndim)];
  return run(name, [x], { dims, keepdim });
}
/** Index of the largest value along `dim` (of the flattened tensor when omitted); first on ties. */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argReduce('argmax', x, dim, keepdim);
}
/** Index of the minimum along `dim` (of the flattened tensor when omitted), as int32. */
export function argmin(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argReduce('argmin', x, dim, keepdim);
}

// issue 16: any/all
/**
 * Whether any element over `dim` (all dims when omitted) is non-zero (NaN counts), as bool:
 * torch.any; false over an empty dim.
 */
export function any(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return reduce('any', x, dim, keepdim);
}
/**
 * Whether every element over `dim` (all dims when omitted) is non-zero (NaN counts), as bool:
 * torch.all; true over an empty dim.
 */
export function all(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return reduce('all', x, dim, keepdim);
}

/** log(sum(exp(x))) over `dim`, computed stably by shifting by the max. */
export function logsumexp(x: Tensor, dim: Dims, keepdim = false): Tensor {
  if (autocastActive()) return autocastOp('logsumexp', [x], ([y]) => logsumexp(y, dim, keepdim));
  if (!isFloating(x.dtype)) throw new DTypeError(`logsumexp: input must be floating point; got ${x.dtype}`);
  const dims = normalizeDims('logsumexp', dim, x.ndim);
  return tidy(() => {
    const m = max(x.detach(), dims, true);
    // an all -inf (or +inf) slice would give inf - inf = NaN; shift by 0 there instead
    const shift = where(eq(m.abs(), Infinity), 0, m);
    const r = add(log(sum(exp(sub(x, shift)), dims, true)), shift);
    return keepdim ? r : run('reshape', [r], { shape: reducedShape(x.shape, dims, false) });
  });
}

// ---- issue 16: products, statistics, norms, max/min with indices ----------------------------

/**
 * Product over `dim` (of every element when omitted), torch.prod. Ints and bools multiply into
 * int32 (PyTorch's int64): a product int32 cannot hold is an error. The gradient is exact with
 * zeros in the input, as torch's (the products of the other elements, never a division).
 */
export function prod(x: Tensor, dim?: number, keepdim = false): Tensor {
  return reduce('prod', x, dim, keepdim);
}

/** Options of {@link var} and {@link std}, as torch.var's keywords. */
export interface VarOptions {
  /**
   * The divisor is the count minus this (at least 0): 1, the default, is Bessel's correction
   * (the unbiased estimate); 0 the population variance.
   */
  correction?: number;
  /** The older spelling of `correction`: true is 1, false is 0. Give one of the two. */
  unbiased?: boolean;
  /** Keep the reduced dims with size 1. */
  keepdim?: boolean;
}
function varianceOf(op: 'var' | 'std', x: Tensor, dim: Dims, options: VarOptions): Tensor {
  if (!isFloating(x.dtype)) throw new DTypeError(`${op}: input must be floating point; got ${x.dtype} (cast it first)`);
  const { unbiased, keepdim = false } = options;
  if (unbiased !== undefined && options.correction !== undefined) throw new ValueError(`${op}: give correction or unbiased, not both`);
  const correction = options.correction ?? (unbiased === false ? 0 : 1);
  if (!Number.isFinite(correction) || correction < 0) throw new ValueError(`${op}: correction must be a finite number >= 0; got ${correction}`);
  const dims = normalizeDims(op, dim, x.ndim);
  const count = numel(dims.map((d) => x.shape[d]!));
  return tidy(() => {
    const centred = sub(x, mean(x, dims, true));
    // count <= correction divides by 0: inf, or NaN for 0/0, as torch
    return div(sum(mul(centred, centred), dims, keepdim), Math.max(count - correction, 0));
  });
}
/**
 * Variance over `dim` (all dims when omitted), torch.var: the mean squared deviation from the
 * mean, divided by the count minus `correction` (default 1). Floating point only. Exported as
 * `var` (`tg.var(x)`, `x.var()`); `var` is a reserved word, so it cannot be imported by name.
 */
function variance(x: Tensor, dim?: Dims, options: VarOptions = {}): Tensor {
  return varianceOf('var', x, dim, options);
}
export { variance as var };

/** sqrt with gradient 0 where its input is 0 (torch's std and 2-norm backward), not inf · 0 = NaN. */
function sqrtZeroGrad(v: Tensor): Tensor {
  const nz = ne(v, 0);
  return where(nz, sqrt(where(nz, v, 1)), 0);
}
/**
 * Standard deviation over `dim` (all dims when omitted), torch.std: the square root of
 * {@link var} with the same options. Its gradient is 0 where it is 0 (a constant slice), as torch's.
 */
export function std(x: Tensor, dim?: Dims, options: VarOptions = {}): Tensor {
  return tidy(() => sqrtZeroGrad(varianceOf('std', x, dim, options)));
}

/**
 * The vector p-norm over `dim` (all dims when omitted), torch.norm / torch.linalg.vector_norm:
 * (Σ |x|^p)^(1/p) for any p, with p = Infinity the largest |x|, -Infinity the smallest, and 0 the
 * count of non-zero elements. Floating point only. Gradients follow torch's: 0 where the 2-norm
 * is 0, 0 at elements that are 0, shared evenly among tied extremes for ±Infinity.
 */
export function norm(x: Tensor, p = 2, dim?: Dims, keepdim = false): Tensor {
  if (autocastActive()) return autocastOp('norm', [x], ([y]) => norm(y, p, dim, keepdim));
  if (!isFloating(x.dtype)) throw new DTypeError(`norm: input must be floating point; got ${x.dtype} (cast it first)`);
  if (typeof p !== 'number' || Number.isNaN(p)) throw new ValueError(`norm: p must be a number (Infinity and -Infinity included); got ${String(p)}`);
  const dims = normalizeDims('norm', dim, x.ndim);
  if (Math.abs(p) === Infinity && dims.some((d) => x.shape[d] === 0)) {
    throw new ValueError(`norm: the ${p}-norm of an empty slice is undefined (no identity); shape ${fmt(x.shape)}, dims ${fmt(dims)}`);
  }
  return tidy(() => {
    if (p === 2) return sqrtZeroGrad(sum(mul(x, x), dims, keepdim));
    if (p === 1) return sum(abs(x), dims, keepdim);
    if (p === Infinity) return max(abs(x), dims, keepdim);
    if (p === -Infinity) return min(abs(x), dims, keepdim);
    // a count with zero gradient that still depends on x (torch's norm(x, 0) requires grad)
    if (p === 0) return sum(where(ne(x, 0), 1, mul(x, 0)), dims, keepdim);
    // |x|^p at x = 0 is a constant (0, or inf for p < 0): no p·0^(p-1) = inf in the gradient
    const a = abs(x);
    const nz = ne(a, 0);
    return pow(sum(where(nz, pow(where(nz, a, 1), p), p > 0 ? 0 : Infinity), dims, keepdim), 1 / p);
  });
}

/** Values and their int32 indices, as torch's `(values, indices)` named tuples (sort, topk, max with a dim). */
export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}
function extremeWithIndices(name: 'maxWithIndices' | 'minWithIndices', x: Tensor, dim: number, keepdim: boolean): ValuesIndices {
  const d = normalizeDim(name, dim, x.ndim);
  if (x.ndim === 0) return { values: reshape(x, []), indices: zeros([], { dtype: 'int32', device: x.device }) };
  if (x.shape[d] === 0) throw new ValueError(`${name}: cannot reduce over dim ${dim} of size 0 (shape ${fmt(x.shape)}); the op has no identity`);
  return tidy(() => {
    const indices = argReduce(name === 'maxWithIndices' ? 'argmax' : 'argmin', x, d, true);
    // the value at the index, so the gradient goes to that element alone, as torch.max(x, dim)'s
    const values = gather(x, d, indices);
    return keepdim ? { values, indices } : { values: squeeze(values, d), indices: squeeze(indices, d) };
  });
}
/**
 * torch.max(x, dim): the largest values along `dim` and their int32 indices (the first on ties;
 * NaN counts as largest). The gradient goes to the element at the index, as torch's; `max(x, dim)`
 * gives the values alone, like torch.amax, with the gradient shared among ties.
 */
export function maxWithIndices(x: Tensor, dim: number, keepdim = false): ValuesIndices {
  return extremeWithIndices('maxWithIndices', x, dim, keepdim);
}
/** torch.min(x, dim): the smallest values along `dim` and their int32 indices; see {@link maxWithIndices}. */
export function minWithIndices(x: Tensor, dim: number, keepdim = false): ValuesIndices {
  return extremeWithIndices('minWithIndices', x, dim, keepdim);
}
