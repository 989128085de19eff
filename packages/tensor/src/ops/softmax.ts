import { isFloating } from '../dtype.js';
import { DTypeError } from '../errors.js';
import { run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { normalizeDim } from '../shape.js';
import type { Tensor } from '../tensor.js';

// Kernels subtract the row max before exponentiating, so large logits neither overflow nor
// lose precision; logSoftmax is x - max - log(sum(exp(x - max))), never log(softmax).
for (const name of ['softmax', 'logSoftmax']) {
  defineOp<{ dim: number }>({
    name,
    infer: ([x]) => {
      if (!isFloating(x!.dtype)) throw new DTypeError(`${name}: input must be floating point; got ${x!.dtype}`);
      return [{ shape: x!.shape, dtype: x!.dtype }];
    },
  });
}
/** exp(x) / sum(exp(x)) along `dim`, computed stably. */
export function softmax(x: Tensor, dim: number): Tensor {
  return run('softmax', [x], { dim: normalizeDim('softmax', dim, x.ndim) });
}
/** log(softmax(x)) along `dim`, computed stably. */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return run('logSoftmax', [x], { dim: normalizeDim('logSoftmax', dim, x.ndim) });
}
