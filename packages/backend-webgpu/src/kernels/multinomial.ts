import { multinomialError, registerKernel, type MultinomialAttrs } from '@tapegrad/tensor';
import { preamble, WORKGROUP, type WebGPUKernel } from '../program.js';

// multinomial from the noise the tensor core drew, step for step as the CPU kernel computes it
// in float32, so both give the same samples. With replacement a thread per sample scans its
// row; without, a thread per row makes k passes over it. A bad row is reported (by one thread)
// as the CPU throws it: kind in the low 2 bits of `at` (multinomialError), and the value.
registerKernel('multinomial', 'webgpu', (([probs, noise], [out], { numSamples: k, replacement }) => {
  const p = probs!;
  const C = p.shape[p.shape.length - 1]!;
  const rows = p.shape.length === 2 ? p.shape[0]! : 1;
  const n = replacement ? rows * k : rows;
  const meta = [n, 0, C, k, p.offset, p.shape.length === 2 ? p.strides[0]! : 0, p.strides[p.shape.length - 1]!];
  const wgsl = () => `${preamble([p.dtype, noise!.dtype], ['int32'], true)}
fn at(r: u32, c: u32) -> f32 { return in0[md[4] + r * md[5] + c * md[6]]; }
// a before b: p_a / e_a > p_b / e_b as products, ties to the lower index
fn before(r: u32, a: u32, b: u32) -> bool {
  let x = at(r, a) * in1[r * md[2] + b];
  let y = at(r, b) * in1[r * md[2] + a];
  return x > y || (x == y && a < b);
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = wid(w, nw) * WG + l;
  if (i >= md[0]) { return; }
  let C = md[2]; let k = md[3];
  let r = select(i, i / k, ${replacement});
  let first = !${replacement} || i % k == 0u;
  var total = 0.0; var nonzero = 0u; var ok = true;
  for (var c = 0u; c < C; c++) {
    let v = at(r, c);
    // bit tests for NaN and the infinities, which implementations may fold away in comparisons
    if (v < 0.0 || (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u) {
      if (first) { report(bitcast<i32>(v), (r * C + c) * 4u); }
      ok = false; break;
    }
    total = total + v;
    if (v > 0.0) { nonzero++; }
  }
  if (ok && !(total > 0.0)) { if (first) { report(0, r * 4u + 1u); } ok = false; }
  if (${replacement}) {
    var pick = 0u;
    if (ok) {
      let t = in1[i] * total;
      var last = 0u; var cum = 0.0; var found = false;
      for (var c = 0u; c < C; c++) {
        let v = at(r, c);
        cum = cum + v;
        if (v > 0.0) { last = c; }
        if (cum > t) { pick = c; found = true; break; }
      }
      if (!found) { pick = last; }
    }
    out0[i] = i32(pick);
    return;
  }
  if (ok && nonzero < k) { report(i32(nonzero), r * 4u + 2u); ok = false; }
  var prev = 0u;
  for (var s = 0u; s < k; s++) {
    var best = 0u; var have = false;
    if (ok) {
      for (var c = 0u; c < C; c++) {
        if (s > 0u && !before(r, prev, c)) { continue; }
        if (!have || before(r, c, best)) { best = c; have = true; }
      }
    }
    out0[r * k + s] = i32(best);
    prev = best;
  }
}`;
  const errors = (value: number, at: number) => {
    const kind = at & 3;
    const bits = new Float32Array(new Int32Array([value]).buffer)[0]!;
    return multinomialError(p.shape, k, kind, at >>> 2, kind === 0 ? bits : value);
  };
  return [{ key: `multinomial:${replacement}`, wgsl, inputs: [p.handle, noise!.handle], outputs: [out!.handle], meta, workgroups: Math.ceil(n / WORKGROUP), errors }];
}) as WebGPUKernel<MultinomialAttrs>);
