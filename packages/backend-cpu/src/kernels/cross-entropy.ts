import {
  classTargetError, fastExp, getKernel, linearCrossEntropyWorkspace, registerKernel, type ClassLossAttrs, type LinearCrossEntropyAttrs, type TypedArray,
} from '@tapegrad/tensor';
import { fills, isContiguous, lineBases, type CpuKernel, type CpuView } from '../strided.js';
import { wasmAddress, wasmAlloc, wasmFree, wasmKernelsFor, wasmRunParts } from '../wasm/runtime.js';
import { loss as lossModules } from '../wasm/kernels.generated.js';
import { matmulInto } from './matmul.js';

// The fused cross-entropy for class-index targets (definition and gradient: @tapegrad/nn's
// losses/cross-entropy.ts). For each target position (one row of C logits):
//   loss = (1-ε)·w[y]·(lse - x[y]) + (ε/C)·Σ_c w[c]·(lse - x[c]),   lse = log Σ_c exp(x[c])
// in two passes over the row, which stays in cache: the max m, then Σ exp(x - m). The forward
// saves, per position, m and log Σ exp(x - m) (lse split in two so that x - m - log s keeps full
// precision in float32 even for logits of ±1e4), the total weight of the non-ignored targets,
// and, with `saveExps`, each exp(x - m) it summed (rows of C): the backward then scales them
// (a pass over memory) instead of computing exp(x - lse) again (which it does without them, for
// linearCrossEntropy's chunks).
//
// The O(N·C) passes (the row statistics, the gradient's exponentials) run as wasm/loss.wat's
// kernels when the logits are contiguous float32 rows in the WebAssembly memory, else as the
// loops below; both make the same float32 and double operations, so they give the same bits.
// Everything per position (targets, weights, smoothing, reductions) is one loop in TypeScript.
// exp bounds these passes: for float32 logits it is computed in float32, four lanes at a time in
// WebAssembly (`expF32` below, one lane): the gradient's within 1 ulp of exp rounded to float32;
// the forward's sum takes the exp of x - m rounded to float (each term off by at most
// 2^-24·|x - m| relatively, so log s by 2^-24 times the softmax-weighted mean of m - x: far below
// the loss's own float32 rounding). float64 logits, whose results need more, keep Math.exp. Rows
// are independent: a large pass is cut into blocks of rows that the CPU worker threads share
// (wasmRunParts), each row computed as on one thread.
// Inputs [input, target, weight?]; outputs [loss, stats (positions x 2), totalWeight, exps?].

interface LossExports {
  ce_part(job: number, part: number, thread: number): void;
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

type WasmLoss = { frac: number };
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
  return { frac };
}

