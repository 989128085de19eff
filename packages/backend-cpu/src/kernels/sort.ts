import { registerKernel, type SortAttrs } from '@tapegrad/tensor';
import { fills, lineBases, type CpuKernel } from '../strided.js';

// A line at a time: its indices sorted by value with ties broken by index, which makes the sort
// stable whatever algorithm Int32Array.prototype.sort uses, and equal to the WebGPU kernel's.
// NaN is the largest value; -0 equals 0 (both keep their sign in the values).
registerKernel('sort', 'cpu', fills(([x], [values, indices], { dim, descending }) => {
  const rank = x!.shape.length;
  const n = rank ? x!.shape[dim]! : 1;
  const keep = x!.shape.map((_, d) => d).filter((d) => d !== dim);
  const starts = lineBases(keep.map((d) => x!.shape[d]!), keep.map((d) => x!.strides[d]!), x!.offset);
  // both outputs are contiguous with the input's shape: one set of offsets serves them
  const outStarts = lineBases(keep.map((d) => values!.shape[d]!), keep.map((d) => values!.strides[d]!), 0);
  const xs = rank ? x!.strides[dim]! : 0, os = rank ? values!.strides[dim]! : 0;
  const a = x!.handle, v = values!.handle, ix = indices!.handle;
  const key = new Float64Array(n);
  const order = new Int32Array(n);
  const sign = descending ? -1 : 1;
  const compare = (i: number, j: number): number => {
    const p = key[i]!, q = key[j]!;
    if (p < q) return -sign;
    if (p > q) return sign;
    const np = p !== p, nq = q !== q;
    if (np !== nq) return np ? sign : -sign;
    return i - j;
  };
  for (let r = 0; r < starts.length; r++) {
    const base = starts[r]!;
    for (let j = 0; j < n; j++) {
      key[j] = a[base + j * xs]!;
      order[j] = j;
    }
    order.sort(compare);
    for (let k = 0, at = outStarts[r]!; k < n; k++, at += os) {
      v[at] = key[order[k]!]!;
      ix[at] = order[k]!;
    }
  }
}) as CpuKernel<SortAttrs>);
