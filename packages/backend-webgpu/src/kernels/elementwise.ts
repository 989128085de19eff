import { promoteTypes, registerKernel, unravelIndex, ValueError, type BinaryOp, type TapegradError, type ClampAttrs, type CompareOp, type DType, type TriangleAttrs, type UnaryOp } from '@tapegrad/tensor';
import {
  broadcastStrides, coalesce, computeType, DTYPE_CODE, f32Bits, numelOf, preamble, walk, walkMeta, WORKGROUP,
  type GpuView, type Program, type WebGPUKernel,
} from '../program.js';
import { F32_MATH } from './f32-math.js';

// Every elementwise op is one WGSL expression in this file's tables, over the inputs `a`, `b`,
// `c` already converted to the compute type `C`; `mapProgram` wraps it in a shader that walks
// strided, broadcast operands. Predicates (comparisons) yield a WGSL bool.

export interface MapOp {
  expr: string;
  /** Extra WGSL functions the expression calls, given the compute type. */
  helpers?: (c: 'f32' | 'i32') => string;
  /** Whether the helpers report bad data (and so need the error buffer), given the compute type. */
  checks?: (c: 'f32' | 'i32') => boolean;
  /** The error a report becomes at the next read (the value reported and the element's index). */
  error?: (value: number, at: number) => TapegradError;
  /** A test of the input's value (isnan): a WGSL bool, computed in the input's type. */
  predicate?: boolean;
}

// floor, ceil and round of an integer are the integer itself (WGSL's are for floats only)
const integral = (name: string, builtin: string): MapOp => ({
  expr: `${name}_(a)`,
  helpers: (c) => `fn ${name}_(x: ${c}) -> ${c} { return ${c === 'f32' ? `${builtin}(x)` : 'x'}; }`,
});

const UNARY: Record<UnaryOp, MapOp> = {
  neg: { expr: '-a' },
  abs: { expr: 'abs(a)' },
  exp: { expr: 'exp(a)' },
  log: { expr: 'log(a)' },
  sqrt: { expr: 'sqrt(a)' },
  // tanh(x) is ±1 in f32 beyond |x| = 15; clamping keeps implementations from overflowing to NaN
  tanh: { expr: 'select(tanh(clamp(a, -15.0, 15.0)), a, is_nan(a))' },
  sigmoid: { expr: '1.0 / (1.0 + exp(-a))' },
  relu: { expr: 'select(C(0), a, a > C(0) || is_nan(a))' },
  sign: { expr: 'select(select(a, C(-1), a < C(0)), C(1), a > C(0))' },
  square: { expr: 'a * a' },
  // issue 16 (sin..expm1 compute in f32 only: their results are float32 for every input)
  sin: { expr: 'sin_cos(a, false)', helpers: () => F32_MATH.sin },
  cos: { expr: 'sin_cos(a, true)', helpers: () => F32_MATH.cos },
  erf: { expr: 'erf_(a)', helpers: () => F32_MATH.erf },
  log1p: { expr: 'log1p_(a)', helpers: () => F32_MATH.log1p },
  expm1: { expr: 'expm1_(a)', helpers: () => F32_MATH.expm1 },
  floor: integral('floor', 'floor'),
  ceil: integral('ceil', 'ceil'),
  // WGSL's round takes halves to even, as torch.round
  round: integral('round', 'round'),
  isnan: { expr: 'is_nan(a)', predicate: true },
  isfinite: {
    expr: 'finite_(a)',
    predicate: true,
    helpers: (c) => `fn finite_(x: ${c}) -> bool { return ${c === 'f32' ? '(bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u' : 'true'}; }`,
  },
};

