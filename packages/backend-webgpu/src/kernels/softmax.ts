import { registerKernel } from '@tapegrad/tensor';
import { coalesce, numelOf, preamble, walk, walkMeta, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from '../program.js';

// Row-wise along `dim`, like the CPU kernel: subtract the row max, exponentiate, normalise
// (logSoftmax is x - max - log(sum), never log(softmax)). A long row gets a workgroup, with
// the max and the sum combined through workgroup memory; short rows get a thread each.

const SHORT = 32;

function softmaxProgram(log: boolean, x: GpuView, out: GpuView, dim: number): Program {
  const along = x.shape.length ? [dim] : [];
  const keptDims = x.shape.map((_, i) => i).filter((i) => !along.includes(i));
  const kept = coalesce(keptDims.map((d) => x.shape[d]!), [keptDims.map((d) => x.strides[d]!), keptDims.map((d) => out.strides[d]!)]);
  const n = numelOf(along.map((d) => x.shape[d]!));
  const rows = n === 0 ? 0 : numelOf(x.shape) / n;
  const meta = [
    rows, 0, n, along.length ? x.strides[dim]! : 0, along.length ? out.strides[dim]! : 0,
    ...walkMeta(kept.shape, [{ offset: x.offset, strides: kept.strides[0]! }, { offset: out.offset, strides: kept.strides[1]! }]),
  ];
  const short = n <= SHORT;
  const write = log ? 'in0[o0 + j * sx] - mx - log(tot)' : 'exp(in0[o0 + j * sx] - mx) / tot';
  const head = `${preamble([x.dtype], [out.dtype])}
fn mx_comb(x: f32, y: f32) -> f32 { if (nan_f32(x)) { return x; } if (nan_f32(y)) { return y; } return max(x, y); }
// an all -inf row would give inf - inf = NaN everywhere, as torch; shift by 0 then
fn shift(m: f32) -> f32 { return select(m, 0.0, (bitcast<u32>(m) & 0x7fffffffu) == 0x7f800000u); }`;
  const wgsl = short
    ? () => `${head}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let row = wid(w, nw) * WG + l;
  if (row >= md[0]) { return; }
  ${walk(2, '5u', 'row')}
  let n = md[2]; let sx = md[3]; let so = md[4];
  var m = -inf();
  for (var j = 0u; j < n; j++) { m = mx_comb(m, in0[o0 + j * sx]); }
  let mx = shift(m);
  var tot = 0.0;
  for (var j = 0u; j < n; j++) { tot += exp(in0[o0 + j * sx] - mx); }
  for (var j = 0u; j < n; j++) { out0[o1 + j * so] = ${write}; }
}`
    : () => `${head}
var<workgroup> sv: array<f32, WG>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let row = wid(w, nw);
  if (row >= md[0]) { return; }
  ${walk(2, '5u', 'row')}
  let n = md[2]; let sx = md[3]; let so = md[4];
  var m = -inf();
  for (var j = l; j < n; j += WG) { m = mx_comb(m, in0[o0 + j * sx]); }
  sv[l] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) { if (l < s) { sv[l] = mx_comb(sv[l], sv[l + s]); } workgroupBarrier(); }
  let mx = shift(sv[0]);
  workgroupBarrier();
  var t = 0.0;
  for (var j = l; j < n; j += WG) { t += exp(in0[o0 + j * sx] - mx); }
  sv[l] = t;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) { if (l < s) { sv[l] = sv[l] + sv[l + s]; } workgroupBarrier(); }
  let tot = sv[0];
  for (var j = l; j < n; j += WG) { out0[o1 + j * so] = ${write}; }
}`;
  return {
    key: `softmax:${log}:${short}`, wgsl, inputs: [x.handle], outputs: [out.handle], meta,
    workgroups: short ? Math.ceil(rows / WORKGROUP) : rows,
  };
}

registerKernel('softmax', 'webgpu', (([x], [out], { dim }) => [softmaxProgram(false, x!, out!, dim)]) as WebGPUKernel<{ dim: number }>);
registerKernel('logSoftmax', 'webgpu', (([x], [out], { dim }) => [softmaxProgram(true, x!, out!, dim)]) as WebGPUKernel<{ dim: number }>);
