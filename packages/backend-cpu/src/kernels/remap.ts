import { registerKernel, remapSource, type RemapAttrs, type RemapBackwardAttrs } from '@tapegrad/tensor';
import { fills, lineBases, type CpuKernel } from '../strided.js';

// remap (flip, roll, pad): per dim, a table of the offset each output index reads (-1: the
// fill value); the leading dims' tables combine into one base offset per output row, and each
// row is a loop over the last dim's table. One pass over the output.
registerKernel('remap', 'cpu', fills(([x], [out], { maps, value }) => {
  const o = out!.handle;
  const src = x!.handle;
  const shape = out!.shape;
  const rank = shape.length;
  if (rank === 0) {
    o[0] = src[x!.offset]!;
    return;
  }
  const tables = shape.map((m, d) => {
    const map = maps.find((mp) => mp.dim === d);
    const t = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      const s = map ? remapSource(map.mode, i, x!.shape[d]!, map.lo) : i;
      t[i] = s < 0 ? -1 : s * x!.strides[d]!;
    }
    return t;
  });
  let bases = Int32Array.of(x!.offset);
  for (let d = 0; d < rank - 1; d++) {
    const t = tables[d]!;
    const next = new Int32Array(bases.length * t.length);
    let k = 0;
    for (const b of bases) for (const v of t) next[k++] = b < 0 || v < 0 ? -1 : b + v;
    bases = next;
  }
  const last = tables[rank - 1]!;
  const m = last.length;
  let k = 0;
  for (const b of bases) {
    if (b < 0) {
      o.fill(value, k, k + m);
      k += m;
      continue;
    }
    for (let i = 0; i < m; i++, k++) {
      const v = last[i]!;
      o[k] = v < 0 ? value : src[b + v]!;
    }
  }
}) as CpuKernel<RemapAttrs>);

// remapBackward along one dim: each input position sums g at the output positions that read it
// (found by running the map forward once per output index, kept as lists per input position),
// in increasing order.
registerKernel('remapBackward', 'cpu', fills(([g], [out], { map, shape }) => {
  const d = map.dim;
  const n = shape[d]!;
  const start = new Int32Array(n + 1);
  const sources = Int32Array.from({ length: map.size }, (_, o) => remapSource(map.mode, o, n, map.lo));
  for (const j of sources) if (j >= 0) start[j + 1]!++;
  for (let j = 0; j < n; j++) start[j + 1]! += start[j]!;
  const readers = new Int32Array(start[n]!);
  const fill = start.slice(0, n);
  sources.forEach((j, o) => {
    if (j >= 0) readers[fill[j]!++] = o;
  });
  const outer = lineBases(shape.slice(0, d), g!.strides.slice(0, d), g!.offset);
  const inner = lineBases(shape.slice(d + 1), g!.strides.slice(d + 1), 0);
  const run = inner.length;
  const sd = g!.strides[d]!;
  const src = g!.handle;
  const o = out!.handle;
  let k = 0;
  for (const base of outer) {
    for (let j = 0; j < n; j++) {
      const a = start[j]!;
      const e = start[j + 1]!;
      for (let t = 0; t < run; t++) {
        const at = base + inner[t]!;
        let acc = 0;
        for (let q = a; q < e; q++) acc += src[at + readers[q]! * sd]!;
        o[k++] = acc;
      }
    }
  }
}) as CpuKernel<RemapBackwardAttrs>);
