import { IndexError, ShapeError, ValueError } from '../errors.js';
import { dispatch, run } from '../dispatch.js';
import { defineOp } from '../registry.js';
import { contiguousStrides, fmt, normalizeDim, numel, shapesEqual, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { contiguous } from './copy.js';
import { tidy } from '../memory.js';
import type { DimAttrs } from './indexing.js';

// View ops share their input's storage: each definition computes the new shape, strides and
// offset, so no backend needs a kernel for them.

/** Strides that let `x` be read as `shape` without copying, or undefined (torch's computeStride). */
function viewStrides(x: Tensor, shape: Shape): readonly number[] | undefined {
  if (x.size === 0) return contiguousStrides(shape);
  const oldShape = x.shape;
  const oldStrides = x.strides;
  const newStrides = shape.map(() => 1); // packed, as every strides array (contiguousStrides)
  let viewD = shape.length - 1;
  let chunkBase = oldStrides[oldStrides.length - 1] ?? 1;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    tensorNumel *= oldShape[d]!;
    if (d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] === 1)) {
        newStrides[viewD] = viewNumel * chunkBase;
        viewNumel *= shape[viewD]!;
        viewD--;
      }
      if (viewNumel !== tensorNumel) return undefined;
      if (d > 0) {
        chunkBase = oldStrides[d - 1]!;
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) {
    for (; viewD >= 0; viewD--) newStrides[viewD] = 1;
  }
  return newStrides;
}

/** Resolve a single -1 and check the element count. */
function inferShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = shape.slice();
  const neg = out.indexOf(-1);
  if (out.some((d, i) => !Number.isInteger(d) || (d < 0 && i !== neg)) || out.indexOf(-1, neg + 1) !== -1 && neg !== -1) {
    throw new ShapeError(`${op}: invalid shape ${fmt(shape)} (non-negative integers, at most one -1)`);
  }
  if (neg !== -1) {
    const rest = numel(out.filter((_, i) => i !== neg));
    if (rest === 0 || x.size % rest !== 0) throw new ShapeError(`${op}: shape ${fmt(shape)} is invalid for input of size ${x.size} (shape ${fmt(x.shape)})`);
    out[neg] = x.size / rest;
  }
  if (numel(out) !== x.size) throw new ShapeError(`${op}: shape ${fmt(shape)} is invalid for input of size ${x.size} (shape ${fmt(x.shape)})`);
  return out;
}

defineOp<{ shape: number[] }>({
  name: 'reshape',
  view: (x, { shape }) => {
    const strides = viewStrides(x, shape);
    if (!strides) throw new ShapeError(`view: shape ${fmt(shape)} cannot view input of shape ${fmt(x.shape)} and strides ${fmt(x.strides)}; use reshape()`);
    return { shape, strides, offset: x.offset };
  },
});
/** Same data, new shape; copies only when the strides make a view impossible. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = inferShape('reshape', x, shape);
  if (shapesEqual(s, x.shape)) return run('reshape', [x], { shape: s });
  if (viewStrides(x, s)) return run('reshape', [x], { shape: s });
  return tidy(() => run('reshape', [contiguous(x)], { shape: s }));
}
/** A view with a new shape; an error when the strides do not allow one (torch.Tensor.view). */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  return run('reshape', [x], { shape: inferShape('view', x, shape) });
}

defineOp<{ dims: number[] }>({
  name: 'permute',
  view: (x, { dims }) => ({ shape: dims.map((d) => x.shape[d]!), strides: dims.map((d) => x.strides[d]!), offset: x.offset }),
});
/** Reorder dims (a view). */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) throw new ShapeError(`permute: expected ${x.ndim} dims for a tensor of shape ${fmt(x.shape)}; got ${fmt(dims)}`);
  const norm = dims.map((d) => normalizeDim('permute', d, x.ndim));
  if (new Set(norm).size !== norm.length) throw new ValueError(`permute: dims ${fmt(dims)} repeat a dim`);
  return run('permute', [x], { dims: norm });
}
/** Swap two dims (a view). */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const dims = Array.from({ length: x.ndim }, (_, i) => i);
  const a = normalizeDim('transpose', dim0, x.ndim, 'dim0');
  const b = normalizeDim('transpose', dim1, x.ndim, 'dim1');
  if (x.ndim < 2) return run('permute', [x], { dims });
  [dims[a], dims[b]] = [dims[b]!, dims[a]!];
  return run('permute', [x], { dims });
}

