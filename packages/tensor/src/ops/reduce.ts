import { isFloating, type DType } from '../dtype.js';
import { DTypeError, ValueError } from '../errors.js';
import { run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { fmt, normalizeDim, normalizeDims, numel, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { div, exp, log, sub, add, where, eq } from './elementwise.js';
import { tidy } from '../memory.js';

/** Reductions take sorted, normalised dims; an empty list reduces nothing. */
export interface ReduceAttrs {
  dims: number[];
  keepdim: boolean;
}
/** Names of the reduction ops. */
export const REDUCE_OPS = ['sum', 'max', 'min', 'argmax', 'argmin', 'any', 'all'] as const;
// reductions with an identity, defined over empty dims too (sum 0, any false, all true)
const HAS_IDENTITY = new Set<string>(['sum', 'any', 'all']);

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
  if (name === 'sum') return isFloating(dtype) ? dtype : 'int32';
  if (name === 'any' || name === 'all') return 'bool';
  if (name === 'argmax' || name === 'argmin') return 'int32';
  return dtype;
}
for (const name of REDUCE_OPS) {
  defineOp<ReduceAttrs>({
    name,
    differentiable: name !== 'argmax' && name !== 'argmin' && name !== 'any' && name !== 'all',
    infer: ([x], { dims, keepdim }) => {
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
      return [{ shape: reducedShape(x!.shape, dims, keepdim), dtype: reduceType(name, x!.dtype) }];
    },
  });
}

type Dims = number | readonly number[] | undefined;
function reduce(name: (typeof REDUCE_OPS)[number], x: Tensor, dim: Dims, keepdim: boolean): Tensor {
  return run(name, [x], { dims: normalizeDims(name, dim, x.ndim), keepdim });
}

/** Sum over `dim` (all dims when omitted); ints and bools sum to int32. */
export function sum(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return reduce('sum', x, dim, keepdim);
}
/** Mean over `dim`; floating-point input only, as in PyTorch. */
export function mean(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  if (!isFloating(x.dtype)) throw new DTypeError(`mean: input must be floating point; got ${x.dtype} (cast it first)`);
  const dims = normalizeDims('mean', dim, x.ndim);
  const count = numel(dims.map((d) => x.shape[d]!));
  return tidy(() => div(run('sum', [x], { dims, keepdim }), count));
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
