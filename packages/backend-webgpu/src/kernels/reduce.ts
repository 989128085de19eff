import { registerKernel, unravelIndex, ValueError, type ReduceAttrs } from '@tapegrad/tensor';
import type { Epilogue } from '../fuse.js';
import { coalesce, computeType, f32Bits, numelOf, preamble, store, walk, walkMeta, wgslType, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from '../program.js';

// Each output element reduces one line of the input (the reduced dims at fixed kept indices).
// Long lines get a workgroup each: threads stride over the line, then a tree in workgroup
// memory combines their partial results. Short lines get a thread each, looping serially.
// argmax/argmin carry (value, index) pairs; ties keep the first index and NaN counts as extreme.
//
// A reduced dim of stride 0 (an expanded view) is not walked by sum, max and min: max and min
// ignore its copies, sum multiplies by their count (md[4]). Integer sums accumulate exactly in
// 64 bits, as (low word, carries) pairs: PyTorch sums integers into int64, tapegrad into int32,
// so a sum int32 cannot hold is reported (the next read throws, as on the CPU), not wrapped.

/** Lines at most this long are summed serially, a thread each (conv.ts's bias gradient sums as these do). */
export const SHORT = 32;

export interface Reducer {
  /** WGSL: the identity value in compute type `c`. */
  init: (c: string) => string;
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
  prod: { init: () => 'C(1)', comb: 'return x * y;' },
  // issue 16: truth as 0 or 1 (a value is true when non-zero, NaN included); repeats change nothing
  any: { init: ZERO, comb: 'return select(C(0), C(1), x != C(0) || y != C(0) || is_nan(x) || is_nan(y));' },
  all: { init: () => 'C(1)', comb: 'return select(C(0), C(1), (x != C(0) || is_nan(x)) && (y != C(0) || is_nan(y)));' },
};
// (lo, hi) stands for lo + hi·2^32, lo a wrapping i32: adding y.x overflowed iff the sum moved
// the wrong way, which is one carry up or down.
export const WIDE_SUM: Reducer = {
  init: () => 'C(0, 0)',
  comb: `let s = x.x + y.x;
  var h = x.y + y.y;
  if (y.x > 0 && s < x.x) { h += 1; } else if (y.x < 0 && s > x.x) { h -= 1; }
  return C(s, h);`,
};
// An int product as (p, big): p the product if it fits in int32, big = 1 if its magnitude does
// not (then p is 0). Associative and exact: a zero factor makes the product 0 whatever came
// before; otherwise magnitudes only grow, so big stays, and two small factors overflow iff the
// wrapped product divided by one is not the other (or a -1 times int32's minimum).
export const WIDE_PROD: Reducer = {
  init: () => 'C(1, 0)',
  comb: `if ((x.x == 0 && x.y == 0) || (y.x == 0 && y.y == 0)) { return C(0, 0); }
  if (x.y != 0 || y.y != 0) { return C(0, 1); }
  let p = x.x * y.x;
  let lowest = i32(-2147483647 - 1);
  if (p / y.x != x.x || (x.x == -1 && y.x == lowest) || (y.x == -1 && x.x == lowest)) { return C(0, 1); }
  return C(p, 0);`,
};
/** WGSL: the int32 a wide sum or product stands for; one int32 cannot hold is reported at `at`. */
export const WIDE_STORE = `fn wide(a: C, at: u32) -> i32 {
  if (a.y != 0) { report(0, at); return 0; }
  return a.x;
}`;
// The line's sum times the broadcast count (md[4]) by doubling; all partial results share the
// sign of the line's sum and only grow, so one that leaves int32 means the total does.
const WIDE_FINISH = `fn fin(a: C, row: u32) -> i32 {
  var r = C(0, 0); var b = a; var k = md[4];
  loop {
    if ((k & 1u) == 1u) { r = comb(r, b); if (r.y != 0) { break; } }
    k = k >> 1u;
    if (k == 0u) { break; }
    b = comb(b, b);
    if (b.y != 0) { r = b; break; }
  }
  if (r.y != 0) { report(0, row); return 0; }
  return r.x;
}`;

/**
 * The reduction's shader. With a prologue (a compiled function's fused group), `x` is a dense
 * float32 view with no buffer: each element is computed by the prologue as it is read. With an
 * epilogue, each result passes through it on its way to the (dense) output.
 */
export function reduceProgram(name: string, x: GpuView, out: GpuView, dims: readonly number[], pro?: Epilogue, epi?: Epilogue): Program {
  const wide = (name === 'sum' || name === 'prod') && out.dtype === 'int32';
  const r = wide ? (name === 'sum' ? WIDE_SUM : WIDE_PROD) : REDUCERS[name]!;
  // arg reductions walk broadcast dims too (their index counts them), and prod (each copy is
  // multiplied in, as over a contiguous copy)
  const walked = r.arg || name === 'prod' ? dims : dims.filter((d) => x.strides[d] !== 0 || x.shape[d] === 1);
  let repeat = 1;
  for (const d of dims) if (!walked.includes(d)) repeat *= x.shape[d]!;
  const keptDims = x.shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const kept = coalesce(keptDims.map((d) => x.shape[d]!), [keptDims.map((d) => x.strides[d]!)]);
  const red = coalesce(walked.map((d) => x.shape[d]!), [walked.map((d) => x.strides[d]!)]);
  const rows = numelOf(out.shape);
  const n = repeat === 0 ? 0 : numelOf(walked.map((d) => x.shape[d]!)); // an empty broadcast dim empties the line
  const short = n <= SHORT;
  const keptWalk = walkMeta(kept.shape, [{ offset: x.offset, strides: kept.strides[0]! }]);
  // the output type's compute type for sum (ints and bools sum to int32), else the input's
  const c = computeType(name === 'sum' ? out.dtype : x.dtype);
  // a count past 2^32 - 1 times a non-zero int sum overflows all the same
  const count = c === 'f32' ? f32Bits(repeat) : Math.min(repeat, 2 ** 32 - 1);
  // [rows, slot, line length, where the line's walk starts, broadcast count, the kept dims' walk, the line's walk]
  const meta = [rows, 0, n, 5 + keptWalk.length, count, ...keptWalk, ...walkMeta(red.shape, [{ offset: 0, strides: red.strides[0]! }])];
  const proBase = meta.length;
  if (pro) meta.push(...pro.meta(x));
  const epiBase = meta.length;
  if (epi) meta.push(...epi.meta(out));
  const value = r.arg ? 'i32(bi)' : wide ? (name === 'sum' ? 'fin(acc, row)' : 'wide(acc, row)') : name === 'sum' ? store('acc * bitcast<f32>(md[4])', c, out.dtype) : store('acc', c, out.dtype);
  const result = epi ? `epilogue(${value}, row)` : value;
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
  const visit = `{ ${walk(1, 'md[3]', 'j', 'q')} let v = lift(${pro ? 'prologue(base + q0)' : 'in0[base + q0]'}); ${r.arg ? 'if (better(v, j, acc, bi)) { acc = v; bi = j; }' : 'acc = comb(acc, v);'} }`;
  const own = pro ? pro.inputs.map(() => 'u32' as const) : [x.dtype];
  const head = `${preamble([...own, ...(epi?.inputs.map(() => 'u32' as const) ?? [])], [out.dtype], wide)}
alias C = ${wide ? 'vec2<i32>' : c};
${pro?.wgsl(proBase, 0) ?? ''}
${epi?.wgsl(epiBase, own.length) ?? ''}
const NONE: u32 = 0xffffffffu;
fn lift(x: ${wgslType(x.dtype)}) -> C { return ${wide ? 'C(i32(x), 0)' : 'C(x)'}; }
${wide || pro || epi ? '' : `fn is_nan(x: C) -> bool { return nan_${c}(x); }`}
${combine}
${wide ? (name === 'sum' ? WIDE_FINISH : WIDE_STORE) : ''}`;
  // the prologue's words follow the two walks, whose lengths depend on the ranks
  const key = `reduce:${name}:${x.dtype}:${out.dtype}:${short}${pro ? `:${proBase}:${pro.key}` : ''}${epi ? `:epi${epiBase}:${epi.key}` : ''}`;
  const wgsl = short
    ? () => `${head}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let row = wid(w, nw) * WG + l;
  if (row >= md[0]) { return; }
  ${walk(1, '5u', 'row')}
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
  ${walk(1, '5u', 'row')}
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
  const [what, verb] = name === 'sum' ? ['sum', 'sums'] : ['product', 'multiplies'];
  const errors = wide
    ? (_: number, at: number) => {
        const where = out.shape.length ? ` at output index [${unravelIndex(at, out.shape).join(', ')}]` : '';
        return new ValueError(
          `${name}: the ${what}${where} does not fit in int32, the dtype tapegrad ${verb} integers and bools into (PyTorch uses int64, which tapegrad lacks); cast the input to float64 (exact to 2^53) or float32 first`,
        );
      }
    : undefined;
  return { key, wgsl, inputs: [...(pro ? pro.inputs.map((v) => v.handle) : [x.handle]), ...(epi?.inputs.map((v) => v.handle) ?? [])], outputs: [out.handle], meta, workgroups: short ? Math.ceil(rows / WORKGROUP) : rows, errors };
}

for (const name of Object.keys(REDUCERS)) {
  registerKernel(name, 'webgpu', (([x], [out], { dims }) => [reduceProgram(name, x!, out!, dims)]) as WebGPUKernel<ReduceAttrs>);
}