const POW_F32 = `fn pow_(a: f32, b: f32, i: u32) -> f32 {
  if (b == 0.0 || a == 1.0) { return 1.0; }
  if (a == 0.0) { return select(0.0, inf(), b < 0.0); }
  // small integer exponents by squaring, as exact as the CPU's Math.pow; others via exp2/log2
  if (fract(b) == 0.0 && abs(b) <= 64.0) {
    var r = 1.0; var x = a; var e = u32(abs(b));
    loop { if (e == 0u) { break; } if ((e & 1u) == 1u) { r = r * x; } x = x * x; e = e >> 1u; }
    return select(r, 1.0 / r, b < 0.0);
  }
  let r = pow(abs(a), b);
  if (a > 0.0 || is_nan(a)) { return r; }
  if (fract(b) != 0.0) { return nan(); }
  return select(r, -r, b - 2.0 * floor(b / 2.0) == 1.0);
}`;
// exact integer powers by squaring; negative exponents are an error, as in torch
const POW_I32 = `fn pow_(a: i32, b: i32, i: u32) -> i32 {
  if (b < 0) { report(b, i); return 0; }
  var r = 1; var x = a; var e = b;
  loop { if (e == 0) { break; } if ((e & 1) == 1) { r = r * x; } x = x * x; e = e >> 1u; }
  return r;
}`;

const BINARY: Record<BinaryOp, MapOp> = {
  add: { expr: 'a + b' },
  sub: { expr: 'a - b' },
  mul: { expr: 'a * b' },
  div: { expr: 'a / b' },
  pow: { expr: 'pow_(a, b, i)', helpers: (c) => (c === 'f32' ? POW_F32 : POW_I32), checks: (c) => c === 'i32', error: (v) => new ValueError(`pow: integers to negative integer powers are not allowed (exponent ${v})`) },
  // NaN propagates, as torch.maximum/minimum
  maximum: { expr: 'select(select(b, a, a > b), a + b, is_nan(a) || is_nan(b))' },
  minimum: { expr: 'select(select(b, a, a < b), a + b, is_nan(a) || is_nan(b))' },
  atan2: { expr: 'atan2_(a, b)', helpers: () => F32_MATH.atan2 },
};
// IEEE semantics spelled out: NaN compares unequal to everything, whatever the compiler assumes
const COMPARE: Record<CompareOp, MapOp> = {
  eq: { expr: 'a == b && !is_nan(a)' },
  ne: { expr: 'a != b || is_nan(a) || is_nan(b)' },
  lt: { expr: 'a < b && !is_nan(a) && !is_nan(b)' },
  le: { expr: 'a <= b && !is_nan(a) && !is_nan(b)' },
  gt: { expr: 'a > b && !is_nan(a) && !is_nan(b)' },
  ge: { expr: 'a >= b && !is_nan(a) && !is_nan(b)' },
};
const CLAMP: MapOp = { expr: 'select(min(max(a, s0), s1), a, is_nan(a))' };
const WHERE: MapOp = { expr: 'select(c, b, a != C(0))' };
const COPY: MapOp = { expr: 'a' };
// relu's gradient: g where y > 0, else 0 (a NaN y gives 0)
const RELU_BACKWARD: MapOp = { expr: 'select(C(0), a, b > C(0) && !is_nan(b))' };

/** An elementwise op whose result is float32 for float32 output: its expression and scalar words (`s0`, `s1`) from attrs. */
export interface FloatMap {
  readonly f: MapOp;
  readonly scalars?: (attrs: any) => number[];
}
/**
 * The arithmetic elementwise ops (not predicates), by name: the eager kernels below and the
 * fused kernels of compiled functions (../fuse.ts) are both made from this table, so a fused
 * chain computes each op with its eager expression. activation.ts adds its ops.
 */
export const MAP_OPS = new Map<string, FloatMap>([
  ...Object.entries(UNARY).filter(([, f]) => !f.predicate).map(([name, f]): [string, FloatMap] => [name, { f }]),
  ...Object.entries(BINARY).map(([name, f]): [string, FloatMap] => [name, { f }]),
  ['where', { f: WHERE }],
  ['reluBackward', { f: RELU_BACKWARD }],
  ['clamp', { f: CLAMP, scalars: ({ min, max }: ClampAttrs) => [f32Bits(min), f32Bits(max)] }],
  ['copy', { f: COPY }],
]);

