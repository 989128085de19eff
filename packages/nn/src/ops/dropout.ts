import { ValueError, defaultGenerator, mul, rand, tidy, type Generator, type Tensor } from '@tapegrad/tensor';

/** Options of {@link dropout}. */
export interface DropoutOptions {
  /** Probability of zeroing an element (default 0.5). */
  p?: number;
  /** Off (the identity) when false, as in eval mode. Default true. */
  training?: boolean;
  /** The seeded generator the mask is drawn from (default: the global one, see manualSeed). */
  generator?: Generator;
}

/**
 * Zero each element with probability p and scale the rest by 1 / (1 − p), so the expected
 * value is unchanged (torch's dropout). A composite: the mask is a constant, so the gradient is
 * the same mask times the incoming gradient, through mul's rule.
 */
export function dropout(x: Tensor, options: DropoutOptions = {}): Tensor {
  const { p = 0.5, training = true, generator = defaultGenerator } = options;
  if (!(p >= 0 && p <= 1)) throw new ValueError(`dropout: p must be a probability in [0, 1]; got ${p}`);
  if (!training || p === 0) return x;
  return tidy(() => {
    const keep = rand(x.shape, { generator, dtype: x.dtype, device: x.device }).ge(p);
    return mul(x, p === 1 ? keep.cast(x.dtype).mul(0) : keep.cast(x.dtype).mul(1 / (1 - p)));
  });
}
