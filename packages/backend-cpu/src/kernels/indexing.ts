import { IndexError, registerKernel, unravelIndex as unravel, type DimAttrs, type OneHotAttrs, type Shape } from '@tapegrad/tensor';
import { fills, isContiguous, lineBases, type CpuKernel } from '../strided.js';
import { wasmCopyRows } from '../wasm/runtime.js';

function checked(op: string, v: number, size: number, at: number, shape: Shape, dim: number): number {
  if (v < 0 || v >= size) {
    throw new IndexError(`${op}: index ${v} is out of range for dim ${dim} of size ${size} (at index [${unravel(at, shape).join(', ')}])`);
  }
  return v;
}

// gather: out[..., i_dim, ...] = x[..., index[..., i_dim, ...], ...]
registerKernel('gather', 'cpu', (([x, index], [out], { dim }) => {
  const idx = lineBases(index!.shape, index!.strides, index!.offset);
  const xPos = lineBases(index!.shape, x!.strides.map((s, d) => (d === dim ? 0 : s)), x!.offset);
  const size = x!.shape[dim]!;
  const sd = x!.strides[dim]!;
  for (let i = 0; i < idx.length; i++) {
    out!.handle[i] = x!.handle[xPos[i]! + checked('gather', index!.handle[idx[i]!]!, size, i, index!.shape, dim) * sd]!;
  }
}) as CpuKernel<DimAttrs>);

// scatterAdd: out = x; out[..., index[..., i, ...], ...] += src[..., i, ...]
registerKernel('scatterAdd', 'cpu', (([x, index, src], [out], { dim }) => {
  const o = out!.handle;
  const all = lineBases(x!.shape, x!.strides, x!.offset);
  for (let i = 0; i < all.length; i++) o[i] = x!.handle[all[i]!]!;
  const idx = lineBases(index!.shape, index!.strides, index!.offset);
  const srcPos = lineBases(index!.shape, src!.strides, src!.offset);
  const outStrides = out!.strides;
  const outPos = lineBases(index!.shape, outStrides.map((s, d) => (d === dim ? 0 : s)), 0);
  const size = x!.shape[dim]!;
  for (let i = 0; i < idx.length; i++) {
    o[outPos[i]! + checked('scatterAdd', index!.handle[idx[i]!]!, size, i, index!.shape, dim) * outStrides[dim]!] += src!.handle[srcPos[i]!]!;
  }
}) as CpuKernel<DimAttrs>);

registerKernel('indexSelect', 'cpu', fills(([x, index], [out], { dim }) => {
  const o = out!;
  if (x!.shape.length === 0) {
    checked('indexSelect', index!.handle[index!.offset]!, 1, 0, index!.shape, 0);
    o.handle[0] = x!.handle[x!.offset]!;
    return;
  }
  const size = x!.shape[dim]!;
  const picks = lineBases(index!.shape, index!.strides, index!.offset);
  const rows = picks.map((p, i) => checked('indexSelect', index!.handle[p]!, size, i, index!.shape, 0));
  if (isContiguous(x!)) {
    // Whole slices are contiguous blocks: copy them at once (DataLoader batches, embedding rows).
    const inner = x!.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    const outer = x!.shape.slice(0, dim).reduce((a, b) => a * b, 1);
    let at = 0;
    for (let b = 0; b < outer; b++, at += rows.length * inner) {
      const base = x!.offset + b * size * inner;
      if (inner > 1 && o.dtype === x!.dtype && wasmCopyRows(o.handle, at, x!.handle, base, rows, inner)) continue;
      for (let i = 0; i < rows.length; i++) {
        const from = base + rows[i]! * inner;
        if (inner === 1) o.handle[at + i] = x!.handle[from]!;
        else o.handle.set(x!.handle.subarray(from, from + inner), at + i * inner);
      }
    }
    return;
  }
  const srcPos = lineBases(o.shape, x!.strides.map((s, d) => (d === dim ? 0 : s)), x!.offset);
  const outIdx = lineBases(o.shape, o.shape.map((_, d) => (d === dim ? 1 : 0)), 0);
  for (let i = 0; i < srcPos.length; i++) o.handle[i] = x!.handle[srcPos[i]! + rows[outIdx[i]!]! * x!.strides[dim]!]!;
}) as CpuKernel<DimAttrs>);

registerKernel('oneHot', 'cpu', (([index], [out], { numClasses }) => {
  const idx = lineBases(index!.shape, index!.strides, index!.offset);
  for (let i = 0; i < idx.length; i++) {
    const v = index!.handle[idx[i]!]!;
    if (v < 0 || v >= numClasses) {
      throw new IndexError(`oneHot: class ${v} is out of range for ${numClasses} classes (at index [${unravel(i, index!.shape).join(', ')}])`);
    }
    out!.handle[i * numClasses + v] = 1;
  }
}) as CpuKernel<OneHotAttrs>);
