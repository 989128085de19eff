import { classTargetError, type Shape, type TensorView, type TypedArray } from '@tapegrad/tensor';

export type View = TensorView<TypedArray>;

/** Offsets of every index of `shape` (row-major order) under `strides`, starting at `offset`. */
export function offsets(shape: Shape, strides: readonly number[], offset: number): Int32Array {
  let n = 1;
  for (const d of shape) n *= d;
  const out = new Int32Array(n);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let cur = offset;
  for (let i = 0; i < n; i++) {
    out[i] = cur;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) {
        cur += strides[d]!;
        break;
      }
      cur -= strides[d]! * (shape[d]! - 1);
      idx[d] = 0;
    }
  }
  return out;
}

/** Offsets of every element of a view, in row-major order. */
export function viewOffsets(v: { shape: Shape; strides: readonly number[]; offset: number }): Int32Array {
  return offsets(v.shape, v.strides, v.offset);
}

/**
 * How a class-loss kernel walks an (input-shaped) view: one row of C classes per target
 * position. `rows[p]` is the offset of class 0 of position p and `step` the distance between
 * classes (1 for a contiguous (N, C) tensor).
 */
export interface ClassRows {
  C: number;
  step: number;
  rows: Int32Array;
}
export function classRows(x: { shape: Shape; strides: readonly number[]; offset: number }): ClassRows {
  const cd = x.shape.length === 1 ? 0 : 1;
  const keep = (_: number, i: number) => i !== cd;
  return { C: x.shape[cd]!, step: x.strides[cd]!, rows: offsets(x.shape.filter(keep), x.strides.filter(keep), x.offset) };
}

/** The per-position upstream gradient: all positions read one value unless reduction is 'none'. */
export function upstreamOffsets(g: View, positions: number): Int32Array {
  return g.shape.length === 0 ? new Int32Array(positions).fill(g.offset) : offsets(g.shape, g.strides, g.offset);
}

/** Throw PyTorch's out-of-bounds error, naming the op, the value and where it was found. */
export function targetOutOfRange(op: string, y: number, C: number, p: number, targetShape: Shape, ignoreIndex: number): never {
  throw classTargetError(op, y, C, p, targetShape, ignoreIndex);
}
