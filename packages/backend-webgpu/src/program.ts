import type { DType, Shape, TapegradError, TensorView } from '@tapegrad/tensor';
import type { GpuHandle } from './backend.js';

/** What a WebGPU kernel sees of a tensor: its buffer handle and how to index it. */
export type GpuView = TensorView<GpuHandle>;

/**
 * One compute dispatch, as a kernel describes it: the WGSL (built only when the pipeline cache
 * misses), the buffers it binds, its metadata words and how many workgroups to run.
 *
 * Every shader is `preamble(...)` plus a body. The preamble declares, in binding order, the
 * inputs `in0..` (read-only), the outputs `out0..`, `meta: array<u32>` (shapes, strides,
 * offsets and scalars; `md[0]` is the number of work items, `md[1]` the dispatch's error record) and,
 * for kernels that check data, `err`. A kernel writes every element of its outputs: the
 * backend relies on that to skip zero-filling fresh buffers.
 */
export interface Program {
  /** Pipeline cache key: everything the generated WGSL depends on (op, dtypes, rank...). */
  key: string;
    /** The shader source: preamble plus body (called only when the pipeline cache misses). */
  wgsl: () => string;
  inputs: readonly GpuHandle[];
  outputs: readonly GpuHandle[];
  meta: number[];
  /** Total workgroups; the backend folds them into a 2-D grid, and `wid()` unfolds them. */
  workgroups: number;
  /**
   * For kernels that can find bad data (an index out of range): builds the error (from the bad
   * value and where it was found) that every read of the outputs, and of what is computed from
   * them, throws.
   */
  errors?: (value: number, at: number) => TapegradError;
}

/** A WebGPU kernel, as registered with `registerKernel(op, 'webgpu', kernel)`. */
export type WebGPUKernel<A = any> = (inputs: readonly GpuView[], outputs: readonly GpuView[], attrs: A, op: string) => Program[];

/** Threads per workgroup of the built-in kernels. */
export const WORKGROUP = 256;

/**
 * The WGSL type a kernel reads and writes elements of this dtype as. bool is a u32 holding 0 or 1:
 * WGSL's `bool` cannot be stored in buffers, and 32-bit words keep every element individually
 * addressable (no packing, so no read-modify-write races between threads). float16 is stored as
 * WGSL's f16 but read and written as f32 (see `withHalfAccess`): kernels never see an f16.
 */
export function wgslType(dtype: DType): 'f32' | 'i32' | 'u32' {
  if (dtype === 'float32' || dtype === 'float16') return 'f32';
  if (dtype === 'int32') return 'i32';
  if (dtype === 'bool') return 'u32';
  throw new Error(`webgpu: no WGSL type for ${dtype}`);
}
/** The type arithmetic runs in: bools compute as i32. */
export function computeType(dtype: DType): 'f32' | 'i32' {
  return dtype === 'float32' || dtype === 'float16' ? 'f32' : 'i32';
}
/** WGSL converting `expr` of compute type `from` into storage for `to`. */
export function store(expr: string, from: 'f32' | 'i32', to: DType): string {
  if (to === 'bool') return from === 'f32' ? `bool_of(${expr})` : `select(0u, 1u, (${expr}) != 0)`;
  if (to === 'int32' && from === 'f32') return `i32_of(${expr})`;
  return `${wgslType(to)}(${expr})`;
}

/** What `preamble` writes after the f16 bindings that `withHalfAccess` converts. */
const F32_ACCESS = '// f32 access';

/**
 * The bindings and helpers every shader starts with; 'u32' declares raw 32-bit words of a 32-bit
 * dtype. A float16 operand is declared `array<f16>`, which `withHalfAccess` turns into f32 loads
 * and stores when the pipeline is built.
 */
