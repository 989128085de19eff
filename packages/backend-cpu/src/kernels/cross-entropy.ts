import { classTargetError, fastExp, registerKernel, type ClassLossAttrs } from '@tapegrad/tensor';
import { fills, isContiguous, lineBases, type CpuKernel, type CpuView } from '../strided.js';
import { wasmAddress, wasmAlloc, wasmFree, wasmKernelsFor } from '../wasm/runtime.js';
import { loss as lossModules } from '../wasm/kernels.generated.js';

// The fused cross-entropy for class-index targets (definition and gradient: @tapegrad/nn's
// losses/cross-entropy.ts). For each target position (one row of C logits):
//   loss = (1-ε)·w[y]·(lse - x[y]) + (ε/C)·Σ_c w[c]·(lse - x[c]),   lse = log Σ_c exp(x[c])
// in two passes over the row, which stays in cache: the max m, then Σ exp(x - m). Nothing of size
// N·C is written: the forward saves, per position, m and log Σ exp(x - m) (lse split in two so
// that x - m - log s keeps full precision in float32 even for logits of ±1e4), and the total
// weight of the non-ignored targets.
//
// The O(N·C) passes (the row statistics, the gradient's exponentials) run as wasm/loss.wat's
// kernels when the logits are contiguous float32 rows in the WebAssembly memory, else as the
// loops below; both make the same float32 and double operations, so they give the same bits.
// Everything per position (targets, weights, smoothing, reductions) is one loop in TypeScript.
// exp bounds these passes: for float32 logits it is computed in float32, four lanes at a time in
// WebAssembly (`expF32` below, one lane), within 1 ulp of exp rounded to float32; float64 ones,
// whose results need more, keep Math.exp.
// Inputs [input, target, weight?]; outputs [loss, stats (positions x 2), totalWeight].

interface LossExports {
  ce_stats(x: number, rows: number, C: number, frac: number, out: number): void;
  ce_grad(x: number, rows: number, C: number, frac: number, params: number, o: number): void;
}

/** How the kernels walk the logits: C classes `step` apart from each position's `rows[p]`. */
interface Rows {
  C: number;
  step: number;
  rows: Int32Array;
}
function classRows(x: CpuView): Rows {
  const cd = x.shape.length === 1 ? 0 : 1;
  const keep = (_: number, i: number) => i !== cd;
  return { C: x.shape[cd]!, step: x.strides[cd]!, rows: lineBases(x.shape.filter(keep), x.strides.filter(keep), x.offset) };
}

type WasmLoss = { k: LossExports; frac: number };
/** wasm/loss.wat's kernels and its 2^(j/32) table, when x (and o) are contiguous float32 rows in the memory. */
function wasmLoss(x: CpuView, o?: CpuView): WasmLoss | undefined {
  if (x.shape.length > 2 || !isContiguous(x) || (o && !isContiguous(o))) return undefined;
  const k = wasmKernelsFor<LossExports>(lossModules, o ? [x.handle, o.handle] : [x.handle]);
  if (!k) return undefined;
  let frac = fracTables.get(k);
  if (frac === undefined) {
    const f = wasmAlloc('float32', 64);
    if (!f) return undefined;
    // the table fastExp reads, computed the same way: so the kernels' exp is fastExp's, bit for bit
    const t = new Float64Array(f.buffer, f.byteOffset, 32);
    for (let j = 0; j < 32; j++) t[j] = 2 ** (j / 32);
    fracTables.set(k, (frac = wasmAddress(f)));
  }
  return { k, frac };
}
// per engine (an engine's module instance), never freed: 256 bytes
const fracTables = new WeakMap<LossExports, number>();

/** Doubles for the kernels to read or write: in the memory when `inMemory`, else on the heap. */
function doubles(n: number, inMemory: boolean): { a: Float64Array; free(): void } {
  const f = inMemory && n > 0 ? wasmAlloc('float32', 2 * n) : undefined;
  if (!f) return { a: new Float64Array(n), free() {} };
  return { a: new Float64Array(f.buffer, f.byteOffset, n), free: () => void wasmFree(f) };
}

const f32 = Math.fround;
const FLOAT_MAX = 3.4028234663852886e38;
// float32 constants of expF32 (Cephes's expf): log2 e, ln2 as C1 + C2, the polynomial
const LOG2E = 1.4426950216293335;
const C1 = 0.693359375;
const C2 = -0.00021219444170128554;
const P0 = 0.00019875691214110702, P1 = 0.001398199936375022, P2 = 0.008333452045917511, P3 = 0.04166579619050026, P4 = 0.1666666567325592;
const ROUND = 6755399441055744; // adding then subtracting 1.5·2^52 rounds to an integer, ties to even

/**
 * exp(x - (mh + ml)) for float32 x, mh and ml, as one lane of wasm/loss.wat's $row computes it
 * (see there), every float32 operation rounded by Math.fround: the same bits.
 */
