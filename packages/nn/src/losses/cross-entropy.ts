import { isGradEnabled, registerGradient } from '@tapegrad/autograd';
import {
  add, autocastOp, cast, defineOp, dispatch, div, fmt, isFloating, logSoftmax, mul, neg, reshape, run, shapesEqual, sum, tidy,
  DTypeError, ShapeError, TapegradError, ValueError, type Tensor,
} from '@tapegrad/tensor';
import {
  checkIgnoreIndex, checkIndexTarget, checkInput, checkLabelSmoothing, checkWeight, classDim, positionShape,
  type ClassLossAttrs,
} from './class-targets.js';
import { checkReduction, type Reduction } from './reduction.js';
import { readsInto } from '@tapegrad/tensor';

/** Options of {@link crossEntropy} and {@link CrossEntropyLoss}. */
export interface CrossEntropyOptions {
  /** A rescaling weight per class, shape (C). */
  weight?: Tensor;
  /** Class-index targets equal to this contribute no loss and no gradient (default -100). */
  ignoreIndex?: number;
  /** 'mean' (default), 'sum', or 'none' for the unreduced losses. */
  reduction?: Reduction;
  /** Mix the target with the uniform distribution: ε in [0, 1] (default 0). */
  labelSmoothing?: number;
}

function checkAttrs(op: string, attrs: ClassLossAttrs): void {
  checkReduction(op, attrs.reduction);
  checkIgnoreIndex(op, attrs.ignoreIndex);
  checkLabelSmoothing(op, attrs.labelSmoothing);
}

// The fused forward for class-index targets (CPU kernels: @tapegrad/backend-cpu's
// kernels/cross-entropy.ts, with wasm/loss.wat). Outputs:
// [loss, stats, totalWeight, exps?]: stats holds, per target position, the row max and the log of
// the sum of exp(x - max), from which the backward can recompute softmax; with `saveExps` (set
// when a gradient will be taken) exps holds each exp(x - max) the forward computed anyway, one
// row of C per position, so the backward is a pass over memory instead of a second exp per
// logit (N·C values kept until the backward, as PyTorch keeps its log-softmax).
// Exported (with the backward's) so that linearCrossEntropy, which runs both by name, imports the
// definitions: a bundler drops a module of this package whose exports nobody imports.
export const crossEntropyOp = defineOp<ClassLossAttrs>({
  name: 'crossEntropy',
  infer: ([input, target, weight], attrs) => {
    checkAttrs('crossEntropy', attrs);
    checkInput('crossEntropy', input!);
    checkIndexTarget('crossEntropy', input!, target!);
    const dtype = readsInto('crossEntropy', input!, attrs.dtype);
    checkWeight('crossEntropy', input!, weight, dtype);
    const positions = positionShape(input!);
    return [
      { shape: attrs.reduction === 'none' ? positions : [], dtype },
      { shape: [...positions, 2], dtype },
      { shape: [], dtype },
      ...(attrs.saveExps ? [{ shape: [...positions, input!.shape[classDim(input!)]!], dtype }] : []),
    ];
  },
});

// The fused backward: inputs [input, target, stats, totalWeight, upstream, weight?, exps?] (exps
// with `saveExps`), one output of the input's shape, written in one pass per row.
export const crossEntropyBackwardOp = defineOp<ClassLossAttrs>({
  name: 'crossEntropyBackward',
  infer: ([input]) => [{ shape: input!.shape, dtype: input!.dtype }],
});

// Saves the input, target and weight, and the stats, totalWeight and exps outputs: the backward
// op makes softmax from them in one pass per row.
registerGradient<ClassLossAttrs>('crossEntropy', {
  saveInputs: true,
  saveOutputs: true,
  backward: (c, [g]) => {
    if (c.needsGrad[2]) throw new TapegradError('crossEntropy: gradients with respect to weight are not supported (as in PyTorch); detach it');
    const [input, target, weight] = c.inputs;
    const [, stats, total, exps] = c.outputs;
    const rest = weight ? [weight] : [];
    const gradInput = c.needsGrad[0] ? run('crossEntropyBackward', [input!, target!, stats!, total!, g!, ...rest, ...(exps ? [exps] : [])], c.attrs) : null;
    return [gradInput, null, ...rest.map(() => null)];
  },
});

