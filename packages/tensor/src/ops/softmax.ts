import { checkDType, isFloating, isHalf, type DType } from '../dtype.js';
import { DTypeError } from '../errors.js';
import { run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { normalizeDim } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { tidy } from '../memory.js';
import { cast } from './copy.js';

// Kernels subtract the row max before exponentiating, so large logits neither overflow nor
// lose precision; logSoftmax is x - max - log(sum(exp(x - max))), never log(softmax).
// `dtype` (issue 18): the output's dtype when it differs from the input's, only float32 for a
// float16/bfloat16 input: the kernel reads the half input and computes and writes float32, what
// cast-then-softmax gives without the cast copy (autocast runs softmax so).
for (const name of ['softmax', 'logSoftmax']) {
  defineOp<{ dim: number; dtype?: DType }>({
    name,
    infer: ([x], { dtype }) => {
      if (!isFloating(x!.dtype)) throw new DTypeError(`${name}: input must be floating point; got ${x!.dtype}`);
      return [{ shape: x!.shape, dtype: readsInto(name, x!, dtype) }];
    },
  });
}

/**
 * @internal The output dtype of an op with an output-dtype attr: the input's, or float32 for a
 * float16/bfloat16 input (anything else the op function casts to first).
 */
export function readsInto(op: string, x: Tensor, dtype: DType | undefined): DType {
  if (dtype === undefined || dtype === x.dtype) return x.dtype;
  if (dtype === 'float32' && isHalf(x.dtype)) return dtype;
  throw new DTypeError(`${op}: the kernel reads a ${x.dtype} input into a ${dtype} output only for float16/bfloat16 into float32; cast the input first`);
}

/** Options of {@link softmax} and {@link logSoftmax}, as torch's keyword. */
export interface SoftmaxOptions {
  /** Compute and return in this floating dtype, as if the input were cast to it first (torch's `dtype=`). */
  dtype?: DType;
}
function softmaxOp(name: string, x: Tensor, dim: number, dtype: DType | undefined): Tensor {
  const attrs = { dim: normalizeDim(name, dim, x.ndim) };
  if (dtype === undefined || dtype === x.dtype) return run(name, [x], attrs);
  checkDType(name, 'dtype', dtype);
  if (!isFloating(dtype)) throw new DTypeError(`${name}: dtype must be floating point; got ${dtype}`);
  if (isHalf(x.dtype) && dtype === 'float32') return run(name, [x], { ...attrs, dtype });
  return tidy(() => run(name, [cast(x, dtype)], attrs));
}
/** exp(x) / sum(exp(x)) along `dim`, computed stably; in `options.dtype` when given. */
export function softmax(x: Tensor, dim: number, options: SoftmaxOptions = {}): Tensor {
  return softmaxOp('softmax', x, dim, options.dtype);
}
/** log(softmax(x)) along `dim`, computed stably; in `options.dtype` when given. */
export function logSoftmax(x: Tensor, dim: number, options: SoftmaxOptions = {}): Tensor {
  return softmaxOp('logSoftmax', x, dim, options.dtype);
}
