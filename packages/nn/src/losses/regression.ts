import { autocastActive, autocastOp, abs, isFloating, lt, mul, square, sub, tidy, where, DTypeError, ValueError, type Tensor } from '@tapegrad/tensor';
import { checkReduction, reduce, warnSizeMismatch, type Reduction } from './reduction.js';

// Composite losses: built from tensor ops, so autograd differentiates them (in input and
// target) with no rule of their own. input and target broadcast together, as in PyTorch, which
// warns when their shapes differ (a [N, 1] prediction against an [N] target silently becomes
// an [N, N] loss); so does checkFloat.

/** Options of {@link mseLoss} and {@link l1Loss} (and their modules). */
export interface RegressionOptions {
  /** 'mean' (default), 'sum', or 'none' for the unreduced losses. */
  reduction?: Reduction;
}
/** Options of {@link smoothL1Loss} and {@link SmoothL1Loss}. */
export interface SmoothL1Options extends RegressionOptions {
  /** Where the loss turns from quadratic to linear (default 1; 0 gives l1Loss). */
  beta?: number;
}
/** Options of {@link huberLoss} and {@link HuberLoss}. */
export interface HuberOptions extends RegressionOptions {
  /** Where the loss turns from quadratic to linear (default 1, must be positive). */
  delta?: number;
}

function checkFloat(op: string, input: Tensor, target: Tensor): void {
  for (const [arg, t] of [['input', input], ['target', target]] as const) {
    if (!isFloating(t.dtype)) throw new DTypeError(`${op}: ${arg} must be floating point; got ${t.dtype}`);
  }
  warnSizeMismatch(op, input, target);
}

/** Squared error (input − target)², input and target broadcast (torch mse_loss); see the [losses reference](../../../../docs/losses.md). */
export function mseLoss(input: Tensor, target: Tensor, options: RegressionOptions = {}): Tensor {
  if (autocastActive()) return autocastOp('mseLoss', [input, target], ([x, t]) => mseLoss(x, t, options));
  const reduction = checkReduction('mseLoss', options.reduction ?? 'mean');
  checkFloat('mseLoss', input, target);
  return tidy(() => reduce(square(sub(input, target)), reduction));
}

/** Absolute error |input − target|, input and target broadcast (torch l1_loss); see the [losses reference](../../../../docs/losses.md). */
export function l1Loss(input: Tensor, target: Tensor, options: RegressionOptions = {}): Tensor {
  if (autocastActive()) return autocastOp('l1Loss', [input, target], ([x, t]) => l1Loss(x, t, options));
  const reduction = checkReduction('l1Loss', options.reduction ?? 'mean');
  checkFloat('l1Loss', input, target);
  return tidy(() => reduce(abs(sub(input, target)), reduction));
}

/** 0.5·d²/β where |d| < β, else |d| - 0.5·β (d = input - target), as torch smooth_l1_loss; see the [losses reference](../../../../docs/losses.md). */
export function smoothL1Loss(input: Tensor, target: Tensor, options: SmoothL1Options = {}): Tensor {
  if (autocastActive()) return autocastOp('smoothL1Loss', [input, target], ([x, t]) => smoothL1Loss(x, t, options));
  const reduction = checkReduction('smoothL1Loss', options.reduction ?? 'mean');
  const beta = options.beta ?? 1;
  if (typeof beta !== 'number' || !(beta >= 0)) throw new ValueError(`smoothL1Loss: beta must be a non-negative number; got ${String(beta)}`);
  checkFloat('smoothL1Loss', input, target);
  if (beta === 0) return tidy(() => reduce(abs(sub(input, target)), reduction)); // l1Loss, without its second warning
  return tidy(() => {
    const d = sub(input, target);
    const a = abs(d);
    return reduce(where(lt(a, beta), mul(square(d), 0.5 / beta), sub(a, 0.5 * beta)), reduction);
  });
}

/** 0.5·d² where |d| < δ, else δ·(|d| - 0.5·δ) (d = input - target), as torch huber_loss; see the [losses reference](../../../../docs/losses.md). */
export function huberLoss(input: Tensor, target: Tensor, options: HuberOptions = {}): Tensor {
  if (autocastActive()) return autocastOp('huberLoss', [input, target], ([x, t]) => huberLoss(x, t, options));
  const reduction = checkReduction('huberLoss', options.reduction ?? 'mean');
  const delta = options.delta ?? 1;
  if (typeof delta !== 'number' || !(delta > 0)) throw new ValueError(`huberLoss: delta must be a positive number; got ${String(delta)}`);
  checkFloat('huberLoss', input, target);
  return tidy(() => {
    const d = sub(input, target);
    const a = abs(d);
    return reduce(where(lt(a, delta), mul(square(d), 0.5), mul(sub(a, 0.5 * delta), delta)), reduction);
  });
}
