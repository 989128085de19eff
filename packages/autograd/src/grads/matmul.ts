import { matmul, transpose } from '@tapegrad/tensor';
import { registerGradient } from '../tape.js';
import { sumToShape } from './util.js';

// C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC, summed over broadcast batch dims. The transposes are views:
// the matmul kernels read strided operands, so no copies are made here.
registerGradient('matmul', {
  saveInputs: true,
  backward: (c, [g]) => {
    const [a, b] = c.inputs as [NonNullable<(typeof c.inputs)[0]>, NonNullable<(typeof c.inputs)[1]>];
    return [
      c.needsGrad[0] ? sumToShape(matmul(g!, transpose(b, -1, -2)), c.inputShapes[0]!) : null,
      c.needsGrad[1] ? sumToShape(matmul(transpose(a, -1, -2), g!), c.inputShapes[1]!) : null,
    ];
  },
});
