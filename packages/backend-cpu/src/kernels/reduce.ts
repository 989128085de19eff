import { fitsInt32, registerKernel, unravelIndex, ValueError, type ReduceAttrs, type Shape } from '@tapegrad/tensor';
import { fills, isContiguous, lineBases, type CpuKernel, type CpuView } from '../strided.js';
import { wasmSumRows } from '../wasm/runtime.js';

// Each output element reduces one "line" of the input: the reduced dims at fixed kept indices.
// Accumulation is in float64 (JS numbers) whatever the dtype, so float32 sums stay accurate.
//
// A line is walked in place, in row-major order, as runs along its innermost reduced dim: no
// offset per element is ever built, so a strided, transposed or broadcast view costs no more
// memory than its output. A reduced dim of stride 0 (an expanded view) holds one element
// repeated: it is not walked at all. max and min ignore the repeats, argmax and argmin find
// the first occurrence (index 0 along that dim), and sum multiplies by their count, one
// correctly rounded product where adding the element n times would round n times (at least
// as accurate, and the same bits wherever those additions were exact, as they are for
// n < 2^29 float32 elements).

interface Lines {
  /** Offset of each line's first element, one per output element in row-major order. */
  starts: Int32Array;
  /** The innermost walked dim: its length, stride and step in the line's flat index. */
  n: number;
  stride: number;
  step: number;
  /** The other walked dims, outermost first: sizes, strides and flat-index steps. */
  shape: number[];
  strides: number[];
  steps: number[];
  /** Elements walked per line (0 when a reduced dim has size 0) and copies of each (the broadcast dims' sizes). */
  count: number;
  repeat: number;
}

function lines(x: { shape: Shape; strides: readonly number[]; offset: number }, dims: readonly number[], walkBroadcast = false): Lines {
  const keep = x.shape.map((_, d) => d).filter((d) => !dims.includes(d));
  const starts = lineBases(keep.map((d) => x.shape[d]!), keep.map((d) => x.strides[d]!), x.offset);
  // innermost first: size-1 dims vanish, broadcast dims become repeats, and a dim that continues
  // the next inner one in memory and in the flat index merges with it
  const walked: { size: number; stride: number; step: number }[] = [];
  let repeat = 1, step = 1, count = 1;
  for (let k = dims.length - 1; k >= 0; k--) {
    const size = x.shape[dims[k]!]!, stride = x.strides[dims[k]!]!;
    count *= size;
    if (size !== 1 && stride === 0 && !walkBroadcast) repeat *= size;
    else if (size !== 1) {
      const inner = walked[walked.length - 1];
      if (inner && inner.stride * inner.size === stride && inner.step * inner.size === step) inner.size *= size;
      else walked.push({ size, stride, step });
    }
    step *= size;
  }
  if (count === 0) repeat = 0;
  const innermost = walked.shift() ?? { size: 1, stride: 0, step: 0 };
  walked.reverse();
  return {
    starts,
    n: innermost.size,
    stride: innermost.stride,
    step: innermost.step,
    shape: walked.map((w) => w.size),
    strides: walked.map((w) => w.stride),
    steps: walked.map((w) => w.step),
    count: count === 0 ? 0 : count / repeat,
    repeat,
  };
}

/** Walks the runs of one line after another: `for (w.start(base); w.more; w.next())`, each run at `p` with flat index `j`. */
class Runs {
  p = 0;
  j = 0;
  more = false;
  private readonly idx: Int32Array;
  private readonly empty: boolean;
  private readonly shape: readonly number[];
  private readonly strides: readonly number[];
  private readonly steps: readonly number[];
  constructor(l: Lines) {
    this.idx = new Int32Array(l.shape.length);
    this.empty = l.count === 0;
    ({ shape: this.shape, strides: this.strides, steps: this.steps } = l);
  }
  start(base: number): void {
    this.p = base;
    this.j = 0;
    this.more = !this.empty;
    if (this.idx.length > 0) this.idx.fill(0);
  }
  next(): void {
    const { shape, strides, steps, idx } = this;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) {
        this.p += strides[d]!;
        this.j += steps[d]!;
        return;
      }
      this.p -= strides[d]! * (shape[d]! - 1);
      this.j -= steps[d]! * (shape[d]! - 1);
      idx[d] = 0;
    }
    this.more = false;
  }
}

// int sums go to int32, where PyTorch's go to int64: a sum int32 cannot hold is an error rather
// than a wrapped value (the float64 accumulator holds it exactly up to 2^53).
function checkedSum(v: number, i: number, out: CpuView): number {
  if (out.dtype === 'int32' && !fitsInt32(v)) {
    const at = out.shape.length ? ` at output index [${unravelIndex(i, out.shape).join(', ')}]` : '';
    throw new ValueError(
      `sum: the sum ${v}${at} does not fit in int32, the dtype tapegrad sums integers and bools into (PyTorch uses int64, which tapegrad lacks); cast the input to float64 (exact to 2^53) or float32 first`,
    );
  }
  return v;
}

/**
 * sum where the reduced dims lead and the tensor is dense, like a Linear bias's gradient over
 * the batch: whole rows added into float64 column sums, which walks memory once in order (a line
 * at a time would stride across every row) and adds in the same order, so the bits are the same.
 * float32 in the WebAssembly memory takes wasm/elementwise.wat's sum_rows, the same sums in SIMD.
 */
function sumLeading(x: CpuView, out: CpuView, rows: number, cols: number): void {
  if (x.dtype === 'float32' && out.dtype === 'float32' && wasmSumRows(x, out, rows, cols)) return;
  const a = x.handle, o = out.handle;
  const acc = new Float64Array(cols);
  for (let r = 0, p = x.offset; r < rows; r++, p += cols) for (let j = 0; j < cols; j++) acc[j] += a[p + j]!;
  for (let j = 0; j < cols; j++) o[j] = checkedSum(acc[j]!, j, out);
}

