import { promoteTypes } from '../dtype.js';
import { DTypeError, ShapeError } from '../errors.js';
import { run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { broadcastShapes, fmt } from '../shape.js';
import { tidy } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { unsqueeze, squeeze } from './view.js';

// The primitive: [...batchA, M, K] @ [...batchB, K, N] -> [...broadcast(batchA, batchB), M, N].
// Inputs may be any strided views (transposes included), so gradients need no copies.
defineOp({
  name: 'matmul',
  infer: ([a, b]) => {
    const ra = a!.ndim, rb = b!.ndim;
    if (ra < 2 || rb < 2) throw new ShapeError(`matmul: the primitive needs rank >= 2; got ${fmt(a!.shape)} and ${fmt(b!.shape)}`);
    const m = a!.shape[ra - 2]!, k = a!.shape[ra - 1]!, k2 = b!.shape[rb - 2]!, n = b!.shape[rb - 1]!;
    if (k !== k2) {
      throw new ShapeError(`matmul: shapes ${fmt(a!.shape)} and ${fmt(b!.shape)} cannot be multiplied (${m}x${k} and ${k2}x${n}: inner dims ${k} and ${k2} differ)`);
    }
    const dtype = promoteTypes(a!.dtype, b!.dtype);
    if (dtype === 'bool') throw new DTypeError('matmul: not defined for bool tensors');
    if (ra === 2 && rb === 2) return [{ shape: [m, n], dtype }];
    const batch = broadcastShapes('matmul', a!.shape.slice(0, -2), b!.shape.slice(0, -2));
    return [{ shape: [...batch, m, n], dtype }];
  },
});

/**
 * Matrix product with torch.matmul's rules: 1-D operands get a dim prepended (left) or
 * appended (right) that is removed again; batch dims broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) throw new ShapeError(`matmul: both arguments need at least 1 dim; got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  if (a.ndim >= 2 && b.ndim >= 2) return run('matmul', [a, b]);
  return tidy(() => {
    const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
    const b2 = b.ndim === 1 ? unsqueeze(b, -1) : b;
    const out = run('matmul', [a2, b2]);
    const added = [...(a.ndim === 1 ? [out.ndim - 2] : []), ...(b.ndim === 1 ? [out.ndim - 1] : [])];
    return squeeze(out, added);
  });
}