export function preamble(inputs: readonly (DType | 'u32')[], outputs: readonly (DType | 'u32')[], errors = false): string {
  const lines: string[] = [];
  let b = 0;
  const ty = (d: DType | 'u32') => (d === 'u32' ? d : d === 'float16' ? 'f16' : wgslType(d));
  // the mark tells withHalfAccess which f16 bindings to convert: a user's own f16 shader is left alone
  const mark = (d: DType | 'u32') => (d === 'float16' ? ` ${F32_ACCESS}` : '');
  inputs.forEach((d, i) => lines.push(`@group(0) @binding(${b++}) var<storage, read> in${i}: array<${ty(d)}>;${mark(d)}`));
  outputs.forEach((d, i) => lines.push(`@group(0) @binding(${b++}) var<storage, read_write> out${i}: array<${ty(d)}>;${mark(d)}`));
  lines.push(`@group(0) @binding(${b++}) var<storage, read> md: array<u32>;`);
  if (errors) {
    lines.push(`@group(0) @binding(${b++}) var<storage, read_write> err: array<atomic<u32>>;`);
    // the first thread to find bad data records the value and where, in this dispatch's record
    lines.push(`fn report(value: i32, at: u32) {
  let r = md[1] * 4u;
  if (atomicExchange(&err[r], 1u) == 0u) { atomicStore(&err[r + 1u], bitcast<u32>(value)); atomicStore(&err[r + 2u], at); }
}`);
  }
  lines.push(`const WG: u32 = ${WORKGROUP}u;
// the flat workgroup index of a grid folded into 2-D (x is capped at 65535 workgroups)
fn wid(w: vec3u, n: vec3u) -> u32 { return w.x + w.y * n.x; }
// explicit bit tests: WGSL implementations may fold x != x away
fn nan_f32(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn nan_i32(x: i32) -> bool { return false; }
// NaN and infinities are not constant expressions in WGSL: build them at run time
fn f32_bits(u: u32) -> f32 { return bitcast<f32>(u); }
fn nan() -> f32 { return f32_bits(0x7fc00000u); }
fn inf() -> f32 { return f32_bits(0x7f800000u); }
// conversions as the CPU backend's typed arrays make them: NaN is 0 as an int and true as a bool
fn i32_of(x: f32) -> i32 { return select(i32(x), 0, nan_f32(x)); }
fn bool_of(x: f32) -> u32 { return select(0u, 1u, x != 0.0 || nan_f32(x)); }`);
  return lines.join('\n') + '\n';
}

/**
 * Merge dims that every operand walks contiguously and drop size-1 dims (like the CPU's plan),
 * so contiguous operands index as one flat run and shaders are specialised on few ranks.
 */
export function coalesce(shape: Shape, strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => st[k]![last] === s[d]! * shape[d]!)) {
      dims[last]! *= shape[d]!;
      strides.forEach((s, k) => (st[k]![last] = s[d]!));
    } else {
      dims.push(shape[d]!);
      strides.forEach((s, k) => st[k]!.push(s[d]!));
    }
  }
  return { shape: dims, strides: st };
}

/** The strides that read `v` as the (broadcast) shape `shape`: 0 along broadcast dims. */
export function broadcastStrides(v: { shape: Shape; strides: readonly number[] }, shape: Shape): number[] {
  const lead = shape.length - v.shape.length;
  return shape.map((n, i) => (i < lead || v.shape[i - lead] !== n ? 0 : v.strides[i - lead]!));
}

/**
 * Meta words for walking `shape` (row-major) with several operands: the rank, the shape, then
 * per operand its offset and strides. `walk` generates the matching WGSL. The rank is data, not
 * part of the shader, so one pipeline serves every rank (each pipeline costs a compile).
 */
export function walkMeta(shape: Shape, operands: readonly { strides: readonly number[]; offset: number }[]): number[] {
  const out = [shape.length, ...shape];
  for (const o of operands) out.push(o.offset, ...o.strides);
  return out;
}
/**
 * WGSL declaring `o0..o{k-1}` (or another prefix), the element offsets of row-major index
 * `idx` in each of k operands, from `walkMeta` words starting at `base` (a WGSL u32 expression).
 */
export function walk(k: number, base: string, idx: string, prefix = 'o'): string {
  const b = `${prefix}_b`;
  const r = `${prefix}_r`;
  const decl = Array.from({ length: k }, (_, j) => `var ${prefix}${j} = md[${b} + 1u + ${r} + ${j}u * (${r} + 1u)];`).join(' ');
  const adds = Array.from({ length: k }, (_, j) => `${prefix}${j} += c * md[${b} + 2u + ${r} + ${j}u * (${r} + 1u) + d];`).join(' ');
  return `let ${b} = ${base}; let ${r} = md[${b}];
  ${decl}
  { var rem = ${idx};
    for (var j = 0u; j < ${r}; j++) { let d = ${r} - 1u - j; let n = md[${b} + 1u + d]; let c = rem % n; rem = rem / n; ${adds} } }`;
}

/** Number of elements of a tensor of this shape. */
export function numelOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
/** Runtime dtype codes, for shaders that take any storage dtype (see `mapProgram`). */
export const DTYPE_CODE: Record<string, number> = { float32: 0, int32: 1, bool: 2, float16: 0 };

export const f32Bits = (v: number): number => new Uint32Array(new Float32Array([v]).buffer)[0]!;

