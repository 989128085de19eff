import { int32Value } from '../dtype.js';
import { ShapeError, ValueError } from '../errors.js';
import { run } from '../dispatch.js';
import { tidy } from '../memory.js';
import { defineOp } from '../registry.js';
import { fmt, normalizeDim } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { contiguous } from './copy.js';
import { expand, reshape } from './view.js';

// flip, roll and pad are one op, 'remap': each output element reads the input at an index
// computed per dim (reversed, shifted around, or reflected, clamped or outside for a pad), so
// any number of dims costs one pass, forward and backward, on every backend. repeat and tile
// are a broadcast view copied once (expand, then one strided copy).

/**
 * How a dim of remap's output reads the input: output index o of `size`, input size n.
 * - flip: n-1-o
 * - circular: (o - lo) mod n (roll by lo when size is n; circular padding otherwise)
 * - constant: o - lo, or the fill value outside [0, n)
 * - reflect: o - lo mirrored at both ends without repeating the edge (|lo|, |hi| < n)
 * - replicate: o - lo clamped to [0, n-1]
 */
export type RemapMode = 'flip' | 'circular' | 'constant' | 'reflect' | 'replicate';
/** One remapped dim: the others read straight through. */
export interface RemapDim {
  dim: number;
  mode: RemapMode;
  /** The shift (circular) or padding before (constant, reflect, replicate, circular). */
  lo: number;
  /** The output's size along `dim`. */
  size: number;
}
/** Attrs of remap: the remapped dims (each once), and the fill value of constant padding. */
export interface RemapAttrs {
  maps: RemapDim[];
  value: number;
}
/** Attrs of remapBackward: the map to fold back, and the shape of the result. */
export interface RemapBackwardAttrs {
  map: RemapDim;
  shape: number[];
}

/** The input index that output index `o` of a remapped dim reads, or -1 (the fill value). */
export function remapSource(mode: RemapMode, o: number, n: number, lo: number): number {
  const p = o - lo;
  switch (mode) {
    case 'flip':
      return n - 1 - o;
    case 'circular':
      return ((p % n) + n) % n;
    case 'constant':
      return p >= 0 && p < n ? p : -1;
    case 'reflect':
      return p < 0 ? -p : p >= n ? 2 * (n - 1) - p : p;
    case 'replicate':
      return p < 0 ? 0 : p >= n ? n - 1 : p;
  }
}

defineOp<RemapAttrs>({
  name: 'remap',
  infer: ([x], { maps }) => {
    const shape = x!.shape.slice();
    for (const m of maps) shape[m.dim] = m.size;
    return [{ shape, dtype: x!.dtype }];
  },
});
// The adjoint of one dim's reflect, replicate or circular padding, where several output elements
// read one input element: each input element sums the gradient at the positions that read it (a
// gather of at most a few terms, or a range for replicate's edges: deterministic, no scatter).
defineOp<RemapBackwardAttrs>({
  name: 'remapBackward',
  differentiable: false,
  infer: ([g], { shape }) => [{ shape, dtype: g!.dtype }],
});

function remap(x: Tensor, maps: RemapDim[], value = 0): Tensor {
  return run('remap', [x], { maps, value });
}

/** Dims as non-negative indices, each once. */
function distinctDims(op: string, dims: readonly number[], rank: number): number[] {
  const out = dims.map((d) => normalizeDim(op, d, rank));
  if (new Set(out).size !== out.length) throw new ValueError(`${op}: dims ${fmt(dims)} name a dim more than once`);
  return out;
}

/** A copy with the order of elements reversed along each of `dims` (torch.flip). */
export function flip(x: Tensor, dims: number | readonly number[]): Tensor {
  const ds = distinctDims('flip', typeof dims === 'number' ? [dims] : dims, x.ndim);
  return remap(x, x.ndim === 0 ? [] : ds.map((dim) => ({ dim, mode: 'flip', lo: 0, size: x.shape[dim]! })));
}

/**
 * A copy with the elements shifted by `shifts` along `dims`, those that fall off one end coming
 * back at the other (torch.roll). Without dims, the tensor is rolled as if flattened, and the
 * shape restored.
 */
export function roll(x: Tensor, shifts: number | readonly number[], dims?: number | readonly number[]): Tensor {
  const s = typeof shifts === 'number' ? [shifts] : shifts.slice();
  if (s.some((v) => !Number.isInteger(v))) throw new ValueError(`roll: shifts must be integers; got ${fmt(s)}`);
  if (dims === undefined) {
    if (s.length !== 1) throw new ValueError(`roll: without dims, shifts must be one number (the tensor is rolled flattened); got ${fmt(s)}`);
    return tidy(() => reshape(roll(reshape(x, [-1]), s, 0), x.shape));
  }
  const ds = typeof dims === 'number' ? [dims] : dims;
  if (ds.length !== s.length) throw new ValueError(`roll: shifts ${fmt(s)} and dims ${fmt(ds)} must have the same length`);
  // a dim named twice rolls by the sum of its shifts, as torch's roll rolls one dim after another
  const byDim = new Map<number, number>();
  ds.forEach((d, i) => {
    const dim = normalizeDim('roll', d, x.ndim);
    byDim.set(dim, (byDim.get(dim) ?? 0) + s[i]!);
  });
  const maps: RemapDim[] = [];
  for (const [dim, shift] of byDim) {
    const n = x.shape[dim] ?? 1; // a 0-d tensor rolls onto itself
    if (x.ndim > 0 && n > 0 && shift % n !== 0) maps.push({ dim, mode: 'circular', lo: shift % n, size: n });
  }
  return remap(x, maps);
}

