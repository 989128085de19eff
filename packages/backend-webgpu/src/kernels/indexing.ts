import { IndexError, registerKernel, unravelIndex as unravel, type DimAttrs, type OneHotAttrs, type Shape } from '@tapegrad/tensor';
import { coalesce, computeType, numelOf, preamble, store, walk, walkMeta, WORKGROUP, type GpuView, type WebGPUKernel } from '../program.js';

// One thread per output element, so every kernel is deterministic (WGSL has no float atomics:
// scatterAdd's thread loops over the index entries that may land on its element, in order).
//
// Index values are data, so a bad one is found on the GPU, where nothing can throw: the first
// thread to find one records it in the dispatch's error record, and every read of the output,
// and of what is computed from it, throws the IndexError the CPU kernel would have thrown (the
// output holds element 0 where the index was bad, but never reads as values).

const outOfRange = (op: string, dim: number, size: number, shape: Shape) => (v: number, at: number) =>
  new IndexError(`${op}: index ${v} is out of range for dim ${dim} of size ${size} (at index [${unravel(at, shape).join(', ')}])`);

/** A 0-d view as a 1-d view of one element, so the kernels index every operand by dim. */
const atLeast1d = (v: GpuView): GpuView => (v.shape.length ? v : { ...v, shape: [1], strides: [0] });

const head = (inputs: GpuView[], out: GpuView) => `${preamble(inputs.map((v) => v.dtype), [out.dtype], true)}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = wid(w, nw) * WG + l;
  if (i >= md[0]) { return; }`;

registerKernel('gather', 'webgpu', (([x0, index], [out], { dim }) => {
  const x = atLeast1d(x0!);
  const idx = atLeast1d(index!);
  const size = x.shape[dim]!;
  const xStrides = x.strides.map((s, d) => (d === dim ? 0 : s));
  const co = coalesce(idx.shape, [idx.strides, xStrides]);
  const n = numelOf(index!.shape);
  const meta = [n, 0, size, x.strides[dim]!, ...walkMeta(co.shape, [{ offset: idx.offset, strides: co.strides[0]! }, { offset: x.offset, strides: co.strides[1]! }])];
  const wgsl = () => `${head([x, idx], out!)}
  ${walk(2, '4u', 'i')}
  var v = in1[o0];
  if (v < 0 || u32(v) >= md[2]) { report(v, i); v = 0; }
  out0[i] = in0[o1 + u32(v) * md[3]];
}`;
  return [{ key: `gather:${x.dtype}`, wgsl, inputs: [x.handle, idx.handle], outputs: [out!.handle], meta, workgroups: Math.ceil(n / WORKGROUP), errors: outOfRange('gather', dim, size, index!.shape) }];
}) as WebGPUKernel<DimAttrs>);