// Operations per element of a row pass (loss.wat's $row: the exp's exact argument, its reduction,
// the polynomial, the scaling by 2^n, the range check, then the sum or the affine): what the pass
// counts against parallelMinFlops, so that the threshold means about as much time as for a product.
// ce_grad from saved exps has no exp: a multiply and a subtraction.
const ROW_FLOPS = [36, 36, 2];
/** One of loss.wat's row passes (ce_part's op 0 ce_stats, 1 ce_grad, 2 ce_grad from saved exps) over `rows` rows of C, on as many threads as pays. */
function rowPass(op: 0 | 1 | 2, x: CpuView, rows: number, C: number, w: WasmLoss, out: number, o = 0): void {
  wasmRunParts(lossModules, [op, wasmAddress(x.handle, x.offset), rows, C, w.frac, out, o], rows, ROW_FLOPS[op]! * rows * C);
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
 * (see there), every float32 operation rounded by Math.fround: the same bits. `exact` false (the
 * forward's sum, whose shift is a float) leaves out the rounding error of x - mh, as $row does.
 */
function expF32(x: number, mh: number, ml: number, exact = true): number {
  const d = f32(x - mh);
  if (!(Math.abs(d) <= 87)) return f32(fastExp(x - mh - ml));
  const n = f32(d * LOG2E) + ROUND - ROUND;
  let r = f32(f32(d - f32(n * C1)) - f32(n * C2));
  if (exact) {
    const bb = f32(d - x);
    r = f32(r + f32(f32(f32(x - f32(d - bb)) - f32(mh + bb)) - ml));
  }
  const r2 = f32(r * r);
  const hi = f32(f32(f32(f32(r * P0) + P1) * r2) + f32(f32(r * P2) + P3));
  const q = f32(f32(hi * r2) + f32(f32(r * P4) + 0.5));
  return f32(f32(f32(q * r2) + r) + 1) * 2 ** n; // 2^n: exact, the result being a normal float
}

/**
 * (m, s, x[y]) per position: the row's max (from the largest finite negative, so an all -inf row
 * gives s = 0 and lse = -inf) and Σ exp(x - m). float32 rows sum their exps as wasm/loss.wat's $row
 * does: in double, four sums by class mod 4 over the groups of four, then the last C mod 4.
 * x[y] is the row's target logit, y = ys[p] (checked; y < 0: none, and the value unused), read
 * in the same pass, while the row is in cache. `exps` (contiguous, rows of C) gets each exp summed.
 */
function rowStats(x: CpuView, r: Rows, ys: Int32Array, exps?: CpuView): { a: Float64Array; free(): void } {
  const { C, step, rows } = r;
  const w = rows.length > 0 ? wasmLoss(x, exps) : undefined;
  const out = doubles(3 * rows.length, !!w);
  if (w) {
    for (let p = 0; p < rows.length; p++) out.a[3 * p + 2] = ys[p]!; // the pass replaces it by x[y]
    rowPass(0, x, rows.length, C, w, wasmAddress(out.a), exps ? wasmAddress(exps.handle, exps.offset) : 0);
    return out;
  }
  const a = x.handle;
  const e = exps?.handle;
  const e0 = exps?.offset ?? 0;
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
      for (; c < C4; c++, i += step) {
        const v = expF32(a[i]!, m, 0, false);
        lane[c & 3]! += v;
        if (e) e[e0 + p * C + c] = v;
      }
      for (; c < C; c++, i += step) {
        const v = expF32(a[i]!, m, 0, false);
        tail += v;
        if (e) e[e0 + p * C + c] = v;
      }
      s = lane[0]! + lane[1]! + (lane[2]! + lane[3]!) + tail;
    } else {
      for (let c = 0, i = rows[p]!; c < C; c++, i += step) {
        const v = Math.exp(a[i]! - m);
        s += v;
        if (e) e[e0 + p * C + c] = v;
      }
    }
    out.a[3 * p] = m;
    out.a[3 * p + 1] = s;
    out.a[3 * p + 2] = ys[p]! < 0 ? -1 : a[rows[p]! + ys[p]! * step]!;
  }
  return out;
}

/**
 * o = E·k - b over each position's row, then o[y] -= t at its target (in double, as the row pass
 * does, while the row is in cache); (shift, k, b, skip, y, t) per position in `params`; skipped
 * rows are zero-filled. E is exp(x - shift), or with `exps` (rows of C) the saved exp(x - m), k
 * then carrying the 1/s. For float32, in float32 as wasm/loss.wat's ce_grad computes
 * it: the shift as a pair of floats, k and b rounded to float. `w`: the WebAssembly kernels, when
 * x (or exps) and o can take them.
 */