/**
 * Cross-entropy between logits `input` and `target`, as torch.nn.functional.cross_entropy.
 * input: (C), (N, C) or (N, C, d1, ..., dK), classes along dim 1 (dim 0 for 1-d input).
 * target: int32 class indices of the input's shape without the class dim, or floating class
 * probabilities of the input's shape. With class indices this is one fused op; with
 * probabilities a composite of logSoftmax (so gradients reach the target too).
 *
 * 'mean' over class indices divides by the summed weight of the non-ignored targets (all
 * ignored gives NaN, as PyTorch); over probabilities by the number of positions. See the
 * [losses reference](../../../../docs/losses.md).
 */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const attrs: ClassLossAttrs = {
    reduction: options.reduction ?? 'mean',
    ignoreIndex: options.ignoreIndex ?? -100,
    labelSmoothing: options.labelSmoothing ?? 0,
  };
  // under autocast a half input stays half and the loss is float32 (`dtype`): read and accumulated in float32
  return autocastOp('crossEntropy', [input, target, options.weight], ([input, target, weight], dtype) => {
    if (input!.ndim > 0 && (isFloating(target!.dtype) || shapesEqual(target!.shape, input!.shape))) {
      if (!dtype) return crossEntropyProbabilities(input!, target!, weight ?? undefined, attrs);
      return tidy(() => crossEntropyProbabilities(cast(input!, dtype), cast(target!, dtype), weight ?? undefined, attrs));
    }
    const saveExps = input!.requiresGrad && isGradEnabled();
    const outs = dispatch('crossEntropy', weight ? [input!, target!, weight] : [input!, target!], { ...attrs, ...(dtype && { dtype }), ...(saveExps && { saveExps }) });
    for (const t of outs.slice(1)) t.dispose();
    return outs[0]!;
  });
}

// PyTorch's cross_entropy_loss_prob_target: -Σ_c w[c]·y'[c]·logSoftmax(x)[c] per position, with
// y' = y·(1-ε) + ε/C; 'mean' divides by the number of positions (numel / C), not by Σw.
function crossEntropyProbabilities(input: Tensor, target: Tensor, weight: Tensor | undefined, attrs: ClassLossAttrs): Tensor {
  const op = 'crossEntropy';
  checkAttrs(op, attrs);
  checkInput(op, input);
  if (!isFloating(target.dtype)) {
    throw new DTypeError(`${op}: a target of the input's shape ${fmt(input.shape)} holds class probabilities and must be floating point; got ${target.dtype}`);
  }
  if (!shapesEqual(target.shape, input.shape)) {
    throw new ShapeError(`${op}: class-probability target must have the input's shape ${fmt(input.shape)}; got ${fmt(target.shape)} (class-index targets must be int32)`);
  }
  if (target.dtype !== input.dtype) throw new DTypeError(`${op}: class-probability target must have the input's dtype ${input.dtype}; got ${target.dtype}`);
  if (attrs.ignoreIndex >= 0) {
    throw new ValueError(`${op}: ignoreIndex ${attrs.ignoreIndex} is not supported with class-probability targets (it must stay negative, e.g. the default -100)`);
  }
  checkWeight(op, input, weight);
  const cd = classDim(input);
  const C = input.shape[cd]!;
  const eps = attrs.labelSmoothing;
  return tidy(() => {
    const smoothed = eps > 0 ? add(mul(target, 1 - eps), eps / C) : target;
    let terms = mul(logSoftmax(input, cd), smoothed);
    if (weight) terms = mul(terms, reshape(weight, [C, ...input.shape.slice(cd + 1).map(() => 1)]));
    const perPosition = neg(sum(terms, cd));
    if (attrs.reduction === 'none') return perPosition;
    const total = sum(perPosition);
    return attrs.reduction === 'sum' ? total : div(total, input.size / C);
  });
}
