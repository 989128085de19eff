import { ShapeError, ValueError, ones, zeros, type Tensor } from '@tapegrad/tensor';
import { noGrad } from '@tapegrad/autograd';
import { batchNorm, groupNorm, layerNorm } from '../ops/norm.js';
import { Module, buffer, parameter } from './module.js';
import { checkSize, type FactoryOptions } from './linear.js';

/** Options of {@link LayerNorm}. */
export interface LayerNormModuleOptions extends FactoryOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn a per-element scale (ones) and shift (zeros). Default true. */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, learn the shift too. Default true. */
  bias?: boolean;
}
/**
 * Layer normalisation over the trailing `normalizedShape` dims, with a learned elementwise scale
 * (ones) and shift (zeros) by default (torch.nn.LayerNorm); see {@link layerNorm}.
 */
export class LayerNorm extends Module {
  /** The trailing dims normalised over. */
  readonly normalizedShape: number[];
  /** Added to the variance. */
  readonly eps: number;
  /** The learned scale, shape normalizedShape; null without elementwiseAffine. */
  weight: Tensor | null;
  /** The learned shift, shape normalizedShape; null without elementwiseAffine or with `bias: false`. */
  bias: Tensor | null;
  /**
   * @param normalizedShape - The trailing dims of the input to normalise over, each a positive
   * integer (else a ValueError); one number for the last dim alone.
   * @param options - eps, elementwiseAffine, bias, and the parameters' dtype and device.
   */
  constructor(normalizedShape: number | number[], options: LayerNormModuleOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape.slice();
    this.normalizedShape.forEach((d) => checkSize('LayerNorm', 'normalizedShape', d));
    this.eps = options.eps ?? 1e-5;
    const o = { dtype: options.dtype, device: options.device };
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? parameter(ones(this.normalizedShape, o)) : null;
    this.bias = affine && options.bias !== false ? parameter(zeros(this.normalizedShape, o)) : null;
  }
  /** x normalised over its trailing normalizedShape dims (which must match, else a ShapeError). */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
  protected override extraRepr(): string {
    return `[${this.normalizedShape}], eps=${this.eps}`;
  }
}