defineOp<{ shape: number[] }>({
  name: 'expand',
  view: (x, { shape }) => {
    const lead = shape.length - x.ndim;
    const strides = shape.map((d, i) => (i < lead || (x.shape[i - lead] === 1 && d !== 1) ? 0 : x.strides[i - lead]!));
    return { shape, strides, offset: x.offset };
  },
});
/** Broadcast to a larger shape without copying; -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.ndim;
  if (lead < 0) throw new ShapeError(`expand: target shape ${fmt(shape)} has fewer dims than input shape ${fmt(x.shape)}`);
  const out = shape.map((d, i) => {
    const src = i >= lead ? x.shape[i - lead]! : undefined;
    if (d === -1) {
      if (src === undefined) throw new ShapeError(`expand: -1 is not allowed in a new leading dim (shape ${fmt(shape)})`);
      return src;
    }
    if (!Number.isInteger(d) || d < 0 || (src !== undefined && src !== 1 && src !== d)) {
      throw new ShapeError(`expand: cannot expand shape ${fmt(x.shape)} to ${fmt(shape)} (dim ${i}: ${src} to ${d})`);
    }
    return d;
  });
  return run('expand', [x], { shape: out });
}

/** Attrs of slice, normalised (non-negative, in range). */
export interface SliceAttrs {
  dim: number;
  start: number;
  length: number;
  step: number;
}
defineOp<SliceAttrs>({
  name: 'slice',
  view: (x, { dim, start, length, step }) => {
    const shape = x.shape.slice();
    const strides = x.strides.slice();
    shape[dim] = length;
    strides[dim] = x.strides[dim]! * step;
    return { shape, strides, offset: x.offset + start * x.strides[dim]! };
  },
});
/** Elements start, start+step, ... below end along `dim` (Python slicing: negatives count from the end, bounds clip). */
export function slice(x: Tensor, dim: number, start = 0, end = Infinity, step = 1): Tensor {
  const d = normalizeDim('slice', dim, x.ndim);
  if (x.ndim === 0) throw new IndexError('slice: cannot slice a 0-d tensor');
  if (!Number.isInteger(step) || step <= 0) throw new ValueError(`slice: step must be a positive integer; got ${step}`);
  const n = x.shape[d]!;
  const clip = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  const s = clip(start);
  const e = Math.max(clip(end), s);
  return run('slice', [x], { dim: d, start: s, length: Math.ceil((e - s) / step), step });
}
/** `length` elements from `start` along `dim`; out-of-range is an error (torch.narrow). */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normalizeDim('narrow', dim, x.ndim);
  const n = x.shape[d]!;
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > n) {
    throw new IndexError(`narrow: start ${start} and length ${length} are out of range for dim ${dim} of size ${n} (shape ${fmt(x.shape)})`);
  }
  return run('slice', [x], { dim: d, start: s, length, step: 1 });
}

