import { describe, expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { getKernel, type ClassLossAttrs } from '@tapegrad/tensor';
import { cpuKernelInfo, type CpuKernel, type CpuView } from '../src/index.js';
import { wasmAlloc, wasmFree } from '../src/wasm/runtime.js';

// The fused cross-entropy's float32 exp (wasm/loss.wat's $exp4, and expF32 in
// src/kernels/cross-entropy.ts for the TypeScript loops), checked through the backward kernel's
// row pass: with stats (m, l) (a row's max and log Σ exp, floats), weight total 1, 'sum' and an
// upstream 1, it writes exp(x - (m + l))·1 - 0 = exp(x - (m + l)) for every class but the
// target's, bit for bit. The claim:
// within 1 ulp of exp's exact value rounded to float32 (Math.exp in double, rounded), over every
// float32 the kernel meets: [-88, 0] after the row's max is taken off, swept with a stride
// (TAPEGRAD_EXP_SWEEP_STRIDE=1 walks all 1.1e9 of them), and random arguments beyond, shifts
// that are not floats, and the special values.
const backward = getKernel('crossEntropyBackward', 'cpu') as CpuKernel<ClassLossAttrs>;
const attrs: ClassLossAttrs = { reduction: 'sum', ignoreIndex: -100, labelSmoothing: 0 };
// Without SharedArrayBuffer (the suite's no-sab project, a page without cross-origin isolation)
// the kernel has only its TypeScript loops: the accuracy claims are checked on them, and the
// comparisons of the two paths have one path to compare.
const WASM = cpuKernelInfo().sharedMemoryAvailable;
/** float32 storage in the WebAssembly memory where there is one, where the kernel takes its WebAssembly path. */
const floats = (n: number) => (WASM ? (wasmAlloc('float32', n) as Float32Array) : new Float32Array(n));
const release = (a: Float32Array) => void (WASM && wasmFree(a));

function view(handle: Float32Array | Int32Array, shape: number[]): CpuView {
  return { handle, dtype: handle instanceof Int32Array ? 'int32' : 'float32', shape, strides: shape.length === 2 ? [shape[1]!, 1] : shape.map(() => 1), offset: 0 };
}

/**
 * exp(x[p][c] - (m[p] + l[p])) for rows of C floats (class 0 of each row is the target, so its
 * output is not the exp), on the WebAssembly path when `x` lives in the memory.
 */
function expRows(x: Float32Array, C: number, m: Float32Array, l: Float32Array, inMemory: boolean): Float32Array {
  const P = m.length;
  const alloc = (n: number) => (inMemory ? floats(n) : new Float32Array(n));
  const stats = alloc(2 * P), total = alloc(1), g = alloc(1), gx = alloc(P * C);
  m.forEach((v, p) => ((stats[2 * p] = v), (stats[2 * p + 1] = l[p]!)));
  total[0] = 1;
  g[0] = 1;
  const before = cpuKernelInfo().wasmKernelCalls;
  backward([view(x, [P, C]), view(new Int32Array(P), [P]), view(stats, [P, 2]), view(total, []), view(g, [])], [view(gx, [P, C])], attrs, 'crossEntropyBackward');
  expect(cpuKernelInfo().wasmKernelCalls - before).toBe(inMemory ? 1 : 0);
  const out = gx.slice();
  if (inMemory) for (const a of [stats, total, g, gx]) wasmFree(a);
  return out;
}

const word = new Float32Array(2);
const bits = new Uint32Array(word.buffer);
/** Distance in float32 steps between two floats of the same sign (0 for NaN and NaN). */
function ulps(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  word[0] = a;
  word[1] = b;
  return Math.abs(bits[0]! - bits[1]!);
}

/** The largest distance from exp's value rounded to float32, over rows whose class 0 is the target (skipped). */
function worst(x: Float32Array, C: number, m: Float32Array, l: Float32Array, got: Float32Array): { ulps: number; at: string } {
  let w = { ulps: 0, at: '' };
  for (let p = 0; p < m.length; p++) {
    const shift = m[p]! + l[p]!; // exact in double
    for (let c = 1; c < C; c++) {
      const i = p * C + c;
      const exact = Math.exp(x[i]! - shift);
      const u = ulps(got[i]!, Math.fround(exact));
      if (u > w.ulps) w = { ulps: u, at: `exp(${x[i]} - (${m[p]} + ${l[p]})) = ${got[i]}, exactly ${exact}` };
    }
  }
  return w;
}
const zero = new Float32Array(1);
/** The spacing of float32 values at v. */
const ulps32 = (v: number) => {
  const f = Math.fround(Math.abs(v));
  word[0] = f;
  bits[0] = bits[0]! + 1;
  return word[0]! - f;
};

/** Where two float32 arrays first differ in bits (NaN payloads aside), or 'nowhere'. */
function firstDifference(a: Float32Array, b: Float32Array): string {
  for (let i = 0; i < a.length; i++) if (ulps(a[i]!, b[i]!) !== 0) return `at ${i}: ${a[i]} and ${b[i]}`;
  return a.length === b.length ? 'nowhere' : 'in length';
}

const CHUNK = 1 << 18;

describe("cross-entropy's float32 exp", () => {
  it('is within 1 ulp of exp rounded to float32 over float32 arguments in [-88, 0]', () => {
    const stride = Number(process.env.TAPEGRAD_EXP_SWEEP_STRIDE ?? 127);
    word[0] = -88;
    const last = bits[0]!;
    const x = floats(CHUNK);
    let checked = 0;
    let worstSeen = { ulps: 0, at: '' };
    // bit patterns of -0 up to -88 (magnitudes grow with the pattern); class 0 of the row is the target
    for (let b = 0x80000000; b <= last; ) {
      let n = 1;
      x[0] = 0;
      for (; n < CHUNK && b <= last; n++, b += stride) {
        bits[0] = b;
        x[n] = word[0]!;
      }
      const row = x.subarray(0, n);
      const w = worst(row, n, zero, zero, expRows(row, n, zero, zero, WASM));
      if (w.ulps > worstSeen.ulps) worstSeen = w;
      checked += n - 1;
    }
    release(x);
    expect(checked).toBeGreaterThan(1.1e9 / stride);
    expect(worstSeen.ulps, worstSeen.at).toBeLessThanOrEqual(1);
  });

  it('is within 1 ulp of exp(x - (m + l)) for rows shifted by a max and a log-sum, and past the fast range', () => {
    tg.manualSeed(19);
    const P = 512, C = 64;
    // maxima of either sign and any size a logit has, log-sums from 0 to log(1e4): m + l is not a float
    const m = Float32Array.from(tg.randn([P]).dataSync(), (v, p) => v * 10 ** (p % 5));
    const l = Float32Array.from(tg.rand([P]).dataSync(), (v) => Math.log1p(1e4 * v));
    const u = tg.rand([P * C]).dataSync();
    const x = floats(P * C);
    // arguments in [-104, 89]: subnormal and zero results below -87.3, infinity above 88.7
    for (let i = 0; i < P * C; i++) x[i] = m[Math.floor(i / C)]! + l[Math.floor(i / C)]! - 104 + 193 * u[i]!;
    const got = expRows(x, C, m, l, WASM);
    const w = worst(x, C, m, l, got);
    expect(w.ulps, w.at).toBeLessThanOrEqual(1);
    // and the TypeScript loops give the same bits
    expect(firstDifference(expRows(Float32Array.from(x), C, m, l, false), got)).toBe('nowhere');
    release(x);
  });

  it('gives exp of the special values and the range edges, on both paths', () => {
    const values = [NaN, -Infinity, Infinity, -0, 0, -87.0001, -87, -86.9999, -87.33654, -87.33655, -103.97, -103.98, -200, 88, 88.0001, 88.72283, 88.72284, 1e-8, -1e-8, -1e-30];
    const x = floats(values.length + 1);
    x.set([0, ...values]);
    const got = expRows(x, x.length, zero, zero, WASM);
    const w = worst(x, x.length, zero, zero, got);
    expect(w.ulps, w.at).toBeLessThanOrEqual(1);
    expect(got[1]).toBeNaN();
    expect(got[2]).toBe(0);
    expect(got[3]).toBe(Infinity);
    expect(firstDifference(expRows(Float32Array.from(x), x.length, zero, zero, false), got)).toBe('nowhere');
    release(x);
  });

  // The forward's sum takes the exp of x - m rounded to float (not of x - m exactly): each term
  // off by at most 2^-24·|x - m| relatively, beside its own 1 ulp, so log Σ exp(x - m) by at most
  // 2^-24·E[m - x] + 2^-23, E the softmax's mean, before the stored float's rounding.
  it('gives the forward its log-sum within the bound of the rounded argument, on both paths', () => {
    const forward = getKernel('crossEntropy', 'cpu') as CpuKernel<ClassLossAttrs>;
    tg.manualSeed(5);
    const P = 64, C = 1000;
    const u = tg.randn([P * C]).dataSync();
    const xs = Float32Array.from(u, (v, i) => v * [0.5, 3, 10, 40][Math.floor(i / C) % 4]! + [0, 7, -300, 1e3][Math.floor(i / C / 4) % 4]!);
    const logSums = (x: Float32Array) => {
      const stats = new Float32Array(2 * P);
      forward([view(x, [P, C]), view(new Int32Array(P), [P])], [view(new Float32Array(1), []), view(stats, [P, 2]), view(new Float32Array(1), [])], { ...attrs, reduction: 'mean' }, 'crossEntropy');
      return stats;
    };
    const x = floats(P * C);
    x.set(xs);
    const before = cpuKernelInfo().wasmKernelCalls;
    const got = logSums(x);
    expect(cpuKernelInfo().wasmKernelCalls - before).toBe(WASM ? 1 : 0);
    expect(firstDifference(logSums(Float32Array.from(xs)), got)).toBe('nowhere');
    release(x);
    for (let p = 0; p < P; p++) {
      const row = xs.subarray(p * C, (p + 1) * C);
      const m = Math.max(...row);
      let s = 0, sd = 0;
      for (const v of row) (s += Math.exp(v - m)), (sd += Math.exp(v - m) * (m - v));
      const exact = Math.log(s);
      const bound = 2 ** -24 * (sd / s) + 2 ** -23 + ulps32(exact) / 2;
      expect(got[2 * p]).toBe(m);
      expect(Math.abs(got[2 * p + 1]! - exact), `row ${p}: log-sum ${got[2 * p + 1]}, exactly ${exact}`).toBeLessThanOrEqual(bound);
    }
  });

  it.skipIf(!WASM)('the TypeScript loops give the WebAssembly bits over a dense run of arguments', () => {
    const x = floats(CHUNK);
    for (let i = 0; i < CHUNK; i++) x[i] = -88 * (i / CHUNK) ** 2;
    const got = expRows(x, CHUNK, zero, zero, true);
    expect(firstDifference(expRows(Float32Array.from(x), CHUNK, zero, zero, false), got)).toBe('nowhere');
    release(x);
  });
});
