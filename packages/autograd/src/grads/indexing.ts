import { contiguous, expand, gather, narrow, reshape, scatterAdd, zeros, copyInto, type DimAttrs, type Tensor, type Shape } from '@tapegrad/tensor';
import { registerGradient } from '../tape.js';

// Gradients of gather/scatterAdd/indexSelect (definitions: packages/tensor/src/ops/indexing.ts).

/** zeros of `shape` with g written into its leading corner (when an index is smaller than src). */
function padTo(g: Tensor, shape: Shape): Tensor {
  if (g.shape.every((n, d) => n === shape[d])) return g;
  const out = zeros(shape, { dtype: g.dtype, device: g.device });
  let window = out;
  g.shape.forEach((n, d) => (window = narrow(window, d, 0, n)));
  copyInto(window, g);
  return out;
}

registerGradient<DimAttrs>('gather', {
  saveInputs: [1],
  backward: (c, [g]) => [scatterAdd(zeros(c.inputShapes[0]!, { dtype: g!.dtype, device: g!.device }), c.attrs.dim, c.inputs[1]!, g!), null],
});
registerGradient<DimAttrs>('scatterAdd', {
  saveInputs: [1],
  backward: (c, [g]) => [g!, null, c.needsGrad[2] ? padTo(gather(g!, c.attrs.dim, c.inputs[1]!), c.inputShapes[2]!) : null],
});
// indexSelect: scatter-add g back along dim, with the index broadcast to g's shape
registerGradient<DimAttrs>('indexSelect', {
  saveInputs: [1],
  backward: (c, [g]) => {
    const xShape = c.inputShapes[0]!;
    if (xShape.length === 0) return [reshape(g!, []), null];
    const dim = c.attrs.dim;
    const idx = c.inputs[1]!;
    const lined = reshape(idx, g!.shape.map((n, d) => (d === dim ? idx.size : 1)));
    const full = contiguous(expand(lined, g!.shape));
    return [scatterAdd(zeros(xShape, { dtype: g!.dtype, device: g!.device }), dim, full, g!), null];
  },
});