/** Remove size-1 dims (all, or those named). */
export function squeeze(x: Tensor, dim?: number | readonly number[]): Tensor {
  const dims = dim === undefined ? undefined : (typeof dim === 'number' ? [dim] : dim).map((d) => normalizeDim('squeeze', d, x.ndim));
  const shape = x.shape.filter((s, i) => s !== 1 || (dims !== undefined && !dims.includes(i)));
  return run('reshape', [x], { shape: x.ndim === 0 ? [] : shape });
}
/** Insert a size-1 dim at `dim` (which may be ndim). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normalizeDim('unsqueeze', dim, x.ndim + 1);
  const shape = x.shape.slice();
  shape.splice(d, 0, 1);
  return run('reshape', [x], { shape });
}
/** Merge dims startDim..endDim into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeDim('flatten', startDim, x.ndim, 'startDim');
  const e = normalizeDim('flatten', endDim, x.ndim, 'endDim');
  if (s > e) throw new ValueError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

// ---- select, index, split, chunk, unbind (issue 16): views that pick along one dim ----------

/** Attrs of select, normalised (dim and index non-negative, in range). */
export interface SelectAttrs {
  dim: number;
  index: number;
}
defineOp<SelectAttrs>({
  name: 'select',
  view: (x, { dim, index }) => ({
    shape: x.shape.filter((_, d) => d !== dim),
    strides: x.strides.filter((_, d) => d !== dim),
    offset: x.offset + index * x.strides[dim]!,
  }),
});
/** The slice at `index` along `dim`, with that dim removed (a view; torch.select, `x[i]` for dim 0). Negative indices count from the end. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  if (x.ndim === 0) throw new IndexError('select: cannot select from a 0-d tensor');
  const d = normalizeDim('select', dim, x.ndim);
  const n = x.shape[d]!;
  if (!Number.isInteger(index) || index < -n || index >= n) {
    throw new IndexError(`select: index ${index} is out of range for dim ${d} of size ${n} (shape ${fmt(x.shape)})`);
  }
  return run('select', [x], { dim: d, index: index < 0 ? index + n : index });
}
/**
 * `x[i]`, `x[i][j]`, ...: one integer index per leading dim, each removing its dim (a view made
 * of {@link select}s along dim 0). Negative indices count from the end; for ranges use
 * `slice`/`narrow`, for a tensor of indices `indexSelect`.
 */
export function index(x: Tensor, ...indices: number[]): Tensor {
  if (indices.length > x.ndim) throw new IndexError(`index: ${indices.length} indices for a tensor of rank ${x.ndim} (shape ${fmt(x.shape)})`);
  if (indices.length === 0) return run('reshape', [x], { shape: x.shape });
  return tidy(() => indices.reduce((t, i) => select(t, 0, i), x));
}

/** Attrs of split, normalised: the size of each piece along dim (they sum to its size). */
export interface SplitAttrs {
  dim: number;
  sizes: number[];
}
defineOp<SplitAttrs>({
  name: 'split',
  view: (x, { dim, sizes }) => {
    let start = 0;
    return sizes.map((n) => {
      const shape = x.shape.slice();
      shape[dim] = n;
      const offset = x.offset + start * x.strides[dim]!;
      start += n;
      return { shape, strides: x.strides, offset };
    });
  },
});
/**
 * Views of consecutive pieces along `dim` (torch.split): pieces of `splitSize` (the last one
 * smaller if the size does not divide), or of the given sizes, which must sum to the dim's size.
 */
