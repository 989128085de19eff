import { resultType } from '../dtype.js';
import { ShapeError, ValueError } from '../errors.js';
import { run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { fmt, normalizeDim } from '../shape.js';
import { tidy } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { unsqueeze } from './view.js';

defineOp<{ dim: number }>({
  name: 'cat',
  infer: (xs, { dim }) => {
    const first = xs[0]!;
    const shape = first.shape.slice();
    shape[dim] = 0;
    xs.forEach((x, i) => {
      if (x.ndim !== first.ndim || x.shape.some((n, d) => d !== dim && n !== first.shape[d])) {
        throw new ShapeError(`cat: tensor ${i} has shape ${fmt(x.shape)}, which does not match tensor 0's ${fmt(first.shape)} outside dim ${dim}`);
      }
      shape[dim]! += x.shape[dim]!;
    });
    return [{ shape, dtype: resultType(xs.map((x) => ({ dtype: x.dtype, zeroDim: false }))) }];
  },
});
/** Join tensors along an existing dim. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new ValueError('cat: expected a non-empty list of tensors');
  if (tensors.some((t) => t.ndim === 0)) throw new ShapeError('cat: 0-d tensors cannot be concatenated; use stack');
  return run('cat', tensors, { dim: normalizeDim('cat', dim, tensors[0]!.ndim) });
}
/** Join tensors of one shape along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new ValueError('stack: expected a non-empty list of tensors');
  const first = tensors[0]!;
  tensors.forEach((t, i) => {
    if (t.ndim !== first.ndim || t.shape.some((n, d) => n !== first.shape[d])) {
      throw new ShapeError(`stack: tensor ${i} has shape ${fmt(t.shape)} but tensor 0 has ${fmt(first.shape)}; all must match`);
    }
  });
  const d = normalizeDim('stack', dim, first.ndim + 1);
  return tidy(() => run('cat', tensors.map((t) => unsqueeze(t, d)), { dim: d }));
}
