import { autocastActive, autocastOp,
  ShapeError, ValueError, abs, add, clamp, div, fmt, gt, max, mean, mul, normalizeDim, pow, reshape, sqrt, square, sub, sum, tidy, where, type Tensor,
} from '@tapegrad/tensor';
import { checkFloat } from './util.js';
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
  if (autocastActive()) return autocastOp('layerNorm', [x, weight, bias], ([x, w, b]) => layerNorm(x, normalizedShape, w, b, eps));
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

// ---- issue 16: groupNorm and normalize ---------------------------------------------------------

/**
 * Group normalisation (torch.nn.functional.group_norm): the C channels of [N, C, ...] split into
 * numGroups groups, each sample's group normalised over its channels and positions (biased
 * variance, plus eps), then scaled by weight and shifted by bias, both [C]. A composite of core
 * ops, as layerNorm. Mismatched shapes throw a ShapeError; a bad numGroups a ValueError.
 */
export function groupNorm(x: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  if (autocastActive()) return autocastOp('groupNorm', [x, weight, bias], ([x, w, b]) => groupNorm(x, numGroups, w, b, eps));
  if (x.ndim < 2) throw new ShapeError(`groupNorm: input must be [N, C, ...]; got ${fmt(x.shape)}`);
  const c = x.shape[1]!;
  if (!Number.isInteger(numGroups) || numGroups < 1 || c % numGroups !== 0) {
    throw new ValueError(`groupNorm: numGroups must be a positive integer dividing the ${c} channels of input ${fmt(x.shape)}; got ${numGroups}`);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== c)) throw new ShapeError(`groupNorm: ${name} must have shape [${c}] for input ${fmt(x.shape)}; got ${fmt(t.shape)}`);
  }
  return tidy(() => {
    const grouped = reshape(x, [x.shape[0]!, numGroups, -1]);
    const centred = sub(grouped, mean(grouped, -1, true));
    const y = reshape(div(centred, sqrt(add(mean(square(centred), -1, true), eps))), x.shape);
    return affine(y, weight, bias, x.shape.map((d, i) => (i === 1 ? d : 1)));
  });
}

/** Options of {@link normalize}. */
export interface NormalizeOptions {
  /** The norm's exponent (default 2); any positive number, or Infinity for the largest |x|. */
  p?: number;
  /** The dim normalised along (default 1; negative counts from the end). */
  dim?: number;
  /** The smallest norm divided by (default 1e-12), so a zero vector stays zero. */
  eps?: number;
}
/**
 * x / max(‖x‖_p, eps) along `dim` (torch.nn.functional.normalize): unit vectors, with zero
 * vectors left at zero. The gradient is PyTorch's too: none flows through the norm where it was
 * clamped to eps. Non-float input throws a DTypeError; a bad p or dim a ValueError or IndexError.
 */
export function normalize(x: Tensor, options: NormalizeOptions = {}): Tensor {
  const { p = 2, eps = 1e-12 } = options;
  const dim = normalizeDim('normalize', options.dim ?? 1, x.ndim);
  checkFloat('normalize', 'input', x);
  if (typeof p !== 'number' || !(p > 0)) throw new ValueError(`normalize: p must be a positive number (or Infinity); got ${String(p)}`);
  if (typeof eps !== 'number' || !(eps >= 0)) throw new ValueError(`normalize: eps must be a non-negative number; got ${String(eps)}`);
  return tidy(() => div(x, clamp(vectorNorm(x, p, dim), eps)));
}

/** ‖x‖_p along dim, keepdim, with a gradient of zero (as PyTorch's norm) rather than NaN where the norm is 0. */
function vectorNorm(x: Tensor, p: number, dim: number): Tensor {
  return tidy(() => {
    if (p === Infinity) return max(abs(x), dim, true);
    if (p === 1) return sum(abs(x), dim, true);
    const s = sum(p === 2 ? square(x) : pow(abs(x), p), dim, true);
    // (Σ|x|^p)^(1/p) has an infinite derivative at 0: take it at 1 there, where the mask zeroes it
    const positive = gt(s, 0);
    const root = (t: Tensor) => (p === 2 ? sqrt(t) : pow(t, 1 / p));
    return where(positive, root(where(positive, s, 1)), 0);
  });
}
