import { ShapeError, ValueError, add, div, fmt, mean, mul, reshape, sqrt, square, sub, tidy, type Tensor } from '@tapegrad/tensor';
import { noGrad } from '@tapegrad/autograd';

// layerNorm and batchNorm are composites of core ops: their gradients come from the core rules,
// and every backend that runs those ops runs these.

function affine(y: Tensor, weight: Tensor | null | undefined, bias: Tensor | null | undefined, shape: readonly number[]): Tensor {
  if (weight) y = mul(y, reshape(weight, shape));
  if (bias) y = add(y, reshape(bias, shape));
  return y;
}

/**
 * Normalise over the trailing dims given by normalizedShape (biased variance, plus eps), then
 * scale by weight and shift by bias, both of normalizedShape (torch's layer_norm). Mismatched
 * shapes throw a ShapeError.
 */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape.slice();
  const tail = x.shape.slice(x.ndim - ns.length);
  if (ns.length === 0 || ns.length > x.ndim || tail.some((d, i) => d !== ns[i])) {
    throw new ShapeError(`layerNorm: normalizedShape ${fmt(ns)} must match the trailing dims of input ${fmt(x.shape)}`);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t && (t.ndim !== ns.length || t.shape.some((d, i) => d !== ns[i]))) {
      throw new ShapeError(`layerNorm: ${name} must have shape ${fmt(ns)}; got ${fmt(t.shape)}`);
    }
  }
  const dims = ns.map((_, i) => x.ndim - ns.length + i);
  return tidy(() => {
    const centred = sub(x, mean(x, dims, true));
    const variance = mean(square(centred), dims, true);
    return affine(div(centred, sqrt(add(variance, eps))), weight, bias, ns);
  });
}

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  /** Use the batch's statistics (and update the running ones) rather than the running ones. Default false. */
  training?: boolean;
  /** Weight of the new batch in the running averages (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/**
 * Normalise [N, C, ...] per channel C (torch's batch_norm). In training the batch's biased
 * variance normalises and the running statistics (if given) are updated in place with the
 * unbiased one; in eval the running statistics normalise.
 */
export function batchNorm(
  x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight?: Tensor | null, bias?: Tensor | null, options: BatchNormOptions = {},
): Tensor {
  const { training = false, momentum = 0.1, eps = 1e-5 } = options;
  if (x.ndim < 2) throw new ShapeError(`batchNorm: input must be [N, C, ...]; got ${fmt(x.shape)}`);
  const c = x.shape[1]!;
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== c)) throw new ShapeError(`batchNorm: ${name} must have shape [${c}] for input ${fmt(x.shape)}; got ${fmt(t.shape)}`);
  }
  const dims = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const count = x.size / c;
  if (training && count <= 1) throw new ValueError(`batchNorm: expected more than 1 value per channel when training; got input ${fmt(x.shape)}`);
  if (!training && (!runningMean || !runningVar)) throw new ValueError('batchNorm: eval mode needs runningMean and runningVar');
  const shape = x.shape.map((d, i) => (i === 1 ? d : 1));
  return tidy(() => {
    let m: Tensor;
    let v: Tensor;
    if (training) {
      m = mean(x, dims, true);
      v = mean(square(sub(x, m)), dims, true);
      noGrad(() => {
        if (runningMean) runningMean.mul_(1 - momentum).add_(mul(reshape(m, [c]), momentum));
        if (runningVar) runningVar.mul_(1 - momentum).add_(mul(reshape(v, [c]), (momentum * count) / (count - 1)));
      });
    } else {
      m = reshape(runningMean!, shape);
      v = reshape(runningVar!, shape);
    }
    return affine(div(sub(x, m), sqrt(add(v, eps))), weight, bias, shape);
  });
}
