import { customOp, fmt, shapesEqual, ShapeError, ValueError, type Tensor } from 'tapegrad';

export interface LogCoshLossOptions {
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: 'mean' | 'sum' | 'none';
}

// log(cosh(d)) overflows for |d| > ~89 in float32 (cosh does), although the loss is just
// |d| - log 2 there. The stable form: log(cosh(d)) = |d| + log(1 + exp(-2|d|)) - log(2),
// where exp only ever sees a non-positive argument. Its derivative is tanh(d).

/**
 * Log-cosh loss between `input` and `target`: quadratic near zero, linear far away (a smooth
 * Huber). A composite custom op: forward and backward written with tensor ops.
 */
export const logCoshLoss = customOp({
  name: 'example.logCoshLoss',
  forward(ctx, input: Tensor, target: Tensor, options: LogCoshLossOptions = {}) {
    const reduction = options.reduction ?? 'mean';
    if (!['mean', 'sum', 'none'].includes(reduction)) throw new ValueError(`logCoshLoss: reduction must be 'mean', 'sum' or 'none'; got '${reduction}'`);
    if (!shapesEqual(input.shape, target.shape)) {
      throw new ShapeError(`logCoshLoss: input has shape ${fmt(input.shape)} but target has shape ${fmt(target.shape)}; they must match`);
    }
    const d = input.sub(target);
    const a = d.abs();
    const loss = a.add(a.mul(-2).exp().add(1).log()).sub(Math.LN2);
    ctx.saveForBackward(d);
    ctx.state.reduction = reduction;
    ctx.state.count = d.size;
    return reduction === 'none' ? loss : reduction === 'sum' ? loss.sum() : loss.mean();
  },
  backward(ctx, g) {
    const [d] = ctx.savedTensors;
    const { reduction, count } = ctx.state as { reduction: string; count: number };
    const scale = reduction === 'mean' ? g!.div(count) : g!; // g is 0-d unless reduction is 'none'
    const grad = d!.tanh().mul(scale);
    return [ctx.needsInputGrad[0] ? grad : null, ctx.needsInputGrad[1] ? grad.neg() : null, null];
  },
});
