import { registerGradient } from '@tapegrad/autograd';
import { autocastOp, defineOp, dispatch, readsInto, run, TapegradError, type Tensor } from '@tapegrad/tensor';
import {
  checkIgnoreIndex, checkIndexTarget, checkInput, checkWeight, positionShape, type ClassLossAttrs,
} from './class-targets.js';
import { checkReduction, type Reduction } from './reduction.js';
import './kernels/nll-loss.cpu.js';

/** Options of {@link nllLoss} and {@link NLLLoss}. */
export interface NLLLossOptions {
  /** A rescaling weight per class, shape (C). */
  weight?: Tensor;
  /** Targets equal to this contribute no loss and no gradient (default -100). */
  ignoreIndex?: number;
  /** 'mean' (default), 'sum', or 'none' for the unreduced losses. */
  reduction?: Reduction;
}

function checkAttrs(op: string, attrs: ClassLossAttrs): void {
  checkReduction(op, attrs.reduction);
  checkIgnoreIndex(op, attrs.ignoreIndex);
}

// nllLoss is an op of its own rather than a composite of gather and scatter: its backward then
// writes one value per position and keeps PyTorch's semantics (ignored positions, the weighted
// mean's denominator, the all-ignored zero gradient) in one place, as crossEntropy does.
// Outputs: [loss, totalWeight]; totalWeight (the sum of the weights of the non-ignored targets)
// is what 'mean' divides by, saved for the backward.
defineOp<ClassLossAttrs>({
  name: 'nllLoss',
  infer: ([input, target, weight], attrs) => {
    checkAttrs('nllLoss', attrs);
    checkInput('nllLoss', input!);
    checkIndexTarget('nllLoss', input!, target!);
    const dtype = readsInto('nllLoss', input!, attrs.dtype);
    checkWeight('nllLoss', input!, weight, dtype);
    return [
      { shape: attrs.reduction === 'none' ? positionShape(input!) : [], dtype },
      { shape: [], dtype },
    ];
  },
});

export interface NLLLossBackwardAttrs extends ClassLossAttrs {
  inputShape: number[];
}
// Inputs [target, totalWeight, upstream, weight?]: the input itself is not needed.
defineOp<NLLLossBackwardAttrs>({
  name: 'nllLossBackward',
  infer: ([, total], { inputShape }) => [{ shape: inputShape, dtype: total!.dtype }],
});

registerGradient<ClassLossAttrs>('nllLoss', {
  saveInputs: [1, 2],
  saveOutputs: true,
  backward: (c, [g]) => {
    if (c.needsGrad[2]) throw new TapegradError('nllLoss: gradients with respect to weight are not supported (as in PyTorch); detach it');
    const [, target, weight] = c.inputs;
    const rest = weight ? [weight] : [];
    const attrs: NLLLossBackwardAttrs = { ...c.attrs, inputShape: [...c.inputShapes[0]!] };
    const gradInput = c.needsGrad[0] ? run('nllLossBackward', [target!, c.outputs[1]!, g!, ...rest], attrs) : null;
    return [gradInput, null, ...rest.map(() => null)];
  },
});

/**
 * The negative log-likelihood loss over log-probabilities `input` of shape (C), (N, C) or
 * (N, C, d1, ..., dK) and int32 class-index `target` of shape (), (N) or (N, d1, ..., dK),
 * as torch.nn.functional.nll_loss. 'mean' divides by the summed weight of the non-ignored
 * targets, so a batch whose targets are all ignored gives NaN (and a zero gradient). See the
 * [losses reference](../../../../docs/losses.md).
 */
export function nllLoss(input: Tensor, target: Tensor, options: NLLLossOptions = {}): Tensor {
  const attrs: ClassLossAttrs = { reduction: options.reduction ?? 'mean', ignoreIndex: options.ignoreIndex ?? -100, labelSmoothing: 0 };
  // under autocast a half input stays half and the loss is float32 (`dtype`), as crossEntropy
  return autocastOp('nllLoss', [input, target, options.weight], ([input, target, weight], dtype) => {
    const [loss, total] = dispatch('nllLoss', weight ? [input!, target!, weight] : [input!, target!], dtype ? { ...attrs, dtype } : attrs);
    total!.dispose();
    return loss!;
  });
}