export function split(x: Tensor, splitSize: number | readonly number[], dim = 0): Tensor[] {
  if (x.ndim === 0) throw new ShapeError('split: cannot split a 0-d tensor');
  const d = normalizeDim('split', dim, x.ndim);
  const n = x.shape[d]!;
  let sizes: number[];
  if (typeof splitSize === 'number') {
    if (!Number.isInteger(splitSize) || splitSize < 0 || (splitSize === 0 && n !== 0)) {
      throw new ValueError(`split: splitSize must be a positive integer (0 only for a dim of size 0); got ${splitSize} for dim ${d} of size ${n}`);
    }
    const count = splitSize === 0 ? 1 : Math.max(1, Math.ceil(n / splitSize));
    sizes = Array.from({ length: count }, (_, i) => Math.min(splitSize, n - i * splitSize));
  } else {
    sizes = splitSize.slice();
    if (sizes.some((s) => !Number.isInteger(s) || s < 0)) throw new ValueError(`split: sizes must be non-negative integers; got ${fmt(sizes)}`);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== n) throw new ShapeError(`split: sizes ${fmt(sizes)} sum to ${total}, but dim ${d} has size ${n} (shape ${fmt(x.shape)})`);
  }
  return dispatch('split', [x], { dim: d, sizes });
}
/**
 * `chunks` views along `dim` of ceil(size / chunks) elements each, the last smaller; fewer than
 * `chunks` when the size does not allow them all (torch.chunk).
 */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0) throw new ValueError(`chunk: chunks must be a positive integer; got ${chunks}`);
  if (x.ndim === 0) throw new ShapeError('chunk: cannot chunk a 0-d tensor');
  const d = normalizeDim('chunk', dim, x.ndim);
  const n = x.shape[d]!;
  // a dim of size 0 gives `chunks` empty pieces, as torch.chunk
  return n === 0 ? split(x, new Array<number>(chunks).fill(0), d) : split(x, Math.ceil(n / chunks), d);
}

defineOp<DimAttrs>({
  name: 'unbind',
  view: (x, { dim }) => {
    const shape = x.shape.filter((_, d) => d !== dim);
    const strides = x.strides.filter((_, d) => d !== dim);
    return Array.from({ length: x.shape[dim]! }, (_, i) => ({ shape, strides, offset: x.offset + i * x.strides[dim]! }));
  },
});
/** Every slice along `dim`, each without that dim (views; torch.unbind). */
export function unbind(x: Tensor, dim = 0): Tensor[] {
  if (x.ndim === 0) throw new IndexError('unbind: cannot unbind a 0-d tensor');
  return dispatch('unbind', [x], { dim: normalizeDim('unbind', dim, x.ndim) });
}

// ---- issue 16: diagonals (einsum's repeated labels) --------------------------------------------

/** Attrs of diagonal, normalised (dim1 !== dim2). */
export interface DiagonalAttrs {
  offset: number;
  dim1: number;
  dim2: number;
}
defineOp<DiagonalAttrs>({
  name: 'diagonal',
  view: (x, { offset, dim1, dim2 }) => {
    const n1 = x.shape[dim1]!, n2 = x.shape[dim2]!;
    const length = Math.max(0, offset >= 0 ? Math.min(n1, n2 - offset) : Math.min(n1 + offset, n2));
    const keep = x.shape.map((_, d) => d).filter((d) => d !== dim1 && d !== dim2);
    const start = length === 0 ? 0 : offset >= 0 ? offset * x.strides[dim2]! : -offset * x.strides[dim1]!;
    return {
      shape: [...keep.map((d) => x.shape[d]!), length],
      strides: [...keep.map((d) => x.strides[d]!), x.strides[dim1]! + x.strides[dim2]!],
      offset: x.offset + start,
    };
  },
});
/**
 * The diagonal of the matrices in dims `dim1` and `dim2` (a view), torch.diagonal: those dims are
 * removed and the diagonal, of elements [i, i + offset], becomes the last dim. offset > 0 is above
 * the main diagonal, < 0 below.
 */
export function diagonal(x: Tensor, offset = 0, dim1 = 0, dim2 = 1): Tensor {
  if (x.ndim < 2) throw new ShapeError(`diagonal: input must have at least 2 dims; got shape ${fmt(x.shape)}`);
  const a = normalizeDim('diagonal', dim1, x.ndim, 'dim1');
  const b = normalizeDim('diagonal', dim2, x.ndim, 'dim2');
  if (a === b) throw new ValueError(`diagonal: dim1 and dim2 must differ; both are ${a} (shape ${fmt(x.shape)})`);
  if (!Number.isInteger(offset)) throw new ValueError(`diagonal: offset must be an integer; got ${offset}`);
  return run('diagonal', [x], { offset, dim1: a, dim2: b });
}