/**
 * The shader for `out = f(inputs...)` elementwise: inputs broadcast to out's shape, any strides
 * and offsets on every operand (out included, so copy_ and cat can write into views). Operands
 * are bound as raw 32-bit words and converted by dtype codes in the metadata, so one pipeline
 * per (op, compute type) serves every dtype combination and rank: each pipeline is a compile.
 */
export function mapProgram(name: string, f: MapOp, c: 'f32' | 'i32', predicate: boolean, inputs: readonly GpuView[], out: GpuView, scalars: number[] = []): Program {
  const n = numelOf(out.shape);
  const views = [...inputs.map((v) => ({ offset: v.offset, strides: broadcastStrides(v, out.shape) })), { offset: out.offset, strides: out.strides }];
  const co = coalesce(out.shape, views.map((v) => v.strides));
  const k = inputs.length;
  const codes = [...inputs, out].map((v) => DTYPE_CODE[v.dtype]!);
  // [n, slot, dtype codes of inputs and output, scalars, the walk]
  const meta = [n, 0, ...codes, ...scalars, ...walkMeta(co.shape, views.map((v, j) => ({ offset: v.offset, strides: co.strides[j]! })))];
  const checks = f.checks?.(c) ?? false;
  const toInt = c === 'f32' ? 'i32_of(v)' : 'v';
  const toBool = c === 'f32' ? 'bool_of(v)' : 'select(0u, 1u, v != 0)';
  // a float16 operand is an f16 binding read and written as f32 (program.ts' withHalfAccess), the
  // others raw words converted by their dtype codes
  const half = (v: GpuView) => v.dtype === 'float16';
  const load = (v: GpuView, j: number) => (half(v) ? `C(in${j}[o${j}])` : `ld(in${j}[o${j}], md[${2 + j}])`);
  const result = predicate ? `select(0u, 1u, ${f.expr})` : half(out) ? `f32(${f.expr})` : `st(${f.expr}, md[${2 + k}])`;
  const wgsl = () => `${preamble(inputs.map((v) => (half(v) ? 'float16' : 'u32')), [half(out) ? 'float16' : 'u32'], checks)}
alias C = ${c};
fn is_nan(x: C) -> bool { return nan_${c}(x); }
fn ld(bits: u32, code: u32) -> C {
  if (code == 0u) { return C(bitcast<f32>(bits)); }
  if (code == 1u) { return C(bitcast<i32>(bits)); }
  return C(bits);
}
fn st(v: C, code: u32) -> u32 {
  if (code == 0u) { return bitcast<u32>(f32(v)); }
  if (code == 1u) { return bitcast<u32>(${toInt}); }
  return ${toBool};
}
${f.helpers?.(c) ?? ''}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let i = wid(w, nw) * WG + l;
  if (i >= md[0]) { return; }
  ${walk(k + 1, `${3 + k + scalars.length}u`, 'i')}
  ${scalars.map((_, j) => `let s${j} = bitcast<C>(md[${3 + k + j}]);`).join(' ')}
  ${inputs.map((v, j) => `let ${'abc'[j]} = ${load(v, j)};`).join(' ')}
  out0[o${k}] = ${result};
}`;
  // which operands are f16 bindings: cat runs one op's copies with different ones
  const key = `map:${name}:${c}${[...inputs, out].some(half) ? `:${[...inputs, out].map((v) => (half(v) ? 'h' : '-')).join('')}` : ''}`;
  return { key, wgsl, inputs: inputs.map((v) => v.handle), outputs: [out.handle], meta, workgroups: Math.ceil(n / WORKGROUP), errors: checks ? f.error : undefined };
}

/** Arithmetic runs in the output's type; comparisons in the inputs' promoted type; copies in the input's. */
const arith = (f: MapOp, name: string): WebGPUKernel => (inputs, [out]) => [mapProgram(name, f, computeType(out!.dtype), false, inputs, out!)];

/** Predicates run in the input's type and yield bool. */
const test = (f: MapOp, name: string): WebGPUKernel => ([x], [out]) => [mapProgram(name, f, computeType(x!.dtype), true, [x!], out!)];