/** Options of {@link BatchNorm1d} and {@link BatchNorm2d}. */
export interface BatchNormModuleOptions extends FactoryOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of each new batch in the running statistics; null for a cumulative average. Default 0.1. */
  momentum?: number | null;
  /** Learn a per-channel scale and shift. Default true. */
  affine?: boolean;
  /** Keep running statistics for eval mode. Default true. */
  trackRunningStats?: boolean;
}
abstract class BatchNorm extends Module {
  /** Added to the variance. */
  readonly eps: number;
  /** Weight of each new batch in the running statistics; null for a cumulative average. */
  readonly momentum: number | null;
  /** The learned per-channel scale, shape [numFeatures]; null without affine. */
  weight: Tensor | null;
  /** The learned per-channel shift, shape [numFeatures]; null without affine. */
  bias: Tensor | null;
  /** Running mean per channel, a buffer (stateDict name running_mean); null without trackRunningStats. */
  runningMean: Tensor | null;
  /** Running unbiased variance per channel, a buffer (running_var); null without trackRunningStats. */
  runningVar: Tensor | null;
  /** int32 count of training batches seen, a buffer (num_batches_tracked); null without trackRunningStats. */
  numBatchesTracked: Tensor | null;
  /** The input ranks this layer accepts. */
  protected abstract readonly ranks: readonly number[];
  /**
   * @param numFeatures - Channels C, dim 1 of the input (a positive integer, else a ValueError).
   * @param options - eps, momentum, affine, trackRunningStats, and the parameters' dtype and device.
   */
  constructor(readonly numFeatures: number, options: BatchNormModuleOptions = {}) {
    super();
    checkSize(this.constructor.name, 'numFeatures', numFeatures);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    const o = { dtype: options.dtype, device: options.device };
    const affine = options.affine ?? true;
    this.weight = affine ? parameter(ones([numFeatures], o)) : null;
    this.bias = affine ? parameter(zeros([numFeatures], o)) : null;
    const track = options.trackRunningStats ?? true;
    this.runningMean = track ? buffer(zeros([numFeatures], o)) : null;
    this.runningVar = track ? buffer(ones([numFeatures], o)) : null;
    this.numBatchesTracked = track ? buffer(zeros([], { dtype: 'int32', device: options.device })) : null;
  }
  /**
   * Normalise with the batch's statistics in training mode (updating the running ones), with the
   * running ones in eval mode (the batch's when `trackRunningStats` is false). Throws a ShapeError
   * for a wrong rank or channel count.
   */
  forward(x: Tensor): Tensor {
    const name = this.constructor.name;
    if (!this.ranks.includes(x.ndim)) {
      throw new ShapeError(`${name}: expected a ${this.ranks.map((r) => `${r}-d`).join(' or ')} input; got shape ${[x.shape].map((s) => `[${s.join(', ')}]`)}`);
    }
    if (x.shape[1] !== this.numFeatures) throw new ShapeError(`${name}: expected ${this.numFeatures} channels in dim 1; got input of shape [${x.shape.join(', ')}]`);
    this.guardFields(); // the mode decides the kernels
    let momentum = this.momentum ?? 0;
    if (this.training && this.numBatchesTracked) {
      noGrad(() => this.numBatchesTracked!.add_(1));
      if (this.momentum === null) momentum = 1 / this.numBatchesTracked.itemSync();
    }
    const useBatch = this.training || !this.runningMean;
    return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, { training: useBatch, momentum, eps: this.eps });
  }
  protected override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}`;
  }
}
/** Batch normalisation over [N, C] or [N, C, L] per channel C. */
export class BatchNorm1d extends BatchNorm {
  protected readonly ranks = [2, 3];
}
/** Batch normalisation over [N, C, H, W] per channel C. */
export class BatchNorm2d extends BatchNorm {
  protected readonly ranks = [4];
}

// ---- issue 16 ---------------------------------------------------------------------------------
/** Options of {@link GroupNorm}. */
export interface GroupNormModuleOptions extends FactoryOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn a per-channel scale (ones) and shift (zeros). Default true. */
  affine?: boolean;
}
/**
 * Group normalisation of [N, C, ...] (torch.nn.GroupNorm): channels in numGroups groups, each
 * normalised per sample over its channels and positions, with a learned per-channel scale and
 * shift; see {@link groupNorm}. Unlike BatchNorm it does not depend on the batch, so it trains
 * the same at batch size 1 and has no running statistics.
 */
export class GroupNorm extends Module {
  /** Added to the variance. */
  readonly eps: number;
  /** The learned per-channel scale, shape [numChannels]; null without affine. */
  weight: Tensor | null;
  /** The learned per-channel shift, shape [numChannels]; null without affine. */
  bias: Tensor | null;
  /**
   * @param numGroups - Groups to split the channels into; must divide numChannels (else a ValueError).
   * @param numChannels - Channels C, dim 1 of the input (a positive integer, else a ValueError).
   * @param options - eps, affine, and the parameters' dtype and device.
   */
  constructor(readonly numGroups: number, readonly numChannels: number, options: GroupNormModuleOptions = {}) {
    super();
    checkSize('GroupNorm', 'numGroups', numGroups);
    checkSize('GroupNorm', 'numChannels', numChannels);
    if (numChannels % numGroups) throw new ValueError(`GroupNorm: numGroups=${numGroups} must divide numChannels=${numChannels}`);
    this.eps = options.eps ?? 1e-5;
    const o = { dtype: options.dtype, device: options.device };
    const affine = options.affine ?? true;
    this.weight = affine ? parameter(ones([numChannels], o)) : null;
    this.bias = affine ? parameter(zeros([numChannels], o)) : null;
  }
  /** x [N, numChannels, ...] normalised per group (a wrong channel count throws a ShapeError). */
  forward(x: Tensor): Tensor {
    if (x.ndim < 2 || x.shape[1] !== this.numChannels) {
      throw new ShapeError(`GroupNorm: expected an input [N, ${this.numChannels}, ...]; got shape [${x.shape.join(', ')}]`);
    }
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
  protected override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.weight !== null}`;
  }
}
