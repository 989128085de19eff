import { sum, mean, ValueError, type Reduction, type Tensor } from '@tapegrad/tensor';

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
