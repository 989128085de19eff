import {
  cat, div, eq, expand, mul, narrow, numel, ones, permute, reshape, reducedShape, run, sum, where, type ReduceAttrs, type Shape, type Tensor,
} from '@tapegrad/tensor';
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

// prod: the gradient of each element is g times the product of the others, computed as an
// exclusive scan from each side (the products before it times those after it), so zeros need
// no division and no read of the data, as torch's prod_safe_zeros_backward.
registerGradient<ReduceAttrs>('prod', {
  saveInputs: true,
  backward: (c, [g]) => {
    const x = c.inputs[0]!;
    const { dims } = c.attrs;
    if (dims.length === 0) return [g!];
    if (x.size === 0) return [spread(c, g!)];
    // the reduced dims last, as one line
    const kept = x.shape.map((_, d) => d).filter((d) => !dims.includes(d));
    const perm = [...kept, ...dims];
    const moved = permute(x, perm);
    const n = numel(dims.map((d) => x.shape[d]!));
    const line = reshape(moved, [...kept.map((d) => x.shape[d]!), n]);
    const d = line.ndim - 1;
    const one = ones([...line.shape.slice(0, -1), 1], { dtype: x.dtype, device: x.device });
    const before = run('cumprod', [cat([one, narrow(line, d, 0, n - 1)], d)], { dim: d, reverse: false });
    const after = run('cumprod', [cat([narrow(line, d, 1, n - 1), one], d)], { dim: d, reverse: true });
    const others = reshape(mul(before, after), moved.shape);
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [mul(spread(c, g!), permute(others, inverse))];
  },
});