// A line whose innermost run is contiguous and at least 8 long sums into four float64 partial
// sums (one sum's chain of dependent adds would bound the loop by the add's latency).
registerKernel('sum', 'cpu', (([x], [out], { dims }) => {
  if (dims.length > 0 && dims.length < x!.shape.length && dims.every((d, i) => d === i) && isContiguous(x!)) {
    return sumLeading(x!, out!, numel(x!.shape.slice(0, dims.length)), numel(x!.shape.slice(dims.length)));
  }
  const l = lines(x!, dims);
  const a = x!.handle, o = out!.handle;
  const { n, stride, repeat } = l;
  const w = new Runs(l);
  for (let i = 0; i < l.starts.length; i++) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (w.start(l.starts[i]!); w.more; w.next()) {
      let p = w.p;
      if (stride === 1 && n >= 8) {
        const end = p + n;
        for (; p + 4 <= end; p += 4) (s0 += a[p]!), (s1 += a[p + 1]!), (s2 += a[p + 2]!), (s3 += a[p + 3]!);
        for (; p < end; p++) s0 += a[p]!;
      } else {
        for (let k = 0; k < n; k++, p += stride) s0 += a[p]!;
      }
    }
    const s = s0 + s1 + (s2 + s3);
    o[i] = checkedSum(repeat === 1 ? s : s * repeat, i, out!);
  }
}) as CpuKernel<ReduceAttrs>);

const numel = (shape: Shape) => shape.reduce((p, d) => p * d, 1);

// max/min: NaN wins and ends the line (it propagates, as in torch).
function extremeKernel(larger: boolean): CpuKernel<ReduceAttrs> {
  return ([x], [out], { dims }) => {
    const l = lines(x!, dims);
    const a = x!.handle, o = out!.handle;
    const { n, stride } = l;
    const w = new Runs(l);
    for (let i = 0; i < l.starts.length; i++) {
      let m = larger ? -Infinity : Infinity;
      line: for (w.start(l.starts[i]!); w.more; w.next()) {
        for (let k = 0, p = w.p; k < n; k++, p += stride) {
          const v = a[p]!;
          if (v !== v) {
            m = v;
            break line;
          }
          if (larger ? v > m : v < m) m = v;
        }
      }
      o[i] = m;
    }
  };
}
registerKernel('max', 'cpu', extremeKernel(true));
registerKernel('min', 'cpu', extremeKernel(false));

// issue 16: any/all: whether some (every) element of the line is non-zero, NaN included; the
// first one that decides it ends the line. Over an empty line: false (true).
function truthKernel(some: boolean): CpuKernel<ReduceAttrs> {
  return ([x], [out], { dims }) => {
    const l = lines(x!, dims);
    const a = x!.handle, o = out!.handle;
    const { n, stride } = l;
    const w = new Runs(l);
    for (let i = 0; i < l.starts.length; i++) {
      let r = !some;
      line: for (w.start(l.starts[i]!); w.more; w.next()) {
        for (let k = 0, p = w.p; k < n; k++, p += stride) {
          if ((a[p] !== 0) === some) {
            r = some;
            break line;
          }
        }
      }
      o[i] = +r;
    }
  };
}
registerKernel('any', 'cpu', truthKernel(true));
registerKernel('all', 'cpu', truthKernel(false));

// argmax/argmin: the index in the line's row-major order over the reduced dims (the flattened
// index when every dim is reduced); ties give the first index and NaN counts as extreme.
function argKernel(larger: boolean): CpuKernel<ReduceAttrs> {
  return ([x], [out], { dims }) => {
    const l = lines(x!, dims);
    const a = x!.handle, o = out!.handle;
    const { n, stride, step } = l;
    const w = new Runs(l);
    for (let i = 0; i < l.starts.length; i++) {
      let best = -1, m = 0;
      line: for (w.start(l.starts[i]!); w.more; w.next()) {
        for (let k = 0, p = w.p, j = w.j; k < n; k++, p += stride, j += step) {
          const v = a[p]!;
          if (v !== v) {
            best = j;
            break line;
          }
          if (best < 0 || (larger ? v > m : v < m)) (m = v), (best = j);
        }
      }
      o[i] = Math.max(best, 0);
    }
  };
}
registerKernel('argmax', 'cpu', argKernel(true));
registerKernel('argmin', 'cpu', argKernel(false));

// prod walks a broadcast dim like any other, multiplying each copy in: the same roundings as
// over the view's contiguous copy, where a power would round differently. An int product is
// checked once, at the end: with no zero among the factors its magnitude only grows, so if it
// fits every partial product fitted and was exact in float64; with a zero it is 0.
registerKernel('prod', 'cpu', fills(([x], [out], { dims }) => {
  const l = lines(x!, dims, true);
  const a = x!.handle, o = out!.handle;
  const { n, stride } = l;
  const w = new Runs(l);
  const int = out!.dtype === 'int32';
  for (let i = 0; i < l.starts.length; i++) {
    let p = 1;
    for (w.start(l.starts[i]!); w.more; w.next()) for (let k = 0, q = w.p; k < n; k++, q += stride) p *= a[q]!;
    if (int && !fitsInt32(p)) {
      const at = out!.shape.length ? ` at output index [${unravelIndex(i, out!.shape).join(', ')}]` : '';
      throw new ValueError(
        `prod: the product ${p}${at} does not fit in int32, the dtype tapegrad multiplies integers and bools into (PyTorch uses int64, which tapegrad lacks); cast the input to float64 (exact to 2^53) or float32 first`,
      );
    }
    o[i] = p;
  }
}) as CpuKernel<ReduceAttrs>);