function affineRows(w: WasmLoss | undefined, x: CpuView, r: Rows, o: CpuView, outRows: Rows, params: Float64Array, exps?: CpuView): void {
  if (w && wasmAddress(params) >= 0) {
    rowPass(exps ? 2 : 1, exps ?? x, r.rows.length, r.C, w, wasmAddress(params), wasmAddress(o.handle, o.offset));
    return;
  }
  const { C, step, rows } = r;
  const a = x.handle, oh = o.handle, outStep = outRows.step;
  const single = !(oh instanceof Float64Array);
  const e = exps?.handle, e0 = exps?.offset ?? 0;
  for (let p = 0; p < rows.length; p++) {
    const j0 = outRows.rows[p]!;
    if (params[6 * p + 3]) {
      for (let c = 0, j = j0; c < C; c++, j += outStep) oh[j] = 0;
      continue;
    }
    const shift = params[6 * p]!, k = params[6 * p + 1]!, b = params[6 * p + 2]!;
    if (e) {
      const ep = e0 + p * C;
      if (single) {
        const k32 = f32(k), b32 = f32(b);
        for (let c = 0, j = j0; c < C; c++, j += outStep) oh[j] = f32(e[ep + c]! * k32) - b32;
      } else {
        for (let c = 0, j = j0; c < C; c++, j += outStep) oh[j] = e[ep + c]! * k - b;
      }
    } else if (single) {
      const mh = f32(shift), ml = f32(shift - mh), k32 = f32(k), b32 = f32(b);
      for (let c = 0, i = rows[p]!, j = j0; c < C; c++, i += step, j += outStep) oh[j] = f32(expF32(a[i]!, mh, ml) * k32) - b32;
    } else {
      for (let c = 0, i = rows[p]!, j = j0; c < C; c++, i += step, j += outStep) oh[j] = Math.exp(a[i]! - shift) * k - b;
    }
    oh[j0 + params[6 * p + 4]! * outStep]! -= params[6 * p + 5]!;
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

/** Each position's class, -1 where ignored; an error names the first out of range. */
function checkedTargets(t: CpuView, C: number, ignoreIndex: number, attrs: ClassLossAttrs): Int32Array {
  const targets = offsetsOf(t);
  const ys = new Int32Array(targets.length);
  for (let p = 0; p < ys.length; p++) {
    const y = t.handle[targets[p]!]!;
    if (y === ignoreIndex) ys[p] = -1;
    else if (y < 0 || y >= C) throw classTargetError('crossEntropy', y, C, p, t.shape, ignoreIndex, attrs.report);
    else ys[p] = y;
  }
  return ys;
}

const crossEntropyForward: CpuKernel<ClassLossAttrs> = ([x, t, w], [out, stats, total, exps], attrs) => {
  const r = classRows(x!);
  const { C, step } = r;
  const { reduction, ignoreIndex, labelSmoothing: eps } = attrs;
  const a = x!.handle;
  const st = stats!.handle;
  const wv = w ? w.handle : undefined;
  const wOff = w ? w.offset : 0;
  const ws = w ? w.strides[0]! : 0;
  const sumW = weightSum(w, C);
  const per = reduction === 'none' ? out!.handle : undefined;
  const ys = checkedTargets(t!, C, ignoreIndex, attrs);
  const ms = rowStats(x!, r, ys, exps);
  try {
    let acc = 0;
    let W = 0;
    for (let p = 0; p < r.rows.length; p++) {
      const y = ys[p]!;
      if (y < 0) {
        if (per) per[p] = 0;
        st[2 * p] = 0;
        st[2 * p + 1] = 0;
        continue;
      }
      const base = r.rows[p]!;
      const m = ms.a[3 * p]!;
      let sx = 0; // Σ w[c]·(x[c] - ref), for the smoothing term; ref removes a common offset
      const ref = eps > 0 ? a[base]! : 0;
      if (eps > 0) for (let c = 0, i = base; c < C; c++, i += step) sx += (wv ? wv[wOff + c * ws]! : 1) * (a[i]! - ref);
      const logS = Math.log(ms.a[3 * p + 1]!);
      const wy = wv ? wv[wOff + y * ws]! : 1;
      let l = wy * (m - ms.a[3 * p + 2]! + logS);
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
// scale = upstream / totalWeight ('mean'), upstream ('sum') or upstream[p] ('none'); softmax the
// saved exps times 1/s (exp(-log s) in double, into k), or recomputed from the saved max and
// log-sum. Ignored positions get 0.
// Inputs [input, target, stats, totalWeight, upstream, weight?, exps?]; output [gradInput]
// (contiguous; every element written).
const crossEntropyBackward: CpuKernel<ClassLossAttrs> = (inputs, [gx], attrs) => {
  const [x, t, stats, total, g] = inputs;
  const w = inputs.length > (attrs.saveExps ? 6 : 5) ? inputs[5] : undefined;
  const exps = attrs.saveExps ? inputs.at(-1) : undefined;
  const r = classRows(x!);
  const outRows = classRows(gx!);
  const { C } = r;
  const P = r.rows.length;
  const { reduction, ignoreIndex, labelSmoothing: eps } = attrs;
  const st = stats!.handle;
  const o = gx!.handle;
  const up = g!.shape.length === 0 ? undefined : offsetsOf(g!);
  const W = reduction === 'mean' ? total!.handle[total!.offset]! : 1;
  const wv = w ? w.handle : undefined;
  const wOff = w ? w.offset : 0;
  const ws = w ? w.strides[0]! : 0;
  const sumW = weightSum(w, C);
  const u = eps / C;
  const kernels = P > 0 ? wasmLoss(exps ?? x!, gx!) : undefined;
  const ys = checkedTargets(t!, C, ignoreIndex, attrs);
  const params = doubles(6 * P, !!kernels);
  try {
    const scales = new Float64Array(P);
    for (let p = 0; p < P; p++) {
      const y = ys[p]!;
      const q = params.a;
      q[6 * p + 3] = y < 0 ? 1 : 0; // skipped: a row of zeros
      if (y < 0) continue;
      const scale = (scales[p] = g!.handle[up ? up[p]! : g!.offset]! / W);
      const wy = wv ? wv[wOff + y * ws]! : 1;
      q[6 * p] = st[2 * p]! + st[2 * p + 1]!;
      q[6 * p + 1] = ((1 - eps) * wy + u * sumW) * scale * (exps ? Math.exp(-st[2 * p + 1]!) : 1);
      q[6 * p + 2] = wv ? 0 : u * scale;
      q[6 * p + 4] = y;
      q[6 * p + 5] = (1 - eps) * wy * scale; // the target's term
    }
    affineRows(kernels, x!, r, gx!, outRows, params.a, exps);
    // with class weights and smoothing, each class's own term (after the target's, taken in the pass)
    if (wv && u > 0) {
      const outStep = outRows.step;
      for (let p = 0; p < P; p++) {
        if (ys[p]! < 0) continue;
        const ob = outRows.rows[p]!;
        for (let c = 0; c < C; c++) o[ob + c * outStep]! -= u * wv[wOff + c * ws]! * scales[p]!;
      }
    }
  } finally {
    params.free();
  }
};

registerKernel('crossEntropy', 'cpu', fills(crossEntropyForward));
registerKernel('crossEntropyBackward', 'cpu', fills(crossEntropyBackward));

// ---- issue 16 (optim): linearCrossEntropy, the fused linear + cross-entropy for large vocabularies
// (definition and gradient: @tapegrad/nn's losses/linear-cross-entropy.ts). The (N, V) logits
// never exist whole: rows are taken `chunk` at a time into a workspace, where the matrix product
// writes them (h·Wᵀ, then + b) and the cross-entropy kernels above run on them as they would on
// a logits tensor: the forward's row statistics and losses, then the backward's pass, which
// turns the chunk into its gradient in place. From that gradient G (chunk × V) come the chunk's
// rows of dh = G·W, and its terms of dW = Gᵀ·h and db = Σ_rows G, added to the totals.
// linearCrossEntropyForward computes the gradients too when asked (with upstream 1, for 'mean'
// and 'sum': the backward then only scales them), so training does three products, as the
// unfused pair does; linearCrossEntropyBackward recomputes the logits (for 'none', whose
// upstream gradient differs per row).

const view = (handle: TypedArray, shape: number[], dtype: CpuView['dtype']): CpuView => {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((x, y) => x * y, 1));
  return { handle, shape, strides, offset: 0, dtype };
};
const scalar = (v: number): CpuView => view(Float64Array.of(v), [], 'float64');

/** Inputs after [h, W, target] (and the backward's [stats, total, upstream]): the bias, then the class weight, where the attrs say. */
function optionalInputs(rest: readonly CpuView[], a: LinearCrossEntropyAttrs): { bias?: CpuView; weight?: CpuView } {
  return { bias: a.bias ? rest[0] : undefined, weight: a.weight ? rest[a.bias ? 1 : 0] : undefined };
}

/**
 * The targets as one flat array, each checked (so a chunk's kernels never meet a bad one, and
 * the error names the target's position in the whole batch), and Σ w[y] over those not ignored.
 */
function flatTargets(t: CpuView, V: number, weight: CpuView | undefined, ignoreIndex: number): { y: Int32Array; total: number } {
  const at = offsetsOf(t);
  const y = new Int32Array(at.length);
  let total = 0;
  for (let p = 0; p < at.length; p++) {
    const v = (y[p] = t.handle[at[p]!]!);
    if (v === ignoreIndex) continue;
    if (v < 0 || v >= V) throw classTargetError('linearCrossEntropy', v, V, p, t.shape, ignoreIndex);
    total += weight ? weight.handle[weight.offset + v * weight.strides[0]!]! : 1;
  }
  return { y, total };
}

/** One pass over the rows in chunks: each chunk's logits h[r0 : r0 + rows]·Wᵀ + b are computed into the workspace for `fn`. */
function eachChunk(h: CpuView, W: CpuView, bias: CpuView | undefined, ws: CpuView, chunk: number, fn: (r0: number, rows: number, logits: CpuView) => void): void {
  const [N, D] = h.shape as [number, number];
  const V = W.shape[0]!;
  for (let r0 = 0; r0 < N; r0 += chunk) {
    const rows = Math.min(chunk, N - r0);
    const logits = view(ws.handle.subarray(0, rows * V), [rows, V], ws.dtype);
    const hRows = { data: h.handle, offset: h.offset + r0 * h.strides[0]!, rs: h.strides[0]!, cs: h.strides[1]! };
    matmulInto(hRows, { data: W.handle, offset: W.offset, rs: W.strides[1]!, cs: W.strides[0]! }, logits.handle, 0, rows, V, D);
    if (bias) (getKernel('add', 'cpu') as CpuKernel)([logits, bias], [logits], {}, 'add');
    fn(r0, rows, logits);
  }
}

/** Where a pass's gradients go: dh row by row, dW and db summed over the chunks. */
class GradientSums {
  private readonly dh?: CpuView;
  private readonly dW?: CpuView;
  private readonly db?: CpuView;
  private readonly dbSum?: Float64Array;
  private chunks = 0;
  constructor(private readonly h: CpuView, private readonly W: CpuView, private readonly ws: CpuView, outputs: readonly CpuView[], private readonly a: LinearCrossEntropyAttrs) {
    const it = outputs[Symbol.iterator]();
    [this.dh, this.dW, this.db] = a.grads.map((g) => (g ? it.next().value : undefined));
    if (this.db) this.dbSum = new Float64Array(this.db.shape[0]!);
  }
  /** The chunk's gradient G (rows × V, in the workspace) turned into its share of dh, dW and db. */
  add(G: CpuView, r0: number, rows: number): void {
    const { h, W, ws } = this;
    const [V, D] = W.shape as [number, number];
    const parts = linearCrossEntropyWorkspace(h.shape[0]!, D, V, this.a);
    const hRows = { data: h.handle, offset: h.offset + r0 * h.strides[0]!, rs: h.strides[0]!, cs: h.strides[1]! };
    if (this.dh) matmulInto({ data: G.handle, offset: 0, rs: V, cs: 1 }, { data: W.handle, offset: W.offset, rs: W.strides[0]!, cs: W.strides[1]! }, this.dh.handle, r0 * D, rows, D, V);
    if (this.dW) {
      // the first chunk writes dW; later ones write their term beside the logits and add it
      const into = this.chunks === 0 ? this.dW.handle : ws.handle.subarray(parts.weightGrad, parts.weightGrad + V * D);
      matmulInto({ data: G.handle, offset: 0, rs: 1, cs: V }, hRows, into, 0, V, D, rows);
      if (this.chunks > 0) (getKernel('add', 'cpu') as CpuKernel)([this.dW, view(into, [V, D], ws.dtype)], [this.dW], {}, 'add');
    }
    if (this.db) {
      const col = view(ws.handle.subarray(parts.biasGrad, parts.biasGrad + V), [V], ws.dtype);
      (getKernel('sum', 'cpu') as CpuKernel)([G], [col], { dims: [0], keepdim: false }, 'sum');
      for (let v = 0; v < V; v++) this.dbSum![v] += col.handle[v]!;
    }
    this.chunks++;
  }
  finish(): void {
    if (this.db) this.db.handle.set(this.dbSum!);
  }
}

/**
 * The chunk's logits → its gradient, in place: crossEntropyBackward's pass with the given total
 * weight and upstream, then zeros for ignored rows (the pass leaves them as they are).
 */
function chunkGradient(logits: CpuView, targets: CpuView, stats: CpuView, total: CpuView, upstream: CpuView, weight: CpuView | undefined, a: LinearCrossEntropyAttrs): void {
  crossEntropyBackward([logits, targets, stats, total, upstream, ...(weight ? [weight] : [])], [logits], a, 'crossEntropyBackward');
  const V = logits.shape[1]!;
  for (let p = 0; p < targets.shape[0]!; p++) if (targets.handle[p] === a.ignoreIndex) logits.handle.fill(0, p * V, (p + 1) * V);
}

// inputs [h (N, D), W (V, D), target (N elements), bias?, weight?]; outputs [loss, stats (N, 2),
// totalWeight, workspace, dh?, dW?, db?] (the gradients asked for in attrs.grads)
const linearCrossEntropyForward: CpuKernel<LinearCrossEntropyAttrs> = ([h, W, t, ...rest], [loss, stats, total, ws, ...grads], a) => {
  const { bias, weight } = optionalInputs(rest, a);
  const V = W!.shape[0]!;
  const { y, total: sumW } = flatTargets(t!, V, weight, a.ignoreIndex);
  const none = a.reduction === 'none';
  const perChunk = { ...a, reduction: none ? 'none' : 'sum' } as const;
  const sums = a.grads.some(Boolean) ? new GradientSums(h!, W!, ws!, grads, a) : undefined;
  const [totalWeight, one] = [scalar(sumW), scalar(1)];
  let acc = 0;
  eachChunk(h!, W!, bias, ws!, a.chunk, (r0, rows, logits) => {
    const targets = view(y.subarray(r0, r0 + rows), [rows], 'int32');
    const st = view(stats!.handle.subarray(2 * r0, 2 * (r0 + rows)), [rows, 2], stats!.dtype);
    const part = none ? view(loss!.handle.subarray(r0, r0 + rows), [rows], loss!.dtype) : scalar(0);
    crossEntropyForward([logits, targets, ...(weight ? [weight] : [])], [part, st, scalar(0)], perChunk, 'crossEntropy');
    if (!none) acc += part.handle[0]!;
    if (sums) {
      chunkGradient(logits, targets, st, totalWeight, one, weight, a);
      sums.add(logits, r0, rows);
    }
  });
  sums?.finish();
  total!.handle[0] = sumW;
  // all targets ignored (or an empty batch) under 'mean' is 0/0 = NaN, as in PyTorch
  if (!none) loss!.handle[0] = a.reduction === 'mean' ? acc / sumW : acc;
};

// inputs [h, W, target, stats, totalWeight, upstream, bias?, weight?]; outputs [workspace, dh?, dW?, db?]
const linearCrossEntropyBackward: CpuKernel<LinearCrossEntropyAttrs> = ([h, W, t, stats, total, g, ...rest], [ws, ...grads], a) => {
  const { bias, weight } = optionalInputs(rest, a);
  const { y } = flatTargets(t!, W!.shape[0]!, weight, a.ignoreIndex);
  const st = Float64Array.from(offsetsOf(stats!), (i) => stats!.handle[i]!);
  const up = g!.shape.length ? Float64Array.from(offsetsOf(g!), (i) => g!.handle[i]!) : undefined;
  const totalWeight = scalar(total!.handle[total!.offset]!);
  const sums = new GradientSums(h!, W!, ws!, grads, a);
  eachChunk(h!, W!, bias, ws!, a.chunk, (r0, rows, logits) => {
    const targets = view(y.subarray(r0, r0 + rows), [rows], 'int32');
    const upstream = up ? view(up.subarray(r0, r0 + rows), [rows], 'float64') : scalar(g!.handle[g!.offset]!);
    chunkGradient(logits, targets, view(st.subarray(2 * r0, 2 * (r0 + rows)), [rows, 2], 'float64'), totalWeight, upstream, weight, a);
    sums.add(logits, r0, rows);
  });
  sums.finish();
};

registerKernel('linearCrossEntropyForward', 'cpu', linearCrossEntropyForward);
registerKernel('linearCrossEntropyBackward', 'cpu', linearCrossEntropyBackward);