// ---- float16 ---------------------------------------------------------------------------------
// float16 lives in `array<f16>` buffers (2 bytes an element, which needs the shader-f16 feature) and
// is computed in f32, as the CPU backend and PyTorch's CUDA kernels compute half ("opmath"): a load
// widens exactly, a store rounds once to nearest even. Both conversions are integer operations on
// the bit patterns, the CPU's (@tapegrad/tensor's half.ts) in WGSL, so that they do not depend on how
// a driver converts (WGSL leaves f32 -> f16 rounding and subnormals to the implementation): the same
// f32 value gives the same half bits on every device, subnormals and NaNs included.
const HALF_CONVERSIONS = `fn half_to_f32(h: u32) -> f32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  // an infinity, or a NaN made quiet with its payload (as the CPU widens it)
  if (e == 0x1fu) { return bitcast<f32>(s | 0x7f800000u | select(0u, 0x400000u | (m << 13u), m != 0u)); }
  if (e != 0u) { return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u)); }
  // zero or a subnormal m * 2^-24: a normal f32, exactly
  return bitcast<f32>(s | bitcast<u32>(f32(m) * 5.9604644775390625e-8));
}
fn f32_to_half(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let a = b & 0x7fffffffu;
  if (a > 0x7f800000u) { return sign | 0x7e00u; }
  if (a >= 0x477ff000u) { return sign | 0x7c00u; } // 65520 and up: the tie above 65504 goes up
  if (a >= 0x38800000u) { return sign | (((a + 0xfffu + ((a >> 13u) & 1u)) >> 13u) - (112u << 10u)); }
  if (a <= 0x33000000u) { return sign; }
  let shift = 126u - (a >> 23u);
  let m = (a & 0x7fffffu) | 0x800000u;
  var q = m >> shift;
  let rest = m & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (q & 1u) == 1u)) { q += 1u; }
  return sign | q;
}`;

/** Where `open` (a '[') closes in `code`. */
function closing(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === '[') depth++;
    else if (code[i] === ']' && --depth === 0) return i;
  }
  throw new Error('webgpu: internal error: unbalanced [ in a kernel');
}
/** Where the statement starting at `from` ends: its `;` outside brackets. */
function statementEnd(code: string, from: number): number {
  let depth = 0;
  for (let i = from; i < code.length; i++) {
    const ch = code[i];
    if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === ';' && depth === 0) return i;
  }
  throw new Error('webgpu: internal error: an assignment without a ; in a kernel');
}

/** `code` with each element access of the `names` arrays turned into a call of its ld_ or st_ function. */
function rewriteAccess(code: string, names: ReadonlySet<string>): string {
  const access = /\b((?:in|out)\d+)\[/g;
  let out = '';
  let at = 0;
  for (let m = access.exec(code); m; m = access.exec(code)) {
    const name = m[1]!;
    if (!names.has(name)) continue;
    const open = m.index + name.length;
    const close = closing(code, open);
    const index = rewriteAccess(code.slice(open + 1, close), names);
    const assign = /^\s*([+\-*/]?)=(?!=)/.exec(code.slice(close + 1));
    out += code.slice(at, m.index);
    if (assign) {
      const rhsStart = close + 1 + assign[0].length;
      const end = statementEnd(code, rhsStart);
      const rhs = rewriteAccess(code.slice(rhsStart, end), names).trim();
      const value = assign[1] ? `ld_${name}(${index}) ${assign[1]} (${rhs})` : rhs;
      out += `st_${name}(${index}, ${value})`;
      at = end;
    } else {
      out += `ld_${name}(${index})`;
      at = close + 1;
    }
    access.lastIndex = at;
  }
  return out + code.slice(at);
}

/**
 * A shader's float16 bindings made readable as f32: every `inK[i]` of an `array<f16>` binding
 * that `preamble` declared
 * becomes a widening load and every `outK[i] = v` a rounding store, so a kernel written for f32
 * serves float16 operands as they are, each operand converted by its own dtype (an op reading
 * float16 and writing float32 just works). The backend applies it to every shader it compiles.
 */
export function withHalfAccess(code: string): string {
  const names = new Set([...code.matchAll(/var<storage, (?:read|read_write)> ((?:in|out)\d+): array<f16>; \/\/ f32 access/g)].map((m) => m[1]!));
  if (names.size === 0) return code;
  const accessors = [...names].map((n) =>
    n.startsWith('in')
      ? `fn ld_${n}(i: u32) -> f32 { return half_to_f32(bitcast<u32>(vec2<f16>(${n}[i], 0.0h)) & 0xffffu); }`
      : `fn ld_${n}(i: u32) -> f32 { return half_to_f32(bitcast<u32>(vec2<f16>(${n}[i], 0.0h)) & 0xffffu); }
fn st_${n}(i: u32, v: f32) { ${n}[i] = bitcast<vec2<f16>>(f32_to_half(v)).x; }`,
  );
  // the enable directive must come before every declaration (some kernels declare before the preamble)
  return `enable f16;\n${HALF_CONVERSIONS}\n${accessors.join('\n')}\n${rewriteAccess(code, names)}`;
}
