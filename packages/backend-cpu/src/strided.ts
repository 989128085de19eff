import type { Shape, TensorView, TypedArray } from '@tapegrad/tensor';

/** What a CPU kernel sees of a tensor: a typed array and how to index it. */
export type CpuView = TensorView<TypedArray>;
/** A CPU kernel: read the input views, write the (contiguous, preallocated) outputs. */
export type CpuKernel<A = any> = (inputs: readonly CpuView[], outputs: readonly CpuView[], attrs: A, op: string) => void;

const filling = new WeakSet<CpuKernel>();
/**
 * Mark a kernel that writes every element of its outputs on every path: dispatch then hands it
 * outputs that are not zero-filled (what a reused block last held). Kernels that accumulate into
 * their outputs, or leave some elements as they are, must not be marked.
 */
export function fills<K extends CpuKernel>(kernel: K): K {
  filling.add(kernel);
  return kernel;
}
/** Whether a kernel was marked with {@link fills}. */
export const fillsOutputs = (kernel: CpuKernel): boolean => filling.has(kernel);

/** The strides that read `v` as if it had the (broadcast) shape `shape`: 0 along broadcast dims. */
export function broadcastStrides(v: { shape: Shape; strides: readonly number[] }, shape: Shape): number[] {
  const lead = shape.length - v.shape.length;
  return shape.map((n, i) => (i < lead || v.shape[i - lead] !== n ? 0 : v.strides[i - lead]!));
}

/** An iteration plan: `rows` rows of `inner` elements; per operand, each row's first offset and the stride along a row. */
export interface Plan {
  rows: number;
  inner: number;
  innerStrides: number[];
  bases: Int32Array[];
}

/**
 * An iteration plan over `shape` for several operands given their strides: dims of size 1 are
 * dropped and neighbouring dims merged wherever every operand allows (TensorIterator's
 * coalescing), so contiguous operands become one long row. Returns, per operand, the offset
 * of each row's first element, and the row length and per-operand stride along it.
 */
export function plan(shape: Shape, strides: readonly (readonly number[])[], offsets: readonly number[]): Plan {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => st[k]![last] === s[d]! * shape[d]!)) {
      dims[last]! *= shape[d]!;
      strides.forEach((s, k) => (st[k]![last] = s[d]!));
    } else {
      dims.push(shape[d]!);
      strides.forEach((s, k) => st[k]!.push(s[d]!));
    }
  }
  const inner = dims.length ? dims[dims.length - 1]! : 1;
  const innerStrides = st.map((s) => (s.length ? s[s.length - 1]! : 0));
  const outerShape = dims.slice(0, -1);
  const bases = st.map((s, k) => lineBases(outerShape, s.slice(0, -1), offsets[k]!));
  let rows = 1;
  for (const d of outerShape) rows *= d;
  if (shape.some((d) => d === 0)) rows = 0;
  return { rows, inner, innerStrides, bases };
}

/** Offsets of every index of `shape` (row-major order) under `strides`, starting at `offset`. */
export function lineBases(shape: Shape, strides: readonly number[], offset: number): Int32Array {
  let n = 1;
  for (const d of shape) n *= d;
  const out = new Int32Array(n);
  const rank = shape.length;
  if (rank <= 1) {
    // index vectors and the rows of 2-D operands, most calls: no index bookkeeping
    const s = rank === 1 ? strides[0]! : 0;
    for (let i = 0; i < n; i++) out[i] = offset + i * s;
    return out;
  }
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

/**
 * For reductions and row-wise ops: the offsets of the first element of every line along the
 * dims `along` (kept dims in order), plus the offsets within one line (reduced dims in order).
 */
export function splitDims(v: { shape: Shape; strides: readonly number[]; offset: number }, along: readonly number[]) {
  const keep = v.shape.map((_, i) => i).filter((i) => !along.includes(i));
  const outer = lineBases(keep.map((i) => v.shape[i]!), keep.map((i) => v.strides[i]!), v.offset);
  const inner = lineBases(along.map((i) => v.shape[i]!), along.map((i) => v.strides[i]!), 0);
  return { outer, inner };
}

/** The view's elements in row-major order: a subarray when it is contiguous, else a packed copy. */
export function dense(v: CpuView): TypedArray {
  let n = 1;
  for (const d of v.shape) n *= d;
  let expected = 1;
  let contiguous = true;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    if (v.shape[i] !== 1 && v.strides[i] !== expected) contiguous = false;
    expected *= v.shape[i]!;
  }
  if (contiguous) return v.handle.subarray(v.offset, v.offset + n);
  const out = new (v.handle.constructor as new (n: number) => TypedArray)(n);
  const pos = lineBases(v.shape, v.strides, v.offset);
  for (let i = 0; i < n; i++) out[i] = v.handle[pos[i]!]!;
  return out;
}

/** Whether the view's elements are one dense row-major run from its offset (size-1 dims ignored). */
export function isContiguous(v: { shape: Shape; strides: readonly number[] }): boolean {
  let expected = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.strides[d] !== expected) return false;
    expected *= v.shape[d]!;
  }
  return true;
}
