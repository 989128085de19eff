import { broadcastShapes, fmt, mean, shapesEqual, sum, warn, ValueError, type Reduction, type Tensor } from '@tapegrad/tensor';

/** How a loss reduces its per-element values, as in PyTorch. */
export type { Reduction };
export const REDUCTIONS: readonly Reduction[] = ['none', 'mean', 'sum'];

export function checkReduction<R extends string = Reduction>(op: string, reduction: unknown, allowed: readonly R[] = REDUCTIONS as readonly R[]): R {
  if (typeof reduction === 'string' && (allowed as readonly string[]).includes(reduction)) return reduction as R;
  throw new ValueError(`${op}: reduction must be ${allowed.map((r) => `'${r}'`).join(', ')}; got ${JSON.stringify(reduction)}`);
}

/** Apply a reduction to per-element losses (the mean of an empty tensor is NaN, as in PyTorch). */
export function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  return reduction === 'sum' ? sum(loss) : mean(loss);
}

/**
 * PyTorch's warning for pointwise losses whose target broadcasts against the input: the loss is
 * computed (as PyTorch does), but an [N, 1] input with an [N] target gives N·N terms.
 */
export function warnSizeMismatch(op: string, input: Tensor, target: Tensor): void {
  if (shapesEqual(input.shape, target.shape)) return;
  broadcastShapes(op, input.shape, target.shape); // shapes that cannot broadcast are an error naming the loss
  warn(
    `${op}: using a target size ${fmt(target.shape)} that is different to the input size ${fmt(input.shape)}; ` +
      'this will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.',
  );
}