registerKernel('scatterAdd', 'webgpu', (([x0, index0, src0], [out], { dim }) => {
  const [x, idx, src] = [x0!, index0!, src0!].map(atLeast1d) as [GpuView, GpuView, GpuView];
  const contig = idx.shape.map((_, d) => numelOf(idx.shape.slice(d + 1)));
  // after [n, slot, dim, rank R]: x shape, x offset + strides, index shape, index offset +
  // strides, index's row-major strides (for error positions), src offset + strides
  const meta = [numelOf(x0!.shape), 0, dim, x.shape.length, ...x.shape, x.offset, ...x.strides, ...idx.shape, idx.offset, ...idx.strides, ...contig, src.offset, ...src.strides];
  const c = computeType(out!.dtype);
  const wgsl = () => `alias C = ${c};
${head([x, idx, src], out!)}
  let dim = md[2]; let R = md[3];
  let XO = 4u + R; let ISH = XO + 1u + R; let IO = ISH + R; let IC = IO + 1u + R; let SO = IC + R;
  var rem = i; var xo = md[XO]; var io = md[IO]; var so = md[SO]; var at = 0u; var inside = true; var cd = 0u;
  for (var j = 0u; j < R; j++) {
    let d = R - 1u - j; let c = rem % md[4u + d]; rem = rem / md[4u + d];
    xo += c * md[XO + 1u + d];
    if (d == dim) { cd = c; } else {
      if (c >= md[ISH + d]) { inside = false; }
      io += c * md[IO + 1u + d]; so += c * md[SO + 1u + d]; at += c * md[IC + d];
    }
  }
  var acc = C(in0[xo]);
  if (inside) {
    let len = md[ISH + dim]; let isd = md[IO + 1u + dim]; let ssd = md[SO + 1u + dim]; let icd = md[IC + dim];
    for (var j = 0u; j < len; j++) {
      let v = in1[io + j * isd];
      if (v == i32(cd)) { acc += C(in2[so + j * ssd]); }
      if (cd == 0u && (v < 0 || u32(v) >= md[4u + dim])) { report(v, at + j * icd); }
    }
  }
  out0[i] = ${store('acc', c, out!.dtype)};
}`;
  const n = numelOf(x0!.shape);
  return [{ key: `scatterAdd:${x.dtype}`, wgsl, inputs: [x.handle, idx.handle, src.handle], outputs: [out!.handle], meta, workgroups: Math.ceil(n / WORKGROUP), errors: outOfRange('scatterAdd', dim, x.shape[dim]!, index0!.shape) }];
}) as WebGPUKernel<DimAttrs>);

registerKernel('indexSelect', 'webgpu', (([x0, index], [out0], { dim }) => {
  const x = atLeast1d(x0!);
  const out = atLeast1d(out0!);
  const idx = index!;
  const size = x.shape[dim]!;
  // after [n, slot, dim, size, index stride, index offset, rank R]: out shape, x offset + strides
  const meta = [numelOf(out.shape), 0, dim, size, idx.strides[0] ?? 0, idx.offset, out.shape.length, ...out.shape, x.offset, ...x.strides];
  const wgsl = () => `${head([x, idx], out)}
  let dim = md[2]; let R = md[6]; let XO = 7u + R;
  var rem = i; var xo = md[XO]; var k = 0u;
  for (var j = 0u; j < R; j++) {
    let d = R - 1u - j; let c = rem % md[7u + d]; rem = rem / md[7u + d];
    if (d == dim) { k = c; } else { xo += c * md[XO + 1u + d]; }
  }
  var v = in1[md[5] + k * md[4]];
  if (v < 0 || u32(v) >= md[3]) { report(v, k); v = 0; }
  out0[i] = in0[xo + u32(v) * md[XO + 1u + dim]];
}`;
  const n = numelOf(out.shape);
  return [{ key: `indexSelect:${x.dtype}`, wgsl, inputs: [x.handle, idx.handle], outputs: [out.handle], meta, workgroups: Math.ceil(n / WORKGROUP), errors: outOfRange('indexSelect', dim, size, idx.shape) }];
}) as WebGPUKernel<DimAttrs>);

registerKernel('oneHot', 'webgpu', (([index], [out], { numClasses }) => {
  const idx = index!;
  const co = coalesce(idx.shape, [idx.strides]);
  const n = numelOf(out!.shape);
  const meta = [n, 0, numClasses, ...walkMeta(co.shape, [{ offset: idx.offset, strides: co.strides[0]! }])];
  const wgsl = () => `${head([idx], out!)}
  let cls = i % md[2];
  let p = i / md[2];
  ${walk(1, '3u', 'p')}
  let v = in0[o0];
  if (cls == 0u && (v < 0 || v >= i32(md[2]))) { report(v, p); }
  out0[i] = select(0, 1, v == i32(cls));
}`;
  const errors = (v: number, at: number) =>
    new IndexError(`oneHot: class ${v} is out of range for ${numClasses} classes (at index [${unravel(at, idx.shape).join(', ')}])`);
  return [{ key: 'oneHot', wgsl, inputs: [idx.handle], outputs: [out!.handle], meta, workgroups: Math.ceil(n / WORKGROUP), errors }];
}) as WebGPUKernel<OneHotAttrs>);
