import { fastExp } from '@tapegrad/tensor';
import { isContiguous, type CpuKernel, type CpuView } from '../strided.js';
import { wasmBinary, wasmGtScalar, wasmRelu, wasmReluBackward, wasmWhereScalar } from '../wasm/runtime.js';

// Fast paths for the elementwise ops a training step spends its time in, on contiguous float32
// operands: same shape, a scalar, or a row broadcast over the last dims (a bias). The generic
// kernels call the op's scalar function through one shared loop that sees every dtype, so V8
// can neither inline the function nor specialise the element loads; each loop below is its own
// function literal, sees only Float32Array, and runs 5–10x faster. Results are bit-identical to
// the generic path (the same double-precision operation rounded to float32).

/** o[i] = a[i] op b[i mod bn] for a of n elements; bn = n (same shape), 1 (scalar) or a row length. */
type Loop2 = (a: Float32Array, b: Float32Array, o: Float32Array, n: number, bn: number) => void;
const BINARY: Record<string, Loop2> = {
  add: (a, b, o, n, bn) => {
    if (bn === n) for (let i = 0; i < n; i++) o[i] = a[i]! + b[i]!;
    else if (bn === 1) for (let i = 0, s = b[0]!; i < n; i++) o[i] = a[i]! + s;
    else for (let r = 0; r < n; r += bn) for (let j = 0; j < bn; j++) o[r + j] = a[r + j]! + b[j]!;
  },
  sub: (a, b, o, n, bn) => {
    if (bn === n) for (let i = 0; i < n; i++) o[i] = a[i]! - b[i]!;
    else if (bn === 1) for (let i = 0, s = b[0]!; i < n; i++) o[i] = a[i]! - s;
    else for (let r = 0; r < n; r += bn) for (let j = 0; j < bn; j++) o[r + j] = a[r + j]! - b[j]!;
  },
  mul: (a, b, o, n, bn) => {
    if (bn === n) for (let i = 0; i < n; i++) o[i] = a[i]! * b[i]!;
    else if (bn === 1) for (let i = 0, s = b[0]!; i < n; i++) o[i] = a[i]! * s;
    else for (let r = 0; r < n; r += bn) for (let j = 0; j < bn; j++) o[r + j] = a[r + j]! * b[j]!;
  },
  div: (a, b, o, n, bn) => {
    if (bn === n) for (let i = 0; i < n; i++) o[i] = a[i]! / b[i]!;
    else if (bn === 1) for (let i = 0, s = b[0]!; i < n; i++) o[i] = a[i]! / s;
    else for (let r = 0; r < n; r += bn) for (let j = 0; j < bn; j++) o[r + j] = a[r + j]! / b[j]!;
  },
};
const COMMUTATIVE = new Set(['add', 'mul']);
// Where every operand lives in the WebAssembly memory (its storage pool), the SIMD kernels of
// wasm/elementwise.wat run instead, with identical results.
const OPCODE: Record<string, number> = { add: 0, sub: 1, mul: 2, div: 3 };
const WASM_MIN = 64; // below this, calling into WebAssembly costs more than the loop

// sigmoid and tanh of float32 tensors (the gates of recurrent layers), on every path (elementwise.ts
// registers them for float32 outputs): from fastExp, accurate to float32 (within an ulp of the
// float64 value rounded), where Math.exp bounds sigmoid and V8's Math.tanh is slower still
// (about 12 and 33 ns an element, against 8 and 10). float64 keeps Math.exp and Math.tanh.
/** σ(x) for a float32 result. */
export const sigmoidF32 = (x: number): number => 1 / (1 + fastExp(-x));
/** tanh(x) for a float32 result: a series near 0, where (1 − e)/(1 + e) would cancel. */
export function tanhF32(x: number): number {
  const a = Math.abs(x);
  if (a < 0.1) {
    const x2 = x * x; // the series to x⁹ leaves a relative error below 1e-12 here
    return x * (1 + x2 * (-1 / 3 + x2 * (2 / 15 + x2 * (-17 / 315 + x2 * (62 / 2835)))));
  }
  const e = fastExp(-2 * a);
  const t = (1 - e) / (1 + e);
  return x < 0 ? -t : t;
}

