import { registerKernel, type RemapAttrs, type RemapBackwardAttrs, type RemapMode } from '@tapegrad/tensor';
import { coalesce, f32Bits, numelOf, preamble, walk, walkMeta, WORKGROUP, type WebGPUKernel } from '../program.js';

// remap (flip, roll, pad): a thread per output element computes, dim by dim, the input index it
// reads (the formulas of the tensor core's remapSource), or takes the fill value. Elements are
// moved as raw 32-bit words, so one pipeline serves every dtype.
const MODE: Record<RemapMode, number> = { flip: 1, circular: 2, constant: 3, reflect: 4, replicate: 5 };

const main = `@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = wid(w, nw) * WG + l;
  if (i >= md[0]) { return; }`;

registerKernel('remap', 'webgpu', (([x], [out], { maps, value }) => {
  const n = numelOf(out!.shape);
  const fill = out!.dtype === 'float32' || out!.dtype === 'float16' ? f32Bits(value) : value >>> 0;
  // float16 elements are not words: moved as f32 values, widened and rounded back exactly (a NaN
  // keeps its sign, not its payload, as the CPU's kernels leave it)
  const half = out!.dtype === 'float16';
  // [n, slot, fill, rank R, x offset], then per dim: out size, in size, mode (0: straight), lo, x stride
  const meta = [n, 0, fill, out!.shape.length, x!.offset];
  out!.shape.forEach((m, d) => {
    const map = maps.find((mp) => mp.dim === d);
    meta.push(m, x!.shape[d]!, map ? MODE[map.mode] : 0, (map?.lo ?? 0) >>> 0, x!.strides[d]!);
  });
  const wgsl = () => `${half ? preamble(['float16'], ['float16']) : preamble(['u32'], ['u32'])}
${main}
  let R = md[3];
  var rem = i; var xo = md[4]; var inside = true;
  for (var k = 0u; k < R; k++) {
    let b = 5u + (R - 1u - k) * 5u;
    let c = i32(rem % md[b]); rem = rem / md[b];
    let n = i32(md[b + 1u]); let p = c - bitcast<i32>(md[b + 3u]);
    var s = c;
    switch md[b + 2u] {
      case 1u: { s = n - 1 - c; }
      case 2u: { s = ((p % n) + n) % n; }
      case 3u: { s = p; inside = inside && p >= 0 && p < n; }
      case 4u: { s = select(select(p, 2 * (n - 1) - p, p >= n), -p, p < 0); }
      case 5u: { s = clamp(p, 0, n - 1); }
      default: {}
    }
    if (inside) { xo += u32(s) * md[b + 4u]; }
  }
  if (inside) { out0[i] = in0[xo]; } else { out0[i] = ${half ? 'bitcast<f32>(md[2])' : 'md[2]'}; }
}`;
  return [{ key: 'remap', wgsl, inputs: [x!.handle], outputs: [out!.handle], meta, workgroups: Math.ceil(n / WORKGROUP) }];
}) as WebGPUKernel<RemapAttrs>);

// remapBackward along one dim: a thread per input element sums g where the output read it, by
// the inverse of the forward formulas: reflect's up to three mirror positions, replicate's
// edge ranges, circular padding's wraps; in increasing order, as the CPU kernel.
registerKernel('remapBackward', 'webgpu', (([g], [out], { map, shape }) => {
  const d = map.dim;
  const n = numelOf(shape);
  const strides = g!.strides.map((s, k) => (k === d ? 0 : s));
  const co = coalesce(shape, [strides]);
  // [n, slot, in size, out size, mode, lo, inner size, g stride along dim, walk over the result's shape]
  const meta = [n, 0, shape[d]!, map.size, MODE[map.mode], map.lo >>> 0, numelOf(shape.slice(d + 1)), g!.strides[d]!,
    ...walkMeta(co.shape, [{ offset: g!.offset, strides: co.strides[0]! }])];
  const wgsl = () => `${preamble([g!.dtype], [out!.dtype])}
fn tap(base: u32, o: i32) -> f32 {
  if (o < 0 || o >= i32(md[3])) { return 0.0; }
  return in0[base + u32(o) * md[7]];
}
${main}
  ${walk(1, '8u', 'i')}
  let n = i32(md[2]); let m = i32(md[3]); let lo = bitcast<i32>(md[5]);
  let j = i32((i / md[6]) % md[2]);
  var acc = 0.0;
  switch md[4] {
    case 2u: { for (var o = (j + lo) % n; o < m; o += n) { acc += tap(o0, o); } }
    case 4u: {
      if (j > 0) { acc += tap(o0, lo - j); }
      acc += tap(o0, lo + j);
      if (j < n - 1) { acc += tap(o0, lo + 2 * (n - 1) - j); }
    }
    case 5u: {
      let a = select(lo + j, 0, j == 0);
      let b = select(lo + j, m - 1, j == n - 1);
      for (var o = max(a, 0); o <= min(b, m - 1); o++) { acc += tap(o0, o); }
    }
    default: {}
  }
  out0[i] = acc;
}`;
  return [{ key: 'remapBackward', wgsl, inputs: [g!.handle], outputs: [out!.handle], meta, workgroups: Math.ceil(n / WORKGROUP) }];
}) as WebGPUKernel<RemapBackwardAttrs>);
