import type { Tensor } from '@tapegrad/tensor';
import { binaryCrossEntropy, binaryCrossEntropyWithLogits, type BinaryCrossEntropyOptions, type BinaryCrossEntropyWithLogitsOptions } from './binary.js';
import { crossEntropy, type CrossEntropyOptions } from './cross-entropy.js';
import { klDiv, type KLDivOptions } from './kl-div.js';
import { nllLoss, type NLLLossOptions } from './nll-loss.js';
import {
  huberLoss, l1Loss, mseLoss, smoothL1Loss, type HuberOptions, type RegressionOptions, type SmoothL1Options,
} from './regression.js';

// Module forms: each holds its options and calls its function. They are plain classes until
// the nn Module base class lands; then they extend it (weight becomes a buffer).

/** Base of the loss modules: the options are fixed at construction, as torch.nn's losses. */
abstract class Loss<O> {
  constructor(readonly options: O) {}
  abstract forward(input: Tensor, target: Tensor): Tensor;
  /** Alias of forward, so a loss module can be called like the others. */
  call(input: Tensor, target: Tensor): Tensor {
    return this.forward(input, target);
  }
}

export class CrossEntropyLoss extends Loss<CrossEntropyOptions> {
  constructor(options: CrossEntropyOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return crossEntropy(input, target, this.options); }
}
export class NLLLoss extends Loss<NLLLossOptions> {
  constructor(options: NLLLossOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return nllLoss(input, target, this.options); }
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
export class BCELoss extends Loss<BinaryCrossEntropyOptions> {
  constructor(options: BinaryCrossEntropyOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return binaryCrossEntropy(input, target, this.options); }
}
export class BCEWithLogitsLoss extends Loss<BinaryCrossEntropyWithLogitsOptions> {
  constructor(options: BinaryCrossEntropyWithLogitsOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return binaryCrossEntropyWithLogits(input, target, this.options); }
}
export class KLDivLoss extends Loss<KLDivOptions> {
  constructor(options: KLDivOptions = {}) { super(options); }
  forward(input: Tensor, target: Tensor): Tensor { return klDiv(input, target, this.options); }
}
