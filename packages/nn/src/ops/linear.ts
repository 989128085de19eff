import { registerGradient } from '@tapegrad/autograd';
import { autocastActive, autocastOp, DTypeError, ShapeError, add, defineOp, fmt, hasKernel, matmul, reshape, run, sum, tidy, transpose, type Tensor } from '@tapegrad/tensor';

// linear: y = x·Wᵀ + b. Where the device has a `linear` kernel (kernels/matmul.ts of
// @tapegrad/backend-cpu and of @tapegrad/backend-webgpu) it is one op, with one gradient rule, as
// PyTorch's addmm: an MLP step then dispatches and records a third fewer ops (no transposed
// views of W, no separate bias add), which is much of a small model's step. Elsewhere (a 1-d
// input) it is the composite matmul(x, Wᵀ) + b, whose gradients come from those ops' rules. Both
// give the same float32 forward bits; a half result is rounded once by the kernel (the bias
// added to the float32 sum), twice by the composite. The gradients have the same bits for a 2-d
// input (for more dims the fused rule sums dW over all rows in one product).

/** One dtype for input, weight and bias, as PyTorch requires (the composite would promote). */
function checkDTypes(x: Tensor, w: Tensor, b: Tensor | null | undefined): void {
  if (w.dtype !== x.dtype || (b && b.dtype !== x.dtype)) {
    throw new DTypeError(`linear: input, weight and bias must have one dtype (as in PyTorch); got ${x.dtype}, ${w.dtype}${b ? `, ${b.dtype}` : ''}`);
  }
}

defineOp({
  name: 'linear',
  infer: ([x, w, b]) => {
    checkDTypes(x!, w!, b);
    return [{ shape: [...x!.shape.slice(0, -1), w!.shape[0]!], dtype: x!.dtype }];
  },
});

// dX = G·W, dW = Gᵀ·X and db = Σ G over the rows, with the leading dims of x and G as rows. W's
// gradient comes out contiguous in W's own layout, so the leaf keeps it as it is.
registerGradient('linear', {
  saveInputs: [0, 1],
  backward: (c, [g]) => {
    const [x, w] = [c.inputs[0]!, c.inputs[1]!];
    const rows = (t: Tensor) => (t.ndim === 2 ? t : reshape(t, [-1, t.shape[t.ndim - 1]!]));
    const grads = [
      c.needsGrad[0] ? matmul(g!, w) : null,
      c.needsGrad[1] ? matmul(transpose(rows(g!), 0, 1), rows(x)) : null,
    ];
    if (c.needsGrad.length > 2) grads.push(c.needsGrad[2] ? sum(rows(g!), [0]) : null);
    return grads;
  },
});

/**
 * y = x·Wᵀ + b for x [..., in], weight [out, in], bias [out], giving [..., out]
 * (torch.nn.functional.linear). Mismatched shapes throw a ShapeError.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (autocastActive()) return autocastOp('linear', [x, weight, bias], ([x, w, b]) => linear(x, w, b));
  if (weight.ndim !== 2) throw new ShapeError(`linear: weight must be [outFeatures, inFeatures]; got ${fmt(weight.shape)}`);
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new ShapeError(`linear: input ${fmt(x.shape)} must end in inFeatures = ${weight.shape[1]} (weight ${fmt(weight.shape)})`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new ShapeError(`linear: bias must have shape [${weight.shape[0]}]; got ${fmt(bias.shape)}`);
  }
  checkDTypes(x, weight, bias);
  // the fused kernel takes rows of a matrix; a 1-d input (one row, torch allows it) takes the composite
  if (hasKernel('linear', x.device) && x.ndim >= 2) return run('linear', bias ? [x, weight, bias] : [x, weight]);
  // the transpose is a view: the matmul kernel reads it strided, so nothing is copied
  return tidy(() => {
    const y = matmul(x, transpose(weight, 0, 1));
    return bias ? add(y, bias) : y;
  });
}
