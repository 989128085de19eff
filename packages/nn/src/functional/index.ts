// nn.functional: the function forms of the activations and losses.
export { softmax, logSoftmax } from '@tapegrad/tensor';
// issue 16: every activation has its function form here, the core's elementwise ones included
export { relu, sigmoid, tanh } from '@tapegrad/tensor';
/** One-hot int32 vectors (torch.nn.functional.one_hot; numClasses -1, the default, is max(index) + 1). */
export { oneHot } from '@tapegrad/tensor';
export { crossEntropy, type CrossEntropyOptions } from '../losses/cross-entropy.js';
export { nllLoss, type NLLLossOptions } from '../losses/nll-loss.js';
export {
  mseLoss, l1Loss, smoothL1Loss, huberLoss, type RegressionOptions, type SmoothL1Options, type HuberOptions,
} from '../losses/regression.js';
export {
  binaryCrossEntropy, binaryCrossEntropyWithLogits, type BinaryCrossEntropyOptions, type BinaryCrossEntropyWithLogitsOptions,
} from '../losses/binary.js';
export { klDiv, type KLDivOptions } from '../losses/kl-div.js';
// issue 16 (optim): the fused linear + cross-entropy
export { linearCrossEntropy, type LinearCrossEntropyOptions } from '../losses/linear-cross-entropy.js';
export type { Reduction } from '../losses/reduction.js';
// The layers' ops (conv2d, pooling, gelu, linear, dropout, embedding, normalisation), as torch.nn.functional.
export * from '../ops/index.js';
