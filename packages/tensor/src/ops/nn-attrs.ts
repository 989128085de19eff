import type { DType } from '../dtype.js';
import { IndexError, ValueError } from '../errors.js';
import { unravelIndex, type Shape } from '../shape.js';

// The attrs of the ops @tapegrad/nn defines (conv, pooling, losses, fused optimizer steps). They
// live here, in the package every backend and nn share, so the op's definition and each
// backend's kernel read one spelling of them (tfjs's kernel_names.ts, for the same reason).

/** conv2d, conv2dInputGrad, conv2dWeightGrad. */
export interface Conv2dAttrs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
  /** conv2dInputGrad: the input's shape; conv2dWeightGrad: the weight's; convTranspose2d: the output's. */
  shape?: Shape;
}

/** maxPool2d, avgPool2d and their backward ops. */
export interface Pool2dAttrs {
  kernelSize: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  countIncludePad: boolean;
  divisorOverride: number | null;
  /** The backward ops: the input's shape. */
  shape?: Shape;
}

/** How a loss reduces its per-element values. */
export type Reduction = 'none' | 'mean' | 'sum';

/** nllLoss, crossEntropy and their backward ops. */
export interface ClassLossAttrs {
  reduction: Reduction;
  ignoreIndex: number;
  /** crossEntropy only; 0 for nllLoss. */
  labelSmoothing: number;
  /** The loss's dtype when it differs from the input's: float32 for a float16/bfloat16 input, read and accumulated in float32 (autocast sets it). */
  dtype?: DType;
  /** Report a bad target as this op's, at this position of its targets (linearCrossEntropy runs crossEntropy on chunks of its rows). */
  report?: TargetReport;
  /**
   * crossEntropy only: the forward also outputs exp(x - max) per position (positions × C, classes
   * last), which its backward reads instead of computing the exps again. Set where a gradient
   * will be taken; the same in the forward's and the backward's attrs.
   */
  saveExps?: boolean;
}
/** Where a bad target is reported when a class loss runs on part of another op's targets. */
export interface TargetReport {
  /** The op the error names. */
  op: string;
  /** The flat position of this part's first target among that op's targets. */
  offset: number;
  /** The shape of that op's target. */
  shape: Shape;
}

/** sgdStep: one in-place SGD update of a parameter and its momentum buffer. */
export interface SgdStepAttrs {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
  /** The momentum buffer is new: it takes the gradient as is (PyTorch's first step). */
  init: boolean;
}

/** adamStep: one in-place Adam/AdamW update of a parameter and its moment buffers. */
export interface AdamStepAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: decay the weights directly instead of adding to the gradient. */
  decoupled: boolean;
  amsgrad: boolean;
  maximize: boolean;
  /** The step number, from 1. */
  step: number;
}

/**
 * sgdStepForeach, adamStepForeach: the fused step of many parameters in one kernel call (PyTorch's
 * foreach/fused optimizers). The inputs are each parameter's inputs of the single op, one
 * parameter after another; `each` holds each parameter's attrs.
 */
export interface ForeachStepAttrs<A> {
  each: readonly A[];
}

// issue 16 (nn helper): the pointwise activations with kernels of their own.
/**
 * silu, leakyRelu, elu, softplus, mish, hardswish and their backward ops; an op reads only its
 * own (leakyRelu: negativeSlope; elu: alpha; softplus: beta and threshold).
 */
export interface ActivationAttrs {
  negativeSlope?: number;
  alpha?: number;
  beta?: number;
  threshold?: number;
}
// issue 16 (optim): the fused linear + cross-entropy ops
/** linearCrossEntropyForward and linearCrossEntropyBackward: the class-loss attrs, what inputs follow, and what to compute. */
export interface LinearCrossEntropyAttrs extends ClassLossAttrs {
  /** A bias input follows the target. */
  bias: boolean;
  /** A class-weight input comes last. */
  weight: boolean;
  /** Rows of logits computed at a time: the workspace holds chunk × V of them. */
  chunk: number;
  /** Which gradients to compute: of the input, of the projection weight, of the bias. */
  grads: [boolean, boolean, boolean];
}
/**
 * Where the parts of linearCrossEntropy's workspace (a 1-d output the kernel uses as scratch)
 * start: one chunk of logits (the gradient's rows, in place), then room for a chunk's weight
 * gradient while it is added to the total (when there is more than one chunk), then for a
 * chunk's bias gradient. `size` is the whole length.
 */
export function linearCrossEntropyWorkspace(N: number, D: number, V: number, a: LinearCrossEntropyAttrs): { weightGrad: number; biasGrad: number; size: number } {
  const logits = Math.min(a.chunk, N) * V;
  const weightGrad = logits;
  const biasGrad = weightGrad + (a.grads[1] && N > a.chunk ? V * D : 0);
  return { weightGrad, biasGrad, size: biasGrad + (a.grads[2] ? V : 0) };
}

// The errors of nn's loss kernels, built here so that the CPU kernels (in nn, and crossEntropy's
// in backend-cpu) and the WebGPU kernels (whose outputs throw them at every read) word them the same.

/** nllLoss / crossEntropy: a class-index target outside [0, C) that is not ignoreIndex, at flat target position `p`. */
export function classTargetError(op: string, y: number, C: number, p: number, targetShape: Shape, ignoreIndex: number, report?: TargetReport): IndexError {
  if (report) [op, p, targetShape] = [report.op, p + report.offset, report.shape];
  return new IndexError(
    `${op}: target ${y} is out of range for ${C} classes (at target index [${unravelIndex(p, targetShape).join(', ')}]); expected a class in [0, ${C}) or ignoreIndex (${ignoreIndex})`,
  );
}

/** binaryCrossEntropy: input element `v` (at flat position `i`) outside [0, 1], as PyTorch words it. */
export function probabilityInputError(v: number, float32: boolean, i: number, shape: Shape): ValueError {
  return new ValueError(`binaryCrossEntropy: all elements of input should be between 0 and 1; got ${float32 ? float32Text(v) : v} at index [${unravelIndex(i, shape).join(', ')}]`);
}

/** The shortest decimal that reads back as float32 `v` (1.01, not 1.0099999904632568). */
function float32Text(v: number): string {
  for (let p = 1; p < 9; p++) if (Math.fround(Number(v.toPrecision(p))) === v) return String(Number(v.toPrecision(p)));
  return String(v);
}
