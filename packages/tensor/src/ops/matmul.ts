import { autocastActive, autocastOp } from '../autocast-region.js';
import { promoteTypes } from '../dtype.js';
import { DTypeError, ShapeError } from '../errors.js';
import { run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { broadcastShapes, fmt } from '../shape.js';
import { tidy } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { unsqueeze, squeeze } from './view.js';
import { add, mul } from './elementwise.js';

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

// ---- issue 16: batched products and the outer product (composites over matmul) -------------

/**
 * Batched matrix product of two 3-D tensors, torch.bmm: [b, n, m] @ [b, m, p] -> [b, n, p]. Strict
 * as torch's: no broadcasting (use {@link matmul} for that), equal batch sizes and inner dims.
 */
export function bmm(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 3 || b.ndim !== 3) throw new ShapeError(`bmm: both arguments must be 3-D; got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const [ba, n, m] = a.shape as [number, number, number];
  const [bb, m2, p] = b.shape as [number, number, number];
  if (ba !== bb) throw new ShapeError(`bmm: batch sizes differ: shapes ${fmt(a.shape)} and ${fmt(b.shape)} (batch ${ba} and ${bb}; bmm does not broadcast)`);
  if (m !== m2) throw new ShapeError(`bmm: shapes ${fmt(a.shape)} and ${fmt(b.shape)} cannot be multiplied (${n}x${m} and ${m2}x${p}: inner dims ${m} and ${m2} differ)`);
  return run('matmul', [a, b]);
}

/** Options of {@link baddbmm}, as torch's keywords. */
export interface BaddbmmOptions {
  /** Scale of `input` (default 1); with 0 `input` is ignored, NaN and infinities in it too. */
  beta?: number;
  /** Scale of the products (default 1). */
  alpha?: number;
}
/**
 * beta · input + alpha · bmm(batch1, batch2), torch.baddbmm; `input` broadcasts to the result's
 * shape [b, n, p].
 */
export function baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, { beta = 1, alpha = 1 }: BaddbmmOptions = {}): Tensor {
  if (autocastActive()) return autocastOp('baddbmm', [input, batch1, batch2], ([i, a, b]) => baddbmm(i, a, b, { beta, alpha }));
  return tidy(() => {
    const p = bmm(batch1, batch2);
    const shape = broadcastShapes('baddbmm', input.shape, p.shape);
    if (shape.length !== 3 || shape.some((d, i) => d !== p.shape[i])) {
      throw new ShapeError(`baddbmm: input of shape ${fmt(input.shape)} does not broadcast to the product's shape ${fmt(p.shape)}`);
    }
    const scaled = alpha === 1 ? p : mul(p, alpha);
    if (beta === 0) return scaled;
    return add(beta === 1 ? input : mul(input, beta), scaled);
  });
}

/** The outer product of two 1-D tensors, torch.outer: [n] and [m] give [n, m], out[i][j] = a[i] · b[j]. */
export function outer(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1) throw new ShapeError(`outer: both arguments must be 1-D; got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  return tidy(() => mul(unsqueeze(a, 1), unsqueeze(b, 0)));
}
