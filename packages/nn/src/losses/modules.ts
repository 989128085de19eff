import type { Tensor } from '@tapegrad/tensor';
import { Module, buffer } from '../modules/module.js';
import { binaryCrossEntropy, binaryCrossEntropyWithLogits, type BinaryCrossEntropyOptions, type BinaryCrossEntropyWithLogitsOptions } from './binary.js';
import { crossEntropy, type CrossEntropyOptions } from './cross-entropy.js';
import { klDiv, type KLDivOptions } from './kl-div.js';
import { nllLoss, type NLLLossOptions } from './nll-loss.js';
import {
  huberLoss, l1Loss, mseLoss, smoothL1Loss, type HuberOptions, type RegressionOptions, type SmoothL1Options,
} from './regression.js';

// Module forms: each holds its options and calls its function. A class weight (and BCE's
// posWeight) is a buffer, as in PyTorch: it is in the stateDict and moves with to(device).

/** Base of the loss modules: the options are fixed at construction, as torch.nn's losses. */
abstract class Loss<O extends object> extends Module {
  weight: Tensor | null;
  posWeight: Tensor | null;
  private readonly fixed: O;
  constructor(options: O) {
    super();
    this.fixed = options;
    const { weight, posWeight } = options as { weight?: Tensor; posWeight?: Tensor };
    this.weight = weight ? buffer(weight) : null;
    this.posWeight = posWeight ? buffer(posWeight) : null;
  }
  /** The options, with the current (possibly moved or reloaded) buffers. */
  get options(): O {
    const o: Record<string, unknown> = { ...(this.fixed as Record<string, unknown>) };
    if (this.weight) o.weight = this.weight;
    if (this.posWeight) o.posWeight = this.posWeight;
    return o as O;
  }
  abstract override forward(input: Tensor, target: Tensor): Tensor;
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
