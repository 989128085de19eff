import { registerKernel, type ReduceAttrs } from '@tapegrad/tensor';
import { isContiguous, splitDims, type CpuKernel } from '../strided.js';
import { wasmSumRows } from '../wasm/runtime.js';

// Each output element reduces one "line" of the input: the reduced dims at fixed kept indices.
// Accumulation is in float64 (JS numbers) whatever the dtype, so float32 sums stay accurate.

function reduceKernel(visit: (a: ArrayLike<number>, base: number, inner: Int32Array) => number): CpuKernel<ReduceAttrs> {
  return ([x], [out], { dims }) => {
    const { outer, inner } = splitDims(x!, dims);
    const a = x!.handle;
    const o = out!.handle;
    for (let i = 0; i < outer.length; i++) o[i] = visit(a, outer[i]!, inner);
  };
}

const sumLines = reduceKernel((a, base, inner) => {
  let s = 0;
  for (let j = 0; j < inner.length; j++) s += a[base + inner[j]!]!;
  return s;
});
/**
 * sum where the innermost reduced dims are one contiguous run in memory, like a bias gradient's
 * sum over [0, 2, 3] of [N, C, H, W]: each line is a few runs of H·W elements, summed by a
 * plain loop instead of one offset-table lookup per element, into four float64 partial sums
 * (one sum's chain of dependent adds would bound the loop by the add's latency).
 */
registerKernel('sum', 'cpu', ((inputs, outputs, attrs, op) => {
  const x = inputs[0]!;
  const { dims } = attrs;
  if (dims.length > 0 && dims.length < x.shape.length && dims.every((d, i) => d === i) && isContiguous(x)) {
    const out = outputs[0]!;
    const rows = x.shape.slice(0, dims.length).reduce((p, d) => p * d, 1), cols = x.shape.slice(dims.length).reduce((p, d) => p * d, 1);
    if (x.dtype === 'float32' && out.dtype === 'float32' && wasmSumRows(x, out, rows, cols)) return;
    return sumLeading(x.handle, x.offset, out.handle, rows, cols);
  }
  let cut = x.shape.length, run = 1;
  while (cut > 0 && dims.includes(cut - 1) && (x.shape[cut - 1] === 1 || x.strides[cut - 1] === run)) run *= x.shape[--cut]!;
  if (run < 8) return sumLines(inputs, outputs, attrs, op);
  const { outer, inner } = splitDims({ shape: x.shape.slice(0, cut), strides: x.strides.slice(0, cut), offset: x.offset }, dims.filter((d) => d < cut));
  const a = x.handle, o = outputs[0]!.handle;
  for (let i = 0; i < outer.length; i++) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let j = 0; j < inner.length; j++) {
      let p = outer[i]! + inner[j]!;
      const end = p + run;
      for (; p + 4 <= end; p += 4) (s0 += a[p]!), (s1 += a[p + 1]!), (s2 += a[p + 2]!), (s3 += a[p + 3]!);
      for (; p < end; p++) s0 += a[p]!;
    }
    o[i] = s0 + s1 + (s2 + s3);
  }
}) as CpuKernel<ReduceAttrs>);
/**
 * sum over the leading dims of a dense tensor, like a Linear bias's gradient over the batch:
 * whole rows added into float64 column sums, which walks memory once in order (a line at a time
 * would stride across every row) and adds in the same order, so the bits are the same. float32
 * in the WebAssembly memory takes wasm/elementwise.wat's sum_rows, the same sums in SIMD.
 */
function sumLeading(a: ArrayLike<number>, base: number, o: { [i: number]: number }, rows: number, cols: number): void {
  const acc = new Float64Array(cols);
  for (let r = 0, p = base; r < rows; r++, p += cols) for (let j = 0; j < cols; j++) acc[j] += a[p + j]!;
  for (let j = 0; j < cols; j++) o[j] = acc[j]!;
}

registerKernel('max', 'cpu', reduceKernel((a, base, inner) => {
  let m = -Infinity;
  for (let j = 0; j < inner.length; j++) {
    const v = a[base + inner[j]!]!;
    if (v > m || v !== v) m = v;
    if (m !== m) break; // NaN propagates
  }
  return m;
}));
registerKernel('min', 'cpu', reduceKernel((a, base, inner) => {
  let m = Infinity;
  for (let j = 0; j < inner.length; j++) {
    const v = a[base + inner[j]!]!;
    if (v < m || v !== v) m = v;
    if (m !== m) break;
  }
  return m;
}));
// argmax/argmin reduce exactly one dim; ties give the first index and NaN counts as extreme.
registerKernel('argmax', 'cpu', reduceKernel((a, base, inner) => {
  let best = 0;
  let m = -Infinity;
  for (let j = 0; j < inner.length; j++) {
    const v = a[base + inner[j]!]!;
    if (v !== v) return j;
    if (v > m || j === 0) (m = v), (best = j);
  }
  return best;
}));
registerKernel('argmin', 'cpu', reduceKernel((a, base, inner) => {
  let best = 0;
  let m = Infinity;
  for (let j = 0; j < inner.length; j++) {
    const v = a[base + inner[j]!]!;
    if (v !== v) return j;
    if (v < m || j === 0) (m = v), (best = j);
  }
  return best;
}));
