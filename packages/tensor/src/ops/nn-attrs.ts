import type { Shape } from '../shape.js';

// The attrs of the ops @tapegrad/nn defines (conv, pooling, losses, fused optimizer steps). They
// live here, in the package every backend and nn share, so the op's definition and each
// backend's kernel read one spelling of them (tfjs's kernel_names.ts, for the same reason).

/** conv2d, conv2dInputGrad, conv2dWeightGrad. */
export interface Conv2dAttrs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
  /** conv2dInputGrad: the input's shape; conv2dWeightGrad: the weight's. */
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
