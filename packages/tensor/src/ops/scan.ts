import { autocastActive, autocastOp } from '../autocast-region.js';
import { isFloating } from '../dtype.js';
import { run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { normalizeDim } from '../shape.js';
import type { Tensor } from '../tensor.js';

/**
 * Attrs of the scans (`cumsum`, `cumprod`): the dim, normalised, and the direction. `reverse`
 * scans from the end (element i combines elements i..n-1); the public functions scan forwards,
 * and the gradients, which are scans the other way, use it.
 */
export interface ScanAttrs {
  dim: number;
  reverse: boolean;
}
/** Names of the scan ops. */
export const SCAN_OPS = ['cumsum', 'cumprod'] as const;

// Ints and bools scan into int32, as sum does (PyTorch's int64): a running sum or product int32
// cannot hold is an error, found by the kernels.
for (const name of SCAN_OPS) {
  defineOp<ScanAttrs>({
    name,
    infer: ([x]) => [{ shape: x!.shape, dtype: isFloating(x!.dtype) ? x!.dtype : 'int32' }],
  });
}

/** Running sums along `dim` (torch.cumsum): element i is x[0] + ... + x[i]. Ints and bools give int32. */
export function cumsum(x: Tensor, dim: number): Tensor {
  if (autocastActive()) return autocastOp('cumsum', [x], ([y]) => cumsum(y, dim));
  return run('cumsum', [x], { dim: normalizeDim('cumsum', dim, x.ndim), reverse: false });
}
/**
 * Running products along `dim` (torch.cumprod): element i is x[0] · ... · x[i]. Ints and bools
 * give int32. The gradient is exact with zeros in the input, as torch's.
 */
export function cumprod(x: Tensor, dim: number): Tensor {
  if (autocastActive()) return autocastOp('cumprod', [x], ([y]) => cumprod(y, dim));
  return run('cumprod', [x], { dim: normalizeDim('cumprod', dim, x.ndim), reverse: false });
}