for (const [name, f] of Object.entries(UNARY)) registerKernel(name, 'webgpu', f.predicate ? test(f, name) : arith(f, name));
for (const [name, f] of Object.entries(BINARY)) registerKernel(name, 'webgpu', arith(f, name));
registerKernel('where', 'webgpu', arith(WHERE, 'where'));
registerKernel('reluBackward', 'webgpu', arith(RELU_BACKWARD, 'reluBackward'));
for (const [name, f] of Object.entries(COMPARE)) {
  registerKernel(name, 'webgpu', ((inputs, [out]) => {
    const c = computeType(promoteTypes(inputs[0]!.dtype, inputs[1]!.dtype));
    return [mapProgram(name, f, c, true, inputs, out!)];
  }) as WebGPUKernel);
}
// tril/triu: the output is contiguous, so thread i's element is at row (i / cols) % rows and
// column i % cols of its matrix. cols, rows and the diagonal are mapProgram's scalar words
// (md[4..6] for one input), read as integers rather than as the compute type.
const triangle = (keep: string): MapOp => ({
  expr: 'select(C(0), a, keep_(i))',
  helpers: () => `fn keep_(i: u32) -> bool {
  let d = i32(i % md[4]) - i32((i / md[4]) % md[5]);
  return d ${keep} bitcast<i32>(md[6]);
}`,
});
for (const [name, keep] of [['tril', '<='], ['triu', '>=']] as const) {
  const f = triangle(keep);
  registerKernel(name, 'webgpu', (([x], [out], { diagonal }) => {
    const s = out!.shape;
    const cols = s[s.length - 1]!, rows = s[s.length - 2]!;
    // beyond ±(rows + cols) every element is kept or none is: clamped, the diagonal fits in i32
    const d = Math.max(-(rows + cols), Math.min(rows + cols, diagonal));
    return [mapProgram(name, f, computeType(out!.dtype), false, [x!], out!, [cols, rows, d >>> 0])];
  }) as WebGPUKernel<TriangleAttrs>);
}
registerKernel('clamp', 'webgpu', (([x], [out], { min, max }) => {
  const c = computeType(out!.dtype);
  // integer outputs clamp with integer bounds (an infinite bound is the end of the int32 range)
  const bound = (v: number) => Math.max(-2147483648, Math.min(2147483647, v)) >>> 0;
  return [mapProgram('clamp', CLAMP, c, false, [x!], out!, c === 'f32' ? MAP_OPS.get('clamp')!.scalars!({ min, max }) : [bound(min), bound(max)])];
}) as WebGPUKernel<ClampAttrs>);

// float32 to int32: a value out of int32's range (NaN, infinities) is reported, as the CPU
// kernel throws for it, rather than saturated; the bound 2147483648 is exact in f32.
const TO_INT32 = `fn to_int(a: f32, i: u32) -> f32 {
  if (!(a >= -2147483648.0 && a < 2147483648.0)) { report(bitcast<i32>(a), i); return 0.0; }
  return a;
}`;
const f32OfBits = (bits: number): number => new Float32Array(new Int32Array([bits]).buffer)[0]!;

/** The copy kernel: a strided (possibly broadcast) read into a view, converting dtype; `op` names it in errors. */
export function copyProgram(x: GpuView, out: GpuView, op = 'copy'): Program {
  if ((x.dtype !== 'float32' && x.dtype !== 'float16') || out.dtype !== 'int32') return mapProgram('copy', COPY, computeType(x.dtype), false, [x], out);
  const toInt: MapOp = {
    expr: 'to_int(a, i)',
    helpers: () => TO_INT32,
    checks: () => true,
    error: (bits, at) => {
      const where = out.shape.length ? ` at index [${unravelIndex(at, out.shape).join(', ')}]` : '';
      return new ValueError(`${op === 'copy' ? 'cast' : op}: value ${f32OfBits(bits)}${where} cannot be converted to int32 without overflow (int32 holds -2147483648 to 2147483647; clamp it first)`);
    },
  };
  return mapProgram('copyToInt32', toInt, 'f32', false, [x], out);
}
registerKernel('copy', 'webgpu', (([x], [out], _attrs, op) => [copyProgram(x!, out!, op)]) as WebGPUKernel<{ dtype: DType }>);