type Loop1 = (a: Float32Array, o: Float32Array, n: number) => void;
const UNARY: Record<string, Loop1> = {
  relu: (a, o, n) => {
    for (let i = 0; i < n; i++) {
      const x = a[i]!;
      o[i] = x > 0 || x !== x ? x : 0;
    }
  },
  neg: (a, o, n) => {
    for (let i = 0; i < n; i++) o[i] = -a[i]!;
  },
  exp: (a, o, n) => {
    for (let i = 0; i < n; i++) o[i] = Math.exp(a[i]!);
  },
  copy: (a, o, n) => o.set(a.subarray(0, n)),
  tanh: (a, o, n) => {
    for (let i = 0; i < n; i++) o[i] = tanhF32(a[i]!);
  },
  sigmoid: (a, o, n) => {
    for (let i = 0; i < n; i++) o[i] = sigmoidF32(a[i]!);
  },
};

/** Ops whose float32 kernels have a fast loop or a WebAssembly SIMD one (fused kernels keep calling them: ../fuse.ts). */
export const FAST_OPS = new Set([...Object.keys(BINARY), ...Object.keys(UNARY), 'reluBackward', 'where']);

const numel = (v: CpuView) => v.shape.reduce((p, d) => p * d, 1);
const f32 = (v: CpuView, n: number) => (v.handle as Float32Array).subarray(v.offset, v.offset + n);

// Views of the output's shape whose rows are contiguous but spaced apart (a narrow or split of
// the last dim: the gates of a recurrent layer) run the loops row by row. The generic kernels
// would take them element by element, several times slower.
const MIN_ROW = 16; // shorter rows cost more in subarrays than they save
/** v's row stride if v has `shape` and is rows of its last dim, each contiguous, evenly spaced; else -1. */
function rowStride(v: CpuView, shape: readonly number[]): number {
  const r = shape.length;
  if (r < 2 || v.shape.length !== r || v.shape.some((d, i) => d !== shape[i]) || shape[r - 1]! < MIN_ROW || v.strides[r - 1] !== 1) return -1;
  for (let d = r - 3; d >= 0; d--) if (shape[d] !== 1 && v.strides[d] !== v.strides[d + 1]! * shape[d + 1]!) return -1;
  return v.strides[r - 2]!;
}
const row = (v: CpuView, stride: number, i: number, cols: number) => (v.handle as Float32Array).subarray(v.offset + i * stride, v.offset + i * stride + cols);

/**
 * How `small` broadcasts over `full` (same rank-aligned trailing dims): the length of the block
 * it repeats, or -1 when it is not a contiguous trailing block (or a scalar).
 */
function broadcastBlock(small: CpuView, full: readonly number[]): number {
  if (!isContiguous(small)) return -1;
  const n = numel(small);
  if (n === 1) return 1;
  const s = small.shape, lead = full.length - s.length;
  let d = 0;
  while (d < s.length && s[d] === 1) d++; // leading 1s broadcast like missing dims
  for (let i = d; i < s.length; i++) if (s[i] !== full[lead + i]) return -1;
  return n;
}

/** Wrap a generic binary kernel with the float32 contiguous fast path for op `name`, if any. */
export function fastBinary(name: string, generic: CpuKernel): CpuKernel {
  if (name === 'gt') return fastGt(generic);
  const loop = BINARY[name];
  if (!loop) return generic;
  return (inputs, outputs, attrs, op) => {
    const [x, y] = inputs as [CpuView, CpuView];
    const out = outputs[0]!;
    if (out.dtype === 'float32' && x.dtype === 'float32' && y.dtype === 'float32' && isContiguous(out)) {
      const n = numel(out);
      const o = f32(out, n);
      if (numel(x) === n && isContiguous(x)) {
        const bn = numel(y) === n ? (isContiguous(y) ? n : -1) : broadcastBlock(y, out.shape);
        if (bn > 0) return (n >= WASM_MIN && wasmBinary(OPCODE[name]!, x, y, out, n, bn)) || loop(f32(x, n), f32(y, bn), o, n, bn);
      } else if (COMMUTATIVE.has(name) && numel(y) === n && isContiguous(y)) {
        const bn = broadcastBlock(x, out.shape);
        if (bn > 0) return (n >= WASM_MIN && wasmBinary(OPCODE[name]!, y, x, out, n, bn)) || loop(f32(y, n), f32(x, bn), o, n, bn);
      } else if (name === 'sub' && numel(x) === 1 && numel(y) === n && isContiguous(y)) {
        // 1 − y, in the gradients of sigmoid and tanh (issue 16)
        const b = f32(y, n), s = (x.handle as Float32Array)[x.offset]!;
        for (let i = 0; i < n; i++) o[i] = s - b[i]!;
        return;
      }
      const cols = out.shape[out.shape.length - 1]!, sx = rowStride(x, out.shape), sy = rowStride(y, out.shape);
      if (sx >= 0 && sy >= 0) {
        for (let i = 0, rows = n / cols; i < rows; i++) loop(row(x, sx, i, cols), row(y, sy, i, cols), row(out, cols, i, cols), cols, cols);
        return;
      }
    }
    generic(inputs, outputs, attrs, op);
  };
}

