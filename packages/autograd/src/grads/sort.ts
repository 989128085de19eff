import { scatterAdd, zeros, type SortAttrs } from '@tapegrad/tensor';
import { registerGradient } from '../tape.js';

// sort (definition: packages/tensor/src/ops/sort.ts): each value came from the input at its
// index, so its gradient goes back there (torch's value_selecting_reduction_backward); the
// indices are a permutation, so nothing collides. topk and argsort are composites over sort.
registerGradient<SortAttrs>('sort', {
  saveOutputs: true,
  backward: (c, [g]) => {
    const indices = c.outputs[1]!;
    if (indices.ndim === 0) return [g!];
    return [scatterAdd(zeros(c.inputShapes[0]!, { dtype: g!.dtype, device: g!.device }), c.attrs.dim, indices, g!)];
  },
});
