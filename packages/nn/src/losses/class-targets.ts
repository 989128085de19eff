import { DTypeError, ShapeError, ValueError, fmt, isFloating, shapesEqual, type Shape, type Tensor, type ClassLossAttrs } from '@tapegrad/tensor';
import type { Reduction } from './reduction.js';


/** The class dim: 0 for a 1-d input (C), else 1 (N, C, d1, ...), as in PyTorch. */
export function classDim(input: { shape: Shape }): number {
  return input.shape.length === 1 ? 0 : 1;
}
/** The shape of the positions that each have one target: the input's shape without the class dim. */
export function positionShape(input: { shape: Shape }): number[] {
  const cd = classDim(input);
  return input.shape.filter((_, i) => i !== cd);
}

export function checkInput(op: string, input: Tensor): void {
  if (!isFloating(input.dtype)) throw new DTypeError(`${op}: input must be floating point; got ${input.dtype} input of shape ${fmt(input.shape)}`);
  if (input.ndim === 0) {
    throw new ShapeError(`${op}: input must have 1 or more dims: (C), (N, C) or (N, C, d1, ..., dK); got a 0-d input (shape [])`);
  }
}

/** Class-index targets: int32 of the input's shape without the class dim. */
export function checkIndexTarget(op: string, input: Tensor, target: Tensor): void {
  if (target.dtype !== 'int32') {
    const hint = isFloating(target.dtype)
      ? op === 'nllLoss'
        ? ' (nllLoss takes class indices only; for class probabilities use crossEntropy)'
        : ` (class probabilities must have the input's shape ${fmt(input.shape)})`
      : '';
    throw new DTypeError(`${op}: target must be int32 class indices; got a ${target.dtype} target of shape ${fmt(target.shape)}${hint}`);
  }
  const expected = positionShape(input);
  if (shapesEqual(target.shape, expected)) return;
  if (input.ndim === 1) {
    throw new ShapeError(`${op}: target must be 0-d for a 1-d input of shape ${fmt(input.shape)}; got target shape ${fmt(target.shape)}`);
  }
  if (target.ndim >= 1 && target.shape[0] !== input.shape[0]) {
    throw new ShapeError(
      `${op}: target batch size ${target.shape[0]} does not match input batch size ${input.shape[0]} (input ${fmt(input.shape)}, target ${fmt(target.shape)})`,
    );
  }
  throw new ShapeError(`${op}: target shape ${fmt(target.shape)} does not fit input ${fmt(input.shape)}; expected ${fmt(expected)} (the input's shape without the class dim ${classDim(input)})`);
}

export function checkWeight(op: string, input: Tensor, weight: Tensor | undefined, dtype = input.dtype): void {
  if (weight === undefined) return;
  const C = input.shape[classDim(input)]!;
  if (weight.ndim !== 1 || weight.shape[0] !== C) {
    throw new ShapeError(`${op}: weight must have shape [${C}] (one weight per class of input ${fmt(input.shape)}); got ${fmt(weight.shape)}`);
  }
  if (weight.dtype !== dtype) throw new DTypeError(`${op}: weight must have the ${dtype === input.dtype ? "input's" : "loss's"} dtype ${dtype}; got ${weight.dtype}`);
}

export function checkIgnoreIndex(op: string, ignoreIndex: unknown): number {
  if (typeof ignoreIndex !== 'number' || !Number.isInteger(ignoreIndex)) {
    throw new ValueError(`${op}: ignoreIndex must be an integer; got ${String(ignoreIndex)}`);
  }
  return ignoreIndex;
}

export function checkLabelSmoothing(op: string, labelSmoothing: unknown): number {
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new ValueError(`${op}: labelSmoothing must be a number in [0, 1]; got ${String(labelSmoothing)}`);
  }
  return labelSmoothing;
}

export type { ClassLossAttrs };
