import { registerKernel, unravelIndex, ValueError, type ScanAttrs } from '@tapegrad/tensor';
import { coalesce, numelOf, preamble, walk, walkMeta, wgslType, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from '../program.js';
import { WIDE_PROD, WIDE_STORE, WIDE_SUM } from './reduce.js';

// A scan along `dim`, a line per output row. Short lines get a thread each, scanning serially.
// A long line gets a workgroup: each thread takes a contiguous chunk, sums it, the chunk totals
// are scanned in workgroup memory (Hillis-Steele), and each thread rescans its chunk from the
// total of the chunks before it. `reverse` walks the line from its end.
//
// Floats run in f32 (the CPU in float64: parity within a tolerance). Int and bool scans run in
// the exact (value, overflow) pairs of the int reductions (reduce.ts): a running sum or product
// int32 cannot hold is reported, and every read of the output throws, as on the CPU.

const SHORT = 32;

function scanProgram(op: 'cumsum' | 'cumprod', x: GpuView, out: GpuView, dim: number, reverse: boolean): Program {
  const int = out.dtype === 'int32';
  const rank = x.shape.length;
  const keptDims = x.shape.map((_, i) => i).filter((i) => i !== dim);
  const kept = coalesce(keptDims.map((d) => x.shape[d]!), [keptDims.map((d) => x.strides[d]!), keptDims.map((d) => out.strides[d]!)]);
  const n = rank ? x.shape[dim]! : 1;
  const rows = n === 0 ? 0 : numelOf(x.shape) / n;
  const short = n <= SHORT;
  // [rows, slot, n, x stride, out stride, reverse, walk(x, out) over the kept dims]
  const meta = [
    rows, 0, n, rank ? x.strides[dim]! : 0, rank ? out.strides[dim]! : 0, reverse ? 1 : 0,
    ...walkMeta(kept.shape, [{ offset: x.offset, strides: kept.strides[0]! }, { offset: out.offset, strides: kept.strides[1]! }]),
  ];
  const wide = op === 'cumsum' ? WIDE_SUM : WIDE_PROD;
  const init = int ? wide.init('') : op === 'cumsum' ? 'C(0)' : 'C(1)';
  const head = `${preamble([x.dtype], [out.dtype], int)}
alias C = ${int ? 'vec2<i32>' : 'f32'};
fn lift(v: ${wgslType(x.dtype)}) -> C { return ${int ? 'C(i32(v), 0)' : 'v'}; }
fn comb(x: C, y: C) -> C { ${int ? wide.comb : op === 'cumsum' ? 'return x + y;' : 'return x * y;'} }
${int ? WIDE_STORE : ''}
fn pos(k: u32, n: u32) -> u32 { return select(k, n - 1u - k, md[5] == 1u); }`;
  // visit position k of the line: fold it into r and write the running value
  const write = `let j = pos(k, n); r = comb(r, lift(in0[o0 + j * md[3]])); let q = o1 + j * md[4]; out0[q] = ${int ? 'wide(r, q)' : 'r'};`;
  const wgsl = short
    ? () => `${head}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let row = wid(w, nw) * WG + l;
  if (row >= md[0]) { return; }
  ${walk(2, '6u', 'row')}
  let n = md[2];
  var r = ${init};
  for (var k = 0u; k < n; k++) { ${write} }
}`
    : () => `${head}
var<workgroup> sv: array<C, WG>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let row = wid(w, nw);
  if (row >= md[0]) { return; }
  ${walk(2, '6u', 'row')}
  let n = md[2];
  let per = (n + WG - 1u) / WG;
  let lo = min(l * per, n);
  let hi = min(lo + per, n);
  var r = ${init};
  for (var k = lo; k < hi; k++) { r = comb(r, lift(in0[o0 + pos(k, n) * md[3]])); }
  sv[l] = r;
  workgroupBarrier();
  for (var s = 1u; s < WG; s = s << 1u) {
    var left = ${init};
    if (l >= s) { left = sv[l - s]; }
    workgroupBarrier();
    sv[l] = comb(left, sv[l]);
    workgroupBarrier();
  }
  r = ${init};
  if (l > 0u) { r = sv[l - 1u]; }
  for (var k = lo; k < hi; k++) { ${write} }
}`;
  const [what, verb] = op === 'cumsum' ? ['sum', 'sums'] : ['product', 'multiplies'];
  const errors = int
    ? (_: number, at: number) =>
        new ValueError(
          `${op}: the running ${what} at index [${unravelIndex(at, out.shape).join(', ')}] does not fit in int32, the dtype tapegrad ${verb} integers and bools into (PyTorch uses int64, which tapegrad lacks); cast the input to float64 (exact to 2^53) or float32 first`,
        )
    : undefined;
  return {
    key: `scan:${op}:${x.dtype}:${short}`, wgsl, inputs: [x.handle], outputs: [out.handle], meta,
    workgroups: short ? Math.ceil(rows / WORKGROUP) : rows, errors,
  };
}

for (const op of ['cumsum', 'cumprod'] as const) {
  registerKernel(op, 'webgpu', (([x], [out], { dim, reverse }) => [scanProgram(op, x!, out!, dim, reverse)]) as WebGPUKernel<ScanAttrs>);
}