/** Wrap a generic unary kernel with the float32 contiguous fast path for op `name`, if any. */
export function fastUnary(name: string, generic: CpuKernel): CpuKernel {
  const loop = UNARY[name];
  if (!loop) return generic;
  return (inputs, outputs, attrs, op) => {
    const x = inputs[0]!, out = outputs[0]!;
    const n = numel(out);
    if (out.dtype === 'float32' && x.dtype === 'float32' && numel(x) === n && isContiguous(out)) {
      if (isContiguous(x)) {
        if (name === 'relu' && n >= WASM_MIN && wasmRelu(x, out, n)) return;
        return loop(f32(x, n), f32(out, n), n);
      }
      const cols = out.shape[out.shape.length - 1]!, sx = rowStride(x, out.shape);
      if (sx >= 0) {
        for (let i = 0, rows = n / cols; i < rows; i++) loop(row(x, sx, i, cols), row(out, cols, i, cols), cols);
        return;
      }
    }
    generic(inputs, outputs, attrs, op);
  };
}

/**
 * Wrap reluBackward's generic kernel with the WebAssembly path for contiguous float32 operands:
 * the generic loop branches on every element of a random sign pattern, the kernel masks four
 * lanes at a time without branches.
 */
export function fastReluBackward(generic: CpuKernel): CpuKernel {
  return (inputs, outputs, attrs, op) => {
    const [g, y] = inputs as [CpuView, CpuView];
    const out = outputs[0]!;
    const n = numel(out);
    if (
      n >= WASM_MIN && g.dtype === 'float32' && y.dtype === 'float32' && out.dtype === 'float32' &&
      isContiguous(g) && isContiguous(y) && isContiguous(out) && wasmReluBackward(g, y, out, n)
    ) return;
    generic(inputs, outputs, attrs, op);
  };
}

// A comparison with a scalar and a select against one (clamp's gradient, masks in user code):
// their generic loops branch on every element; the WebAssembly kernels compare and select
// sixteen lanes at a time without branches.
const isScalarF32 = (v: CpuView) => v.dtype === 'float32' && numel(v) === 1;

function fastGt(generic: CpuKernel): CpuKernel {
  return (inputs, outputs, attrs, op) => {
    const [x, y] = inputs as [CpuView, CpuView];
    const out = outputs[0]!;
    const n = numel(out);
    if (n >= WASM_MIN && x.dtype === 'float32' && isScalarF32(y) && numel(x) === n && isContiguous(x) && isContiguous(out) && wasmGtScalar(x, y, out, n)) return;
    generic(inputs, outputs, attrs, op);
  };
}

/**
 * Wrap where's generic kernel with the WebAssembly path for where(c, x, scalar) and where(c,
 * scalar, x) (maskedFill) on contiguous float32 x. The scalar may have any dtype (where(mask, g,
 * 0) makes the 0 an int32 beside a bool mask): it is stored to float32 like the generic kernel
 * stores it.
 */
export function fastWhere(generic: CpuKernel): CpuKernel {
  return (inputs, outputs, attrs, op) => {
    const [c, a, b] = inputs as [CpuView, CpuView, CpuView];
    const out = outputs[0]!;
    const n = numel(out);
    if (n >= WASM_MIN && out.dtype === 'float32' && c.dtype === 'bool' && numel(c) === n && isContiguous(c) && isContiguous(out)) {
      const flip = numel(a) === 1;
      const [x, s] = flip ? [b, a] : [a, b];
      if (x.dtype === 'float32' && numel(s) === 1 && numel(x) === n && isContiguous(x) && wasmWhereScalar(c, x, s, out, n, flip)) return;
    }
    generic(inputs, outputs, attrs, op);
  };
}
