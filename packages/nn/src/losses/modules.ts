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
  constructor(readonly options: O) {
    super();
  }
  abstract override forward(input: Tensor, target: Tensor): Tensor;
  protected override extraRepr(): string {
    return repr(this.options);
  }
}
/** A loss with a class `weight` buffer. */
abstract class WeightedLoss<O extends { weight?: Tensor }> extends Module {
  weight: Tensor | undefined;
  readonly options: Omit<O, 'weight'>;
  constructor({ weight, ...options }: O) {
    super();
    this.weight = weight && buffer(weight);
    this.options = options;
  }
  abstract override forward(input: Tensor, target: Tensor): Tensor;
  protected override extraRepr(): string {
    return repr(this.options);
  }
}

export class CrossEntropyLoss extends WeightedLoss<CrossEntropyOptions> {
  constructor(options: CrossEntropyOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return crossEntropy(input, target, { ...this.options, weight: this.weight }); }
}
export class NLLLoss extends WeightedLoss<NLLLossOptions> {
  constructor(options: NLLLossOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return nllLoss(input, target, { ...this.options, weight: this.weight }); }
}
export class BCELoss extends WeightedLoss<BinaryCrossEntropyOptions> {
  constructor(options: BinaryCrossEntropyOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return binaryCrossEntropy(input, target, { ...this.options, weight: this.weight }); }
}
export class BCEWithLogitsLoss extends WeightedLoss<BinaryCrossEntropyWithLogitsOptions> {
  posWeight: Tensor | undefined;
  constructor({ posWeight, ...options }: BinaryCrossEntropyWithLogitsOptions = {}) {
    super(options);
    this.posWeight = posWeight && buffer(posWeight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, { ...this.options, weight: this.weight, posWeight: this.posWeight });
  }
}
export class MSELoss extends Loss<RegressionOptions> {
  constructor(options: RegressionOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return mseLoss(input, target, this.options); }
}
export class L1Loss extends Loss<RegressionOptions> {
  constructor(options: RegressionOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return l1Loss(input, target, this.options); }
}
export class SmoothL1Loss extends Loss<SmoothL1Options> {
  constructor(options: SmoothL1Options = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return smoothL1Loss(input, target, this.options); }
}
export class HuberLoss extends Loss<HuberOptions> {
  constructor(options: HuberOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return huberLoss(input, target, this.options); }
}
export class KLDivLoss extends Loss<KLDivOptions> {
  constructor(options: KLDivOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return klDiv(input, target, this.options); }
}