function expF32(x: number, mh: number, ml: number): number {
  const d = f32(x - mh);
  if (!(d >= -87 && d <= 88)) return f32(fastExp(x - mh - ml));
  const bb = f32(d - x);
  const e = f32(f32(f32(x - f32(d - bb)) - f32(mh + bb)) - ml);
  const n = f32(d * LOG2E) + ROUND - ROUND;
  const r = f32(f32(f32(d - f32(n * C1)) - f32(n * C2)) + e);
  let q = f32(f32(r * P0) + P1);
  q = f32(f32(q * r) + P2);
  q = f32(f32(q * r) + P3);
  q = f32(f32(q * r) + P4);
  q = f32(f32(q * r) + 0.5);
  return f32(f32(f32(q * f32(r * r)) + r) + 1) * 2 ** n; // 2^n: exact, the result being a normal float
}

/**
 * (m, s) per position: the row's max (from the largest finite negative, so an all -inf row gives
 * s = 0 and lse = -inf) and Σ exp(x - m). float32 rows sum their exps as wasm/loss.wat's $row
 * does: in double, four sums by class mod 4 over the groups of four, then the last C mod 4.
 */
function rowStats(x: CpuView, r: Rows): { a: Float64Array; free(): void } {
  const { C, step, rows } = r;
  const w = rows.length > 0 ? wasmLoss(x) : undefined;
  const out = doubles(2 * rows.length, !!w);
  if (w) {
    w.k.ce_stats(wasmAddress(x.handle, x.offset), rows.length, C, w.frac, wasmAddress(out.a));
    return out;
  }
  const a = x.handle;
  const single = !(a instanceof Float64Array);
  const C4 = C & ~3;
  for (let p = 0; p < rows.length; p++) {
    let m = single ? -FLOAT_MAX : -Number.MAX_VALUE;
    for (let c = 0, i = rows[p]!; c < C; c++, i += step) if (a[i]! > m) m = a[i]!;
    let s = 0;
    if (single) {
      m += 0; // -0 as +0, as the kernel's lanes make it
      const lane = [0, 0, 0, 0];
      let tail = 0;
      let c = 0;
      let i = rows[p]!;
      for (; c < C4; c++, i += step) lane[c & 3]! += expF32(a[i]!, m, 0);
      for (; c < C; c++, i += step) tail += expF32(a[i]!, m, 0);
      s = lane[0]! + lane[1]! + (lane[2]! + lane[3]!) + tail;
    } else {
      for (let c = 0, i = rows[p]!; c < C; c++, i += step) s += Math.exp(a[i]! - m);
    }
    out.a[2 * p] = m;
    out.a[2 * p + 1] = s;
  }
  return out;
}

/**
 * o = exp(x - shift)·k - b over each position's row, (shift, k, b, skip) per position in `params`;
 * skipped rows are zero-filled. For float32, in float32 as wasm/loss.wat's ce_grad computes it: the
 * shift as a pair of floats, k and b rounded to float. `w`: the WebAssembly kernels, when x and
 * o can take them.
 */
function expAffineRows(w: WasmLoss | undefined, x: CpuView, r: Rows, o: CpuView, outRows: Rows, params: Float64Array): void {
  if (w && wasmAddress(params) >= 0) {
    w.k.ce_grad(wasmAddress(x.handle, x.offset), r.rows.length, r.C, w.frac, wasmAddress(params), wasmAddress(o.handle, o.offset));
    return;
  }
  const { C, step, rows } = r;
  const a = x.handle, oh = o.handle, outStep = outRows.step;
  const single = !(oh instanceof Float64Array);
  for (let p = 0; p < rows.length; p++) {
    const j0 = outRows.rows[p]!;
    if (params[4 * p + 3]) {
      for (let c = 0, j = j0; c < C; c++, j += outStep) oh[j] = 0;
      continue;
    }
    const shift = params[4 * p]!, k = params[4 * p + 1]!, b = params[4 * p + 2]!;
    if (single) {
      const mh = f32(shift), ml = f32(shift - mh), k32 = f32(k), b32 = f32(b);
      for (let c = 0, i = rows[p]!, j = j0; c < C; c++, i += step, j += outStep) oh[j] = f32(expF32(a[i]!, mh, ml) * k32) - b32;
    } else {
      for (let c = 0, i = rows[p]!, j = j0; c < C; c++, i += step, j += outStep) oh[j] = Math.exp(a[i]! - shift) * k - b;
    }
  }
}

/** Σ_c w[c], the smoothing term's total weight (C without a weight). */
function weightSum(w: CpuView | undefined, C: number): number {
  if (!w) return C;
  let s = 0;
  for (let c = 0; c < C; c++) s += w.handle[w.offset + c * w.strides[0]!]!;
  return s;
}

/** Offsets of a view's elements in row-major order. */
const offsetsOf = (v: CpuView): Int32Array => lineBases(v.shape, v.strides, v.offset);

