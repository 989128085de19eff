import { IndexError, ShapeError, ValueError } from './errors.js';

/** A tensor's size along each dim; `[]` for a 0-d tensor. */
export type Shape = readonly number[];

/** Number of elements of a tensor of this shape (1 for `[]`). */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
/**
 * Row-major strides of a contiguous tensor of this shape, frozen as a tensor's strides are (so a
 * new tensor takes the array as it is). Built packed, not with new Array(n), so that strides
 * arrays have one hidden class in V8 whichever op made them.
 */
export function contiguousStrides(shape: Shape): readonly number[] {
  const strides = shape.map(() => 1);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return Object.freeze(strides);
}
/** A shape as error messages print it: `[2, 3]`. */
export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
/** The multi-index of flat row-major position `i` in `shape` (for error messages: "at index [1, 2]"). */
export function unravelIndex(i: number, shape: readonly number[]): number[] {
  const at = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    at[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return at;
}
/** Whether two shapes are identical. */
export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Broadcast shapes with NumPy/PyTorch rules, naming the op when they do not fit. Two equal shapes
 * (most elementwise calls) give the first back as it is, so an output can share its frozen array.
 */
export function broadcastShapes(op: string, ...shapes: Shape[]): Shape {
  if (shapes.length === 2 && shapesEqual(shapes[0]!, shapes[1]!)) return shapes[0]!;
  let rank = 0;
  for (const s of shapes) rank = Math.max(rank, s.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) out.push(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i]!;
      if (d === out[j] || d === 1) continue;
      if (out[j] === 1) out[j] = d;
      else throw new ShapeError(`${op}: shapes ${shapes.map(fmt).join(' and ')} cannot be broadcast (dim ${j - rank}: ${out[j]} vs ${d})`);
    }
  }
  return out;
}

/** A dim in [-rank, rank) as a non-negative index. */
export function normalizeDim(op: string, dim: number, rank: number, arg = 'dim'): number {
  const r = Math.max(rank, 1); // a 0-d tensor accepts dim 0 and -1, as in PyTorch
  if (!Number.isInteger(dim) || dim < -r || dim >= r) {
    throw new IndexError(`${op}: ${arg} ${dim} is out of range for a tensor of rank ${rank} (expected an integer in [${-r}, ${r - 1}])`);
  }
  return dim < 0 ? dim + r : dim;
}

/** Normalised, sorted, de-duplicated reduction dims; undefined means all. */
export function normalizeDims(op: string, dims: number | readonly number[] | undefined, rank: number): number[] {
  if (dims === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : dims;
  const out = list.map((d) => normalizeDim(op, d, rank));
  if (new Set(out).size !== out.length) throw new ValueError(`${op}: dim ${fmt(list)} names a dim more than once`);
  return rank === 0 ? [] : out.sort((a, b) => a - b);
}

/** Validate a shape argument (an array of non-negative integers) for `op`, or throw a ShapeError. */
export function checkShape(op: string, shape: unknown): number[] {
  const ok = Array.isArray(shape) && shape.every(isDim);
  if (!ok) throw new ShapeError(`${op}: shape must be an array of non-negative integers; got ${JSON.stringify(shape)}`);
  return (shape as number[]).slice();
}
const isDim = (d: unknown): boolean => Number.isInteger(d) && (d as number) >= 0;
