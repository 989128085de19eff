import { autocastActive, autocastOp, broadcastShapes, cast, clamp, div, expand, isFloating, mul, normalizeDim, sqrt, square, sub, sum, tidy, unsqueeze, type Tensor } from '@tapegrad/tensor';
import { customOp } from '@tapegrad/autograd';

// cosineSimilarity as PyTorch 1.13 computes it: each input divided by its norm clamped to eps,
// then the dot product, which keeps the result in [-1, 1]. PyTorch clamps the norm in place
// under no_grad, and its autograd then differentiates the clamped value N as if it were the norm
// (dN/dx = x / N): a composite of ops would differentiate the clamp instead, so this is one op
// with that gradient written out. With u = x1/N1, v = x2/N2 and y = Σ u·v along dim:
//   dy/dx1 = (v − y·u) / N1,  dy/dx2 = (u − y·v) / N2.
// The inputs arrive broadcast to one shape (expand's own gradient sums them back).
const cosine = customOp({
  name: 'cosineSimilarity',
  forward(ctx, x1: Tensor, x2: Tensor, dim: number, eps: number) {
    const n1 = clamp(sqrt(sum(square(x1), dim, true)), eps);
    const n2 = clamp(sqrt(sum(square(x2), dim, true)), eps);
    const u = div(x1, n1);
    const v = div(x2, n2);
    const y = sum(mul(u, v), dim);
    ctx.saveForBackward(u, v, n1, n2, y);
    ctx.state.dim = dim;
    return y;
  },
  backward(ctx, g) {
    const [u, v, n1, n2, y] = ctx.savedTensors as Tensor[];
    const dim = ctx.state.dim as number;
    const gy = unsqueeze(g!, dim);
    const yk = unsqueeze(y!, dim);
    return [
      ctx.needsInputGrad[0] ? mul(div(gy, n1!), sub(v!, mul(yk, u!))) : null,
      ctx.needsInputGrad[1] ? mul(div(gy, n2!), sub(u!, mul(yk, v!))) : null,
      null,
      null,
    ];
  },
});

/**
 * Cosine similarity of x1 and x2 along `dim` (torch.nn.functional.cosine_similarity, as PyTorch
 * 1.13 computes it): Σ (x1 / max(‖x1‖, eps)) · (x2 / max(‖x2‖, eps)), with x1 and x2 broadcast
 * together and `dim` (default 1) removed. Integer inputs are cast to float32. Shapes that do not
 * broadcast throw a ShapeError; a dim out of range an IndexError.
 */
export function cosineSimilarity(x1: Tensor, x2: Tensor, dim = 1, eps = 1e-8): Tensor {
  if (autocastActive()) return autocastOp('cosineSimilarity', [x1, x2], ([a, b]) => cosineSimilarity(a, b, dim, eps));
  const shape = broadcastShapes('cosineSimilarity', x1.shape, x2.shape);
  const d = normalizeDim('cosineSimilarity', dim, shape.length);
  return tidy(() => {
    const [a, b] = [x1, x2].map((x) => expand(isFloating(x.dtype) ? x : cast(x, 'float32'), shape));
    return cosine(a!, b!, d, eps);
  });
}