const crossEntropyForward: CpuKernel<ClassLossAttrs> = ([x, t, w], [out, stats, total], attrs) => {
  const r = classRows(x!);
  const { C, step } = r;
  const targets = offsetsOf(t!);
  const { reduction, ignoreIndex, labelSmoothing: eps } = attrs;
  const a = x!.handle;
  const ty = t!.handle;
  const st = stats!.handle;
  const wv = w ? w.handle : undefined;
  const wOff = w ? w.offset : 0;
  const ws = w ? w.strides[0]! : 0;
  const sumW = weightSum(w, C);
  const per = reduction === 'none' ? out!.handle : undefined;
  const ms = rowStats(x!, r);
  try {
    let acc = 0;
    let W = 0;
    for (let p = 0; p < r.rows.length; p++) {
      const y = ty[targets[p]!]!;
      if (y === ignoreIndex) {
        if (per) per[p] = 0;
        st[2 * p] = 0;
        st[2 * p + 1] = 0;
        continue;
      }
      if (y < 0 || y >= C) throw classTargetError('crossEntropy', y, C, p, t!.shape, ignoreIndex);
      const base = r.rows[p]!;
      const m = ms.a[2 * p]!;
      let sx = 0; // Σ w[c]·(x[c] - ref), for the smoothing term; ref removes a common offset
      const ref = a[base]!;
      if (eps > 0) for (let c = 0, i = base; c < C; c++, i += step) sx += (wv ? wv[wOff + c * ws]! : 1) * (a[i]! - ref);
      const logS = Math.log(ms.a[2 * p + 1]!);
      const wy = wv ? wv[wOff + y * ws]! : 1;
      let l = wy * (m - a[base + y * step]! + logS);
      if (eps > 0) l = (1 - eps) * l + (eps / C) * (sumW * (m - ref + logS) - sx);
      st[2 * p] = m;
      st[2 * p + 1] = logS;
      W += wy;
      if (per) per[p] = l;
      else acc += l;
    }
    total!.handle[0] = W;
    // all targets ignored (or an empty batch) under 'mean' is 0/0 = NaN, as in PyTorch
    if (!per) out!.handle[0] = reduction === 'mean' ? acc / W : acc;
  } finally {
    ms.free();
  }
};

// d loss / d x[c] = (softmax[c]·((1-ε)·w[y] + (ε/C)·Σw) - (1-ε)·w[y]·[c = y] - (ε/C)·w[c]) · scale,
// scale = upstream / totalWeight ('mean'), upstream ('sum') or upstream[p] ('none'); softmax
// recomputed from the saved max and log-sum. Ignored positions get 0.
// Inputs [input, target, stats, totalWeight, upstream, weight?]; output [gradInput] (contiguous;
// every element written).
const crossEntropyBackward: CpuKernel<ClassLossAttrs> = ([x, t, stats, total, g, w], [gx], attrs) => {
  const r = classRows(x!);
  const outRows = classRows(gx!);
  const { C } = r;
  const P = r.rows.length;
  const targets = offsetsOf(t!);
  const { reduction, ignoreIndex, labelSmoothing: eps } = attrs;
  const ty = t!.handle;
  const st = stats!.handle;
  const o = gx!.handle;
  const up = g!.shape.length === 0 ? undefined : offsetsOf(g!);
  const W = reduction === 'mean' ? total!.handle[total!.offset]! : 1;
  const wv = w ? w.handle : undefined;
  const wOff = w ? w.offset : 0;
  const ws = w ? w.strides[0]! : 0;
  const sumW = weightSum(w, C);
  const u = eps / C;
  const kernels = P > 0 ? wasmLoss(x!, gx!) : undefined;
  const params = doubles(4 * P, !!kernels);
  try {
    const scales = new Float64Array(P);
    for (let p = 0; p < P; p++) {
      const y = ty[targets[p]!]!;
      if (y === ignoreIndex) {
        params.a[4 * p + 3] = 1; // a row of zeros
        continue;
      }
      if (y < 0 || y >= C) throw classTargetError('crossEntropy', y, C, p, t!.shape, ignoreIndex);
      const scale = (scales[p] = g!.handle[up ? up[p]! : g!.offset]! / W);
      const wy = wv ? wv[wOff + y * ws]! : 1;
      params.a[4 * p] = st[2 * p]! + st[2 * p + 1]!;
      params.a[4 * p + 1] = ((1 - eps) * wy + u * sumW) * scale;
      params.a[4 * p + 2] = wv ? 0 : u * scale;
      params.a[4 * p + 3] = 0;
    }
    expAffineRows(kernels, x!, r, gx!, outRows, params.a);
    const outStep = outRows.step;
    for (let p = 0; p < P; p++) {
      if (params.a[4 * p + 3]) continue;
      const y = ty[targets[p]!]!;
      const scale = scales[p]!;
      const ob = outRows.rows[p]!;
      if (wv) for (let c = 0; c < C; c++) o[ob + c * outStep]! -= u * wv[wOff + c * ws]! * scale;
      o[ob + y * outStep]! -= (1 - eps) * (wv ? wv[wOff + y * ws]! : 1) * scale;
    }
  } finally {
    params.free();
  }
};

registerKernel('crossEntropy', 'cpu', crossEntropyForward);
registerKernel('crossEntropyBackward', 'cpu', fills(crossEntropyBackward));
