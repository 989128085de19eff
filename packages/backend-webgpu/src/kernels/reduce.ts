import { registerKernel, type ReduceAttrs } from '@tapegrad/tensor';
import { coalesce, computeType, numelOf, preamble, store, walk, walkMeta, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from '../program.js';

// Each output element reduces one line of the input (the reduced dims at fixed kept indices).
// Long lines get a workgroup each: threads stride over the line, then a tree in workgroup
// memory combines their partial results. Short lines get a thread each, looping serially.
// argmax/argmin carry (value, index) pairs; ties keep the first index and NaN counts as extreme.

const SHORT = 32;

interface Reducer {
  /** WGSL: the identity value in compute type `c`. */
  init: (c: 'f32' | 'i32') => string;
  /** WGSL body of `fn comb(x: C, y: C) -> C` (for arg reductions: `fn better(v, i, u, j) -> bool`). */
  comb: string;
  arg?: boolean;
}
const NEG_INF = (c: string) => (c === 'f32' ? '-inf()' : 'i32(-2147483647 - 1)');
const POS_INF = (c: string) => (c === 'f32' ? 'inf()' : '2147483647');
const ZERO = () => 'C(0)';
const REDUCERS: Record<string, Reducer> = {
  sum: { init: ZERO, comb: 'return x + y;' },
  max: { init: NEG_INF, comb: 'if (is_nan(x)) { return x; } if (is_nan(y)) { return y; } return max(x, y);' },
  min: { init: POS_INF, comb: 'if (is_nan(x)) { return x; } if (is_nan(y)) { return y; } return min(x, y);' },
  argmax: { init: ZERO, arg: true, comb: 'v > u' },
  argmin: { init: ZERO, arg: true, comb: 'v < u' },
};

function reduceProgram(name: string, r: Reducer, x: GpuView, out: GpuView, dims: readonly number[]): Program {
  const keptDims = x.shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const kept = coalesce(keptDims.map((d) => x.shape[d]!), [keptDims.map((d) => x.strides[d]!)]);
  const red = coalesce(dims.map((d) => x.shape[d]!), [dims.map((d) => x.strides[d]!)]);
  const rows = numelOf(out.shape);
  const n = numelOf(dims.map((d) => x.shape[d]!));
  const short = n <= SHORT;
  const keptWalk = walkMeta(kept.shape, [{ offset: x.offset, strides: kept.strides[0]! }]);
  // [rows, slot, line length, where the line's walk starts, the kept dims' walk, the line's walk]
  const meta = [rows, 0, n, 4 + keptWalk.length, ...keptWalk, ...walkMeta(red.shape, [{ offset: 0, strides: red.strides[0]! }])];
  // the output type's compute type for sum (ints and bools sum to int32), else the input's
  const c = computeType(name === 'sum' ? out.dtype : x.dtype);
  const result = r.arg ? 'i32(bi)' : store('acc', c, out.dtype);
  const combine = r.arg
    ? `fn better(v: C, i: u32, u: C, j: u32) -> bool {
  if (j == NONE) { return true; } if (i == NONE) { return false; }
  let nv = is_nan(v); let nu = is_nan(u);
  if (nv || nu) { return nv && (!nu || i < j); }
  if (v == u) { return i < j; }
  return ${r.comb};
}`
    : `fn comb(x: C, y: C) -> C { ${r.comb} }`;
  // visit element j of the line: fold it into (acc, bi)
  const visit = `{ ${walk(1, 'md[3]', 'j', 'q')} let v = C(in0[base + q0]); ${r.arg ? 'if (better(v, j, acc, bi)) { acc = v; bi = j; }' : 'acc = comb(acc, v);'} }`;
  const head = `${preamble([x.dtype], [out.dtype])}
alias C = ${c};
const NONE: u32 = 0xffffffffu;
fn is_nan(x: C) -> bool { return nan_${c}(x); }
${combine}`;
  const key = `reduce:${name}:${x.dtype}:${out.dtype}:${short}`;
  const wgsl = short
    ? () => `${head}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let row = wid(w, nw) * WG + l;
  if (row >= md[0]) { return; }
  ${walk(1, '4u', 'row')}
  let base = o0;
  var acc = ${r.init(c)}; var bi = NONE;
  for (var j = 0u; j < md[2]; j++) ${visit}
  out0[row] = ${result};
}`
    : () => `${head}
var<workgroup> sv: array<C, WG>;
var<workgroup> si: array<u32, WG>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let row = wid(w, nw);
  if (row >= md[0]) { return; }
  ${walk(1, '4u', 'row')}
  let base = o0;
  var acc = ${r.init(c)}; var bi = NONE;
  for (var j = l; j < md[2]; j += WG) ${visit}
  sv[l] = acc; si[l] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (l < s) {
      ${r.arg ? 'if (better(sv[l + s], si[l + s], sv[l], si[l])) { sv[l] = sv[l + s]; si[l] = si[l + s]; }' : 'sv[l] = comb(sv[l], sv[l + s]);'}
    }
    workgroupBarrier();
  }
  if (l == 0u) { let acc = sv[0]; let bi = si[0]; out0[row] = ${result}; }
}`;
  return { key, wgsl, inputs: [x.handle], outputs: [out.handle], meta, workgroups: short ? Math.ceil(rows / WORKGROUP) : rows };
}

for (const [name, r] of Object.entries(REDUCERS)) {
  registerKernel(name, 'webgpu', (([x], [out], { dims }) => [reduceProgram(name, r, x!, out!, dims)]) as WebGPUKernel<ReduceAttrs>);
}