/** How {@link pad} fills the new border. */
export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';
/** Options of {@link pad}. */
export interface PadOptions {
  /** 'constant' (default): `value`; 'reflect': the mirror image without the edge; 'replicate': the edge; 'circular': the other end. */
  mode?: PadMode;
  /** The fill of mode 'constant' (default 0), converted to x's dtype. */
  value?: number;
}

/**
 * Pad the last dims of `x` (torch.nn.functional.pad): `padding` lists (before, after) pairs
 * from the last dim backwards, `[left, right, top, bottom, ...]`. Negative padding crops, except
 * in mode 'circular'. Reflect padding must be smaller than the dim; circular padding at most the
 * dim. One pass: each output element computes where it reads (the op 'remap').
 */
export function pad(x: Tensor, padding: readonly number[], options: PadOptions = {}): Tensor {
  const { mode = 'constant', value } = options;
  if (!['constant', 'reflect', 'replicate', 'circular'].includes(mode)) {
    throw new ValueError(`pad: mode must be 'constant', 'reflect', 'replicate' or 'circular'; got '${mode}'`);
  }
  if (value !== undefined && mode !== 'constant') throw new ValueError(`pad: value is used only by mode 'constant'; got value ${value} with mode '${mode}'`);
  if (padding.length % 2 !== 0) throw new ValueError(`pad: padding must list (before, after) pairs; got ${padding.length} numbers ${fmt(padding)}`);
  if (padding.length / 2 > x.ndim) throw new ValueError(`pad: padding ${fmt(padding)} pads ${padding.length / 2} dims, but the input has ${x.ndim} (shape ${fmt(x.shape)})`);
  if (padding.some((p) => !Number.isInteger(p))) throw new ValueError(`pad: padding must be integers; got ${fmt(padding)}`);
  let fill = value ?? 0;
  if (x.dtype === 'int32') fill = int32Value('pad', Math.trunc(fill));
  if (x.dtype === 'bool') fill = fill !== 0 ? 1 : 0;
  const maps: RemapDim[] = [];
  for (let k = 0; k < padding.length / 2; k++) {
    const dim = x.ndim - 1 - k;
    const [lo, hi] = [padding[2 * k]!, padding[2 * k + 1]!];
    const n = x.shape[dim]!;
    const size = n + lo + hi;
    const at = `padding (${lo}, ${hi}) of dim ${dim} (size ${n}, input shape ${fmt(x.shape)})`;
    if (size < 0) throw new ShapeError(`pad: ${at} gives a negative size ${size}`);
    if (lo === 0 && hi === 0) continue;
    if (mode !== 'constant' && n === 0) throw new ShapeError(`pad: ${at}: mode '${mode}' cannot pad an empty dim`);
    if (mode === 'reflect' && (Math.abs(lo) >= n || Math.abs(hi) >= n)) throw new ValueError(`pad: ${at}: reflect padding must be smaller than the dim`);
    if (mode === 'circular' && (lo < 0 || hi < 0 || lo > n || hi > n)) throw new ValueError(`pad: ${at}: circular padding must be in [0, ${n}] (at most one wrap, no cropping)`);
    maps.push({ dim, mode, lo, size });
  }
  return remap(x, maps, fill);
}

/**
 * `x` repeated `repeats[d]` times along each dim (torch.Tensor.repeat); more repeats than dims
 * add leading dims. A copy: x viewed as [1, s0, 1, s1, ...], expanded to [r0, s0, r1, s1, ...]
 * and copied once; its gradient is the broadcast's, a sum over the repeats.
 */
export function repeat(x: Tensor, repeats: readonly number[]): Tensor {
  if (repeats.length < x.ndim) {
    throw new ShapeError(`repeat: ${repeats.length} repeats ${fmt(repeats)} for a tensor of ${x.ndim} dims (shape ${fmt(x.shape)}); give one per dim at least`);
  }
  if (repeats.some((r) => !Number.isInteger(r) || r < 0)) throw new ValueError(`repeat: repeats must be non-negative integers; got ${fmt(repeats)}`);
  const shape = [...new Array<number>(repeats.length - x.ndim).fill(1), ...x.shape];
  return tidy(() => {
    const lined = reshape(x, shape.flatMap((n) => [1, n]));
    const wide = expand(lined, shape.flatMap((n, d) => [repeats[d]!, n]));
    return reshape(contiguous(wide), shape.map((n, d) => n * repeats[d]!));
  });
}
/** `x` repeated along each dim, as torch.tile: like {@link repeat}, but fewer reps than dims repeat the last dims. */
export function tile(x: Tensor, reps: readonly number[]): Tensor {
  return repeat(x, [...new Array<number>(Math.max(0, x.ndim - reps.length)).fill(1), ...reps]);
}
