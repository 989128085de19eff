import { ValueError, add, fmt, indexSelect, mul, tensor, tidy, type Tensor } from '@tapegrad/tensor';
import { checkFloat, checkRank } from './util.js';

// interpolate (issue 16) resizes one spatial dim at a time: gathers of whole rows or columns
// (indexSelect, whose gradient scatters them back), and for the linear modes a weighted sum of
// the two neighbours. A composite of core ops, linear in the output's size, on every backend.
// Indices and weights are computed here, in JavaScript, as PyTorch's CPU kernels compute them.

/** The modes of {@link interpolate}: `nearest` for any spatial rank, `linear` for [N, C, L], `bilinear` for [N, C, H, W]. */
export type InterpolateMode = 'nearest' | 'linear' | 'bilinear';
/** Options of {@link interpolate} and {@link Upsample}: exactly one of `size` and `scaleFactor`. */
export interface InterpolateOptions {
  /** The output's spatial size: one number for every spatial dim, or one per dim. */
  size?: number | readonly number[];
  /** A multiplier of the input's spatial size (the output's is floor(size·scaleFactor)): one number, or one per dim. */
  scaleFactor?: number | readonly number[];
  /** Default 'nearest'. */
  mode?: InterpolateMode;
  /**
   * Linear modes only: map the corner pixels' centres onto each other (true) rather than the
   * corners of the pixels (false, the default, as PyTorch's).
   */
  alignCorners?: boolean;
}

const RANKS: Record<InterpolateMode, number[]> = { nearest: [3, 4, 5], linear: [3], bilinear: [4] };

/** One number, or one per spatial dim. */
function perDim(arg: string, v: number | readonly number[], n: number, ok: (x: number) => boolean): number[] {
  const list = typeof v === 'number' ? Array<number>(n).fill(v) : [...v];
  if (list.length !== n || !list.every((x) => typeof x === 'number' && ok(x))) {
    throw new ValueError(`interpolate: ${arg} must be ${arg === 'size' ? 'a positive integer' : 'a positive number'} or ${n} of them (one per spatial dim); got ${JSON.stringify(v)}`);
  }
  return list;
}

/**
 * Resize the spatial dims of [N, C, ...] (torch.nn.functional.interpolate, without
 * antialiasing): nearest neighbour ([N, C, L], [N, C, H, W] or [N, C, D, H, W]), `linear`
 * ([N, C, L]) or `bilinear` ([N, C, H, W]). Give the output's `size` or a `scaleFactor`; with a
 * scaleFactor the source positions scale by 1/scaleFactor exactly as PyTorch's do. A wrong rank
 * throws a ShapeError; bad or conflicting options a ValueError.
 */
export function interpolate(x: Tensor, options: InterpolateOptions): Tensor {
  const { mode = 'nearest', size, scaleFactor, alignCorners } = options;
  if (!(mode in RANKS)) throw new ValueError(`interpolate: mode must be 'nearest', 'linear' or 'bilinear'; got ${JSON.stringify(mode)}`);
  const ranks = RANKS[mode];
  checkRank('interpolate', 'input', x, ranks, `${ranks.map((r) => `${r}-d`).join(' or ')} ([N, C, ...spatial]) for mode '${mode}'`);
  checkFloat('interpolate', 'input', x);
  if (alignCorners !== undefined && mode === 'nearest') {
    throw new ValueError("interpolate: alignCorners can only be set with the interpolating modes 'linear' and 'bilinear'");
  }
  if ((size === undefined) === (scaleFactor === undefined)) throw new ValueError('interpolate: give exactly one of size and scaleFactor');
  const spatial = x.shape.slice(2);
  const scales = scaleFactor === undefined ? undefined : perDim('scaleFactor', scaleFactor, spatial.length, (s) => s > 0 && Number.isFinite(s));
  const out = scales ? spatial.map((n, i) => Math.floor(n * scales[i]!)) : perDim('size', size!, spatial.length, (s) => Number.isInteger(s) && s >= 1);
  if (out.some((n) => n < 1) || spatial.some((n) => n < 1)) {
    throw new ValueError(`interpolate: input ${fmt(x.shape)} with ${scales ? `scaleFactor ${fmt(scales)}` : `size ${fmt(out)}`} gives an empty output ${fmt(out)}`);
  }
  return tidy(() => {
    let y = x;
    spatial.forEach((n, i) => {
      const dim = 2 + i;
      const index = (v: number[]) => tensor(Int32Array.from(v), { dtype: 'int32', device: x.device });
      if (mode === 'nearest') return void (y = indexSelect(y, dim, index(nearest(n, out[i]!, scales?.[i]))));
      const [i0, i1, l0, l1] = linear(n, out[i]!, alignCorners ?? false, scales?.[i]);
      const w = (v: number[]) => tensor(Float64Array.from(v), { shape: [v.length, ...Array<number>(x.ndim - 1 - dim).fill(1)], dtype: x.dtype, device: x.device });
      y = add(mul(indexSelect(y, dim, index(i0)), w(l0)), mul(indexSelect(y, dim, index(i1)), w(l1)));
    });
    return y;
  });
}

// The source index of each output index for mode 'nearest', as PyTorch's nearest_idx: the scale
// is a float32, as there (so sizes whose ratio float32 cannot hold round as PyTorch's do).
function nearest(n: number, out: number, scaleFactor: number | undefined): number[] {
  if (out === n) return Array.from({ length: out }, (_, o) => o);
  if (out === 2 * n) return Array.from({ length: out }, (_, o) => o >> 1);
  const scale = Math.fround(scaleFactor ? 1 / scaleFactor : Math.fround(n) / out);
  return Array.from({ length: out }, (_, o) => Math.min(Math.floor(Math.fround(o * scale)), n - 1));
}

// The two source indices and their weights for each output index of the linear modes, as
// PyTorch's compute_source_index_and_lambda.
function linear(n: number, out: number, alignCorners: boolean, scaleFactor: number | undefined): [number[], number[], number[], number[]] {
  const i0: number[] = [], i1: number[] = [], l0: number[] = [], l1: number[] = [];
  const scale = alignCorners ? (out > 1 ? (n - 1) / (out - 1) : 0) : scaleFactor ? 1 / scaleFactor : n / out;
  for (let o = 0; o < out; o++) {
    if (out === n) {
      i0.push(o), i1.push(o), l0.push(1), l1.push(0);
      continue;
    }
    const src = alignCorners ? scale * o : Math.max(scale * (o + 0.5) - 0.5, 0);
    const a = Math.floor(src);
    const lambda = Math.min(Math.max(src - a, 0), 1);
    i0.push(a), i1.push(a < n - 1 ? a + 1 : a), l0.push(1 - lambda), l1.push(lambda);
  }
  return [i0, i1, l0, l1];
}
