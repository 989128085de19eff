import { autocastActive, autocastOp,
  abs, add, broadcastShapes, clamp, defineOp, exp, isFloating, log, mul, neg, relu, run, sub, tidy, DTypeError, ShapeError, fmt, shapesEqual, type Tensor,
} from '@tapegrad/tensor';
import { checkReduction, reduce, type Reduction } from './reduction.js';
import './kernels/binary-cross-entropy.cpu.js';

/** Options of {@link binaryCrossEntropy} and {@link BCELoss}. */
export interface BinaryCrossEntropyOptions {
  /** A rescaling weight that broadcasts against the input. */
  weight?: Tensor;
  /** 'mean' (default), 'sum', or 'none' for the unreduced losses. */
  reduction?: Reduction;
}
/** Options of {@link binaryCrossEntropyWithLogits} and {@link BCEWithLogitsLoss}. */
export interface BinaryCrossEntropyWithLogitsOptions extends BinaryCrossEntropyOptions {
  /** A weight on the positive term, broadcast along the last dim (one per class), as torch's pos_weight. */
  posWeight?: Tensor;
}

function check(op: string, input: Tensor, target: Tensor, extra: Record<string, Tensor | undefined>): void {
  for (const [arg, t] of Object.entries({ input, target, ...extra })) {
    if (t && !isFloating(t.dtype)) throw new DTypeError(`${op}: ${arg} must be floating point; got ${t.dtype}`);
  }
  if (!shapesEqual(input.shape, target.shape)) {
    throw new ShapeError(`${op}: target shape ${fmt(target.shape)} must equal input shape ${fmt(input.shape)}`);
  }
  // weights broadcast to the input's shape, never enlarge it (PyTorch: "output with shape ... doesn't match the broadcast shape")
  for (const [arg, t] of Object.entries(extra)) {
    if (t && !shapesEqual(broadcastShapes(op, input.shape, t.shape), input.shape)) {
      throw new ShapeError(`${op}: ${arg} of shape ${fmt(t.shape)} must broadcast to the input's shape ${fmt(input.shape)}; together they broadcast to ${fmt(broadcastShapes(op, input.shape, t.shape))}`);
    }
  }
}

// PyTorch refuses inputs outside [0, 1] (NaN included) rather than return NaN. The check is an op
// with a kernel per backend, so that it stays eager and never reads values back: the CPU kernel
// throws at once; the WebGPU kernel records the first bad element, as for the class losses'
// targets (DESIGN.md: reads are the only sync points). The loss is computed from the check's
// output (a 0-d zero it is subtracted from), so on WebGPU every read of the loss, and of what is
// computed from it, throws the same error.
defineOp({
  name: 'binaryCrossEntropyCheck',
  infer: () => [{ shape: [], dtype: 'int32' }],
  differentiable: false,
});

/**
 * Binary cross-entropy between probabilities `input` and `target` in [0, 1]:
 * -w·(y·log x + (1 - y)·log(1 - x)), each log clamped at -100 as in PyTorch so x = 0 or 1
 * gives a finite loss. input and target must be floating point (else a DTypeError) and of one
 * shape (else a ShapeError); an input element outside [0, 1] or NaN is a ValueError, as in
 * PyTorch (on WebGPU, thrown by every read of the loss). See the [losses reference](../../../../docs/losses.md).
 */
export function binaryCrossEntropy(input: Tensor, target: Tensor, options: BinaryCrossEntropyOptions = {}): Tensor {
  if (autocastActive()) return autocastOp('binaryCrossEntropy', [input, target], ([x, t]) => binaryCrossEntropy(x, t, options));
  const op = 'binaryCrossEntropy';
  const reduction = checkReduction(op, options.reduction ?? 'mean');
  check(op, input, target, { weight: options.weight });
  return tidy(() => {
    const checked = run('binaryCrossEntropyCheck', [input]);
    const logX = clamp(log(input), -100);
    const log1mX = clamp(log(sub(1, input)), -100);
    let loss = sub(checked, add(mul(target, logX), mul(sub(1, target), log1mX)));
    if (options.weight) loss = mul(loss, options.weight);
    return reduce(loss, reduction);
  });
}

/**
 * Binary cross-entropy on logits, computed stably as PyTorch does:
 * (1 - y)·x + (1 + (p - 1)·y)·(log(1 + exp(-|x|)) + max(-x, 0)), times weight, with p the
 * posWeight (1 when absent). torch.nn.functional.binary_cross_entropy_with_logits; see the [losses reference](../../../../docs/losses.md).
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options: BinaryCrossEntropyWithLogitsOptions = {}): Tensor {
  if (autocastActive()) return autocastOp('binaryCrossEntropyWithLogits', [input, target], ([x, t]) => binaryCrossEntropyWithLogits(x, t, options));
  const op = 'binaryCrossEntropyWithLogits';
  const reduction = checkReduction(op, options.reduction ?? 'mean');
  const { weight, posWeight } = options;
  check(op, input, target, { weight, posWeight });
  return tidy(() => {
    // log(1 + exp(-x)) = log(1 + exp(-|x|)) + max(-x, 0) never overflows
    const softplusNeg = add(log(add(exp(neg(abs(input))), 1)), relu(neg(input)));
    const logWeight = posWeight ? add(mul(sub(posWeight, 1), target), 1) : undefined;
    let loss = add(mul(sub(1, target), input), logWeight ? mul(logWeight, softplusNeg) : softplusNeg);
    if (weight) loss = mul(loss, weight);
    return reduce(loss, reduction);
  });
}
