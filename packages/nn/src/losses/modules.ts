import type { Tensor } from '@tapegrad/tensor';
import { buffer, Module } from '../modules/module.js';
import { binaryCrossEntropy, binaryCrossEntropyWithLogits, type BinaryCrossEntropyOptions, type BinaryCrossEntropyWithLogitsOptions } from './binary.js';
import { crossEntropy, type CrossEntropyOptions } from './cross-entropy.js';
import { klDiv, type KLDivOptions } from './kl-div.js';
import { nllLoss, type NLLLossOptions } from './nll-loss.js';
import {
  huberLoss, l1Loss, mseLoss, smoothL1Loss, type HuberOptions, type RegressionOptions, type SmoothL1Options,
} from './regression.js';

// Module forms: each holds its options and calls its function. As in torch.nn, a class weight
// (and BCEWithLogitsLoss's posWeight) is a buffer: it is in the stateDict and follows to().

type Options = object;
const repr = (options: Options) =>
  Object.entries(options as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? `'${v}'` : String(v)}`)
    .join(', ');

/** A loss whose options are plain values fixed at construction. */
abstract class Loss<O extends Options> extends Module {
  /** @param options - The options of the loss function, used on every call. */
  constructor(readonly options: O) {
    super();
  }
  /** The loss of `input` against `target`, with the options given at construction. */
  abstract override forward(input: Tensor, target: Tensor): Tensor;
  protected override extraRepr(): string {
    return repr(this.options);
  }
}
/** A loss with a class `weight` buffer. */
abstract class WeightedLoss<O extends { weight?: Tensor }> extends Module {
  /** The class weight given at construction, held as a buffer (in the stateDict, moved by to()). */
  weight: Tensor | undefined;
  /** The other options of the loss function, used on every call. */
  readonly options: Omit<O, 'weight'>;
  /** @param options - The options of the loss function; its `weight` becomes a buffer. */
  constructor({ weight, ...options }: O) {
    super();
    this.weight = weight && buffer(weight);
    this.options = options;
  }
  /** The loss of `input` against `target`, with the options and weights given at construction. */
  abstract override forward(input: Tensor, target: Tensor): Tensor;
  protected override extraRepr(): string {
    return repr(this.options);
  }
}

/** Module form of {@link functional.crossEntropy} (torch.nn.CrossEntropyLoss); `weight` is a buffer. Formulas: the [losses reference](../../../../docs/losses.md). */
export class CrossEntropyLoss extends WeightedLoss<CrossEntropyOptions> {
  /** @param options - As {@link functional.crossEntropy}'s, used on every call. */
  constructor(options: CrossEntropyOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return crossEntropy(input, target, { ...this.options, weight: this.weight }); }
}
/** Module form of {@link functional.nllLoss} (torch.nn.NLLLoss); `weight` is a buffer. Formulas: the [losses reference](../../../../docs/losses.md). */
export class NLLLoss extends WeightedLoss<NLLLossOptions> {
  /** @param options - As {@link functional.nllLoss}'s, used on every call. */
  constructor(options: NLLLossOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return nllLoss(input, target, { ...this.options, weight: this.weight }); }
}
/** Module form of {@link functional.binaryCrossEntropy} (torch.nn.BCELoss); `weight` is a buffer. Formulas: the [losses reference](../../../../docs/losses.md). */
export class BCELoss extends WeightedLoss<BinaryCrossEntropyOptions> {
  /** @param options - As {@link functional.binaryCrossEntropy}'s, used on every call. */
  constructor(options: BinaryCrossEntropyOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return binaryCrossEntropy(input, target, { ...this.options, weight: this.weight }); }
}
/** Module form of {@link functional.binaryCrossEntropyWithLogits} (torch.nn.BCEWithLogitsLoss); `weight` and `posWeight` are buffers. Formulas: the [losses reference](../../../../docs/losses.md). */
export class BCEWithLogitsLoss extends WeightedLoss<BinaryCrossEntropyWithLogitsOptions> {
  /** The posWeight given at construction, held as a buffer (pos_weight in the stateDict). */
  posWeight: Tensor | undefined;
  /** @param options - As {@link functional.binaryCrossEntropyWithLogits}'s; `weight` and `posWeight` become buffers. */
  constructor({ posWeight, ...options }: BinaryCrossEntropyWithLogitsOptions = {}) {
    super(options);
    this.posWeight = posWeight && buffer(posWeight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, { ...this.options, weight: this.weight, posWeight: this.posWeight });
  }
}
/** Module form of {@link functional.mseLoss} (torch.nn.MSELoss). Formulas: the [losses reference](../../../../docs/losses.md). */
export class MSELoss extends Loss<RegressionOptions> {
  /** @param options - As {@link functional.mseLoss}'s, used on every call. */
  constructor(options: RegressionOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return mseLoss(input, target, this.options); }
}
/** Module form of {@link functional.l1Loss} (torch.nn.L1Loss). Formulas: the [losses reference](../../../../docs/losses.md). */
export class L1Loss extends Loss<RegressionOptions> {
  /** @param options - As {@link functional.l1Loss}'s, used on every call. */
  constructor(options: RegressionOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return l1Loss(input, target, this.options); }
}
/** Module form of {@link functional.smoothL1Loss} (torch.nn.SmoothL1Loss). Formulas: the [losses reference](../../../../docs/losses.md). */
export class SmoothL1Loss extends Loss<SmoothL1Options> {
  /** @param options - As {@link functional.smoothL1Loss}'s, used on every call. */
  constructor(options: SmoothL1Options = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return smoothL1Loss(input, target, this.options); }
}
/** Module form of {@link functional.huberLoss} (torch.nn.HuberLoss). Formulas: the [losses reference](../../../../docs/losses.md). */
export class HuberLoss extends Loss<HuberOptions> {
  /** @param options - As {@link functional.huberLoss}'s, used on every call. */
  constructor(options: HuberOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return huberLoss(input, target, this.options); }
}
/** Module form of {@link functional.klDiv} (torch.nn.KLDivLoss). Formulas: the [losses reference](../../../../docs/losses.md). */
export class KLDivLoss extends Loss<KLDivOptions> {
  /** @param options - As {@link functional.klDiv}'s, used on every call. */
  constructor(options: KLDivOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return klDiv(input, target, this.options); }
}
