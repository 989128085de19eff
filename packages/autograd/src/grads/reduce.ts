import { div, eq, expand, reshape, reducedShape, sum, where, type ReduceAttrs, type Shape, type Tensor } from '@tapegrad/tensor';
import { registerGradient, type GradContext } from '../tape.js';

// Gradients of the reductions (definitions: packages/tensor/src/ops/reduce.ts).

/** g of a reduction, broadcast back over the input's shape. */
function spread(c: GradContext<ReduceAttrs>, g: Tensor): Tensor {
  const shape: Shape = c.inputShapes[0]!;
  return expand(reshape(g, reducedShape(shape, c.attrs.dims, true)), shape);
}
registerGradient<ReduceAttrs>('sum', { backward: (c, [g]) => [spread(c, g!)] });

// max/min: the gradient goes to the extreme elements, split evenly among ties (torch.amax).
for (const op of ['max', 'min']) {
  registerGradient<ReduceAttrs>(op, {
    saveInputs: true,
    saveOutputs: true,
    backward: (c, [g]) => {
      const x = c.inputs[0]!;
      const y = reshape(c.outputs[0]!, reducedShape(x.shape, c.attrs.dims, true));
      const hit = eq(x, y);
      const count = sum(hit, c.attrs.dims, true);
      return [where(hit, div(reshape(g!, y.shape), count), 0)];
    },
  });
}
