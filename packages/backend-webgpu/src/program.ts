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
 * How each dtype lives in a WGSL buffer. bool is a u32 holding 0 or 1: WGSL's `bool` cannot be
 * stored in buffers, and 32-bit words keep every element individually addressable (no packing,
 * so no read-modify-write races between threads).
 */
export function wgslType(dtype: DType): 'f32' | 'i32' | 'u32' {
  if (dtype === 'float32') return 'f32';
  if (dtype === 'int32') return 'i32';
  if (dtype === 'bool') return 'u32';
  throw new Error(`webgpu: no WGSL type for ${dtype}`);
}
/** The type arithmetic runs in: bools compute as i32. */
export function computeType(dtype: DType): 'f32' | 'i32' {
  return dtype === 'float32' ? 'f32' : 'i32';
}
/** WGSL converting `expr` of compute type `from` into storage for `to`. */
export function store(expr: string, from: 'f32' | 'i32', to: DType): string {
  if (to === 'bool') return from === 'f32' ? `bool_of(${expr})` : `select(0u, 1u, (${expr}) != 0)`;
  if (to === 'int32' && from === 'f32') return `i32_of(${expr})`;
  return `${wgslType(to)}(${expr})`;
}

/** The bindings and helpers every shader starts with; 'u32' declares raw 32-bit words of any dtype. */
export function preamble(inputs: readonly (DType | 'u32')[], outputs: readonly (DType | 'u32')[], errors = false): string {
  const lines: string[] = [];
  let b = 0;
  const ty = (d: DType | 'u32') => (d === 'u32' ? d : wgslType(d));
  inputs.forEach((d, i) => lines.push(`@group(0) @binding(${b++}) var<storage, read> in${i}: array<${ty(d)}>;`));
  outputs.forEach((d, i) => lines.push(`@group(0) @binding(${b++}) var<storage, read_write> out${i}: array<${ty(d)}>;`));
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
export const DTYPE_CODE: Record<string, number> = { float32: 0, int32: 1, bool: 2 };

export const f32Bits = (v: number): number => new Uint32Array(new Float32Array([v]).buffer)[0]!;
