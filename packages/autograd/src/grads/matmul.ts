import { matmul, transpose, type Tensor } from '@tapegrad/tensor';
import { registerGradient } from '../tape.js';
import { sumToShape } from './util.js';

// C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC, summed over broadcast batch dims. The transposes are views:
// the matmul kernels read strided operands, so no copies are made here.
//
// An operand that is itself a transposed view, like the weight in linear's x·Wᵀ, gets its
// gradient computed as the transpose of the transposed product, (dCᵀ·A)ᵀ for B: the same values
// laid out as the tensor under the view, so the gradient that reaches W is already contiguous.
// Computed as Aᵀ·dC it would arrive transposed, and the leaf would copy it across strides (360 µs
// for the MNIST MLP's 128x784 weight, a quarter of its step), as PyTorch's mm backward avoids too.
const transposed = (t: Tensor) => {
  const r = t.ndim, rows = t.shape[r - 2]!, cols = t.shape[r - 1]!;
  return rows > 1 && cols > 1 && t.strides[r - 2] === 1 && t.strides[r - 1] === rows;
};
/** pᵀ as a view that holds p's storage alone (p is released), so a leaf can keep it as it is. */
const transposedAlone = (p: Tensor) => {
  const v = transpose(p, -1, -2);
  p.dispose();
  return v;
};

registerGradient('matmul', {
  saveInputs: true,
  backward: (c, [g]) => {
    const [a, b] = c.inputs as [NonNullable<(typeof c.inputs)[0]>, NonNullable<(typeof c.inputs)[1]>];
    const gt = () => transpose(g!, -1, -2);
    return [
      c.needsGrad[0] ? sumToShape(transposed(a) ? transposedAlone(matmul(b, gt())) : matmul(g!, transpose(b, -1, -2)), c.inputShapes[0]!) : null,
      c.needsGrad[1] ? sumToShape(transposed(b) ? transposedAlone(matmul(gt(), a)) : matmul(transpose(a, -1, -2), g!), c.inputShapes[1]!) : null,
    ];
  },
});
