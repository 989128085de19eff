import { autocastActive, autocastOp, exp, gt, isFloating, log, mul, sub, sum, div, tidy, where, DTypeError, type Tensor } from '@tapegrad/tensor';
import { checkReduction, reduce, warnSizeMismatch } from './reduction.js';

/** Options of {@link klDiv} and {@link KLDivLoss}. */
export interface KLDivOptions {
  /** 'batchmean' (the mathematically proper KL divergence: sum / batch size), 'mean', 'sum' or 'none'. */
  reduction?: 'none' | 'mean' | 'sum' | 'batchmean';
  /** Whether the target holds log-probabilities (default false: probabilities). */
  logTarget?: boolean;
}

/**
 * Kullback-Leibler divergence with log-probabilities `input`, as torch kl_div: pointwise
 * y·(log y - x), counted as 0 where y = 0; with logTarget, exp(y)·(y - x). PyTorch's default
 * reduction 'mean' divides by every element; 'batchmean' by the batch size (dim 0). See the
 * [losses reference](../../../../docs/losses.md).
 */
export function klDiv(input: Tensor, target: Tensor, options: KLDivOptions = {}): Tensor {
  if (autocastActive()) return autocastOp('klDiv', [input, target], ([x, t]) => klDiv(x, t, options));
  const reduction = checkReduction('klDiv', options.reduction ?? 'mean', ['none', 'mean', 'sum', 'batchmean'] as const);
  for (const [arg, t] of [['input', input], ['target', target]] as const) {
    if (!isFloating(t.dtype)) throw new DTypeError(`klDiv: ${arg} must be floating point; got ${t.dtype}`);
  }
  // PyTorch broadcasts here without a word; it is the regression losses' trap all the same
  warnSizeMismatch('klDiv', input, target);
  return tidy(() => {
    let pointwise: Tensor;
    if (options.logTarget) {
      pointwise = mul(exp(target), sub(target, input));
    } else {
      // log of a safe target, so y = 0 gives 0 and a zero gradient rather than 0·(-inf) = NaN
      const positive = gt(target, 0);
      const safeLog = log(where(positive, target, 1));
      pointwise = where(positive, mul(target, sub(safeLog, input)), 0);
    }
    if (reduction === 'batchmean') return input.ndim === 0 ? sum(pointwise) : div(sum(pointwise), input.shape[0]!);
    return reduce(pointwise, reduction);
  });
}
