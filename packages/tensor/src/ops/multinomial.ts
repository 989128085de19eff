import { allocArray, isFloating, isHalf } from '../dtype.js';
import { DTypeError, ShapeError, ValueError } from '../errors.js';
import { run } from '../dispatch.js';
import { fromDraw } from '../creation.js';
import { defineOp } from '../registry.js';
import { defaultGenerator, type Generator } from '../random.js';
import { fmt, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';

// multinomial draws its random numbers here, from the tensor core's seeded generator, and the
// kernels turn them into samples: the same seed gives the same samples on every backend. With
// replacement, one uniform u per sample picks the first category whose running sum of
// probabilities exceeds u·total. Without, one exponential e per category ranks the categories by
// p/e, and the samples are the first numSamples in that order (the exponential race: the same
// distribution as drawing one at a time and removing it). Ranks compare p_a·e_b with p_b·e_a,
// products that float32 rounds the same way everywhere, so the backends agree bit for bit.

/** Attrs of multinomial. */
export interface MultinomialAttrs {
  numSamples: number;
  replacement: boolean;
}
defineOp<MultinomialAttrs>({
  name: 'multinomial',
  differentiable: false,
  infer: ([probs], { numSamples }) => [{ shape: probs!.ndim === 1 ? [numSamples] : [probs!.shape[0]!, numSamples], dtype: 'int32' }],
});

/** Options of {@link multinomial}. */
export interface MultinomialOptions {
  /** Draw with replacement (default false: each category at most once per row). */
  replacement?: boolean;
  /** The seeded generator (default: the global one, see manualSeed). */
  generator?: Generator;
}

/**
 * `numSamples` category indices (int32) drawn from each row of `probs` (1-d: one distribution,
 * 2-d: one per row), weighted by the row's values, which need not sum to 1 (torch.multinomial).
 * A negative, infinite or NaN probability, a row summing to 0, or (without replacement) a row
 * with fewer non-zero categories than samples is a ValueError: thrown here on the CPU; on WebGPU
 * found by the kernel and thrown by every read of the result.
 */
export function multinomial(probs: Tensor, numSamples: number, options: MultinomialOptions = {}): Tensor {
  const { replacement = false, generator = defaultGenerator } = options;
  if (!isFloating(probs.dtype)) throw new DTypeError(`multinomial: probs must be floating point; got ${probs.dtype}`);
  if (probs.ndim !== 1 && probs.ndim !== 2) throw new ShapeError(`multinomial: probs must be 1-d or 2-d (one distribution per row); got shape ${fmt(probs.shape)}`);
  if (!Number.isInteger(numSamples) || numSamples <= 0) throw new ValueError(`multinomial: numSamples must be a positive integer; got ${numSamples}`);
  const categories = probs.shape[probs.ndim - 1]!;
  if (!replacement && numSamples > categories) {
    throw new ValueError(`multinomial: cannot draw ${numSamples} samples without replacement from ${categories} categories (probs shape ${fmt(probs.shape)})`);
  }
  if (categories > 2 ** 24) throw new ValueError(`multinomial: at most 2^24 categories; got ${categories}`);
  const rows = probs.ndim === 2 ? probs.shape[0]! : 1;
  const n = rows * (replacement ? numSamples : categories);
  // float16 and bfloat16 probabilities are computed in float32, and so is their noise
  const noiseDType = isHalf(probs.dtype) ? 'float32' : probs.dtype;
  const f32 = noiseDType === 'float32';
  const draw = () => {
    const noise = allocArray(noiseDType, n);
    for (let i = 0; i < n; i++) {
      // uniforms below 1 in the probs' precision (24 bits are exact in float32); exponentials from
      // a uniform in (0, 1), so none is 0
      noise[i] = replacement ? (f32 ? (generator.nextUint32() >>> 8) / 2 ** 24 : generator.next()) : -Math.log((generator.nextUint32() + 0.5) / 2 ** 32);
    }
    return noise;
  };
  const drawn = fromDraw(draw, [n], noiseDType, { device: probs.device }, 'multinomial');
  try {
    return run('multinomial', [probs, drawn], { numSamples, replacement });
  } finally {
    drawn.dispose();
  }
}

/**
 * @internal The error of a multinomial kernel that found bad probabilities, as both backends
 * report it: `kind` 0, the element at flat index `at` is `value`; 1, row `at` sums to 0 or less;
 * 2, row `at` has only `value` categories of non-zero probability.
 */
export function multinomialError(shape: Shape, numSamples: number, kind: number, at: number, value: number): ValueError {
  const row = shape.length === 2 ? ` in row ${at}` : '';
  if (kind === 0) {
    const c = shape[shape.length - 1]!;
    const where = shape.length === 2 ? `[${Math.floor(at / c)}, ${at % c}]` : `[${at}]`;
    return new ValueError(`multinomial: probability tensor contains either inf, nan or element < 0: element ${where} is ${value}`);
  }
  if (kind === 1) return new ValueError(`multinomial: invalid multinomial distribution (sum of probabilities <= 0)${row}`);
  return new ValueError(`multinomial: cannot draw ${numSamples} samples without replacement${row}: only ${value} categories have non-zero probability`);
}
