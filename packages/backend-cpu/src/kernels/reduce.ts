import { registerKernel, type ReduceAttrs } from '@tapegrad/tensor';
import { splitDims, type CpuKernel } from '../strided.js';

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

registerKernel('sum', 'cpu', reduceKernel((a, base, inner) => {
  let s = 0;
  for (let j = 0; j < inner.length; j++) s += a[base + inner[j]!]!;
  return s;
}));
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
