import { fastExp, registerKernel, type TypedArray } from '@tapegrad/tensor';
import type { ClassLossAttrs } from '../class-targets.js';
import { classRows, targetOutOfRange, upstreamOffsets, viewOffsets, type View } from './rows.js';

// The fused cross-entropy for class-index targets, over typed arrays. For each target position
// (one row of C logits):
//   loss = (1-ε)·w[y]·(lse - x[y]) + (ε/C)·Σ_c w[c]·(lse - x[c]),   lse = log Σ_c exp(x[c])
// in two passes over the row, which stays in cache: the max m, then Σ exp(x - m). Nothing of size
// N·C is written: the forward saves, per position, m and log Σ exp(x - m) (lse split in two so
// that x - m - log s keeps full precision in float32 even for logits of ±1e4), and the total
// weight of the non-ignored targets.
//
// exp is what bounds these kernels in plain TypeScript: float32 tensors use fastExp (accurate to
// float32, ~3x faster than Math.exp); float64 tensors, whose results need more, keep Math.exp.
// Inputs [input, target, weight?]; outputs [loss, stats (positions x 2), totalWeight].

// The row helpers count classes rather than compare offsets: an expanded input has step 0.

/** The largest of C values from a[i] by `step`. */
function rowMax(a: TypedArray, i: number, step: number, C: number): number {
  // -MAX_VALUE, not -Infinity, as the start: an all -inf row then gives lse = -inf (loss NaN, as
  // PyTorch) instead of exp(-inf - -inf) = NaN inside the sum.
  let m = -Number.MAX_VALUE;
  for (let c = 0; c < C; c++, i += step) if (a[i]! > m) m = a[i]!;
  return m;
}

/** Σ exp(a[i] - m) over C values from a[i] by `step`. */
function sumExp(a: TypedArray, i: number, step: number, C: number, m: number): number {
  let s = 0;
  if (a instanceof Float64Array) for (let c = 0; c < C; c++, i += step) s += Math.exp(a[i]! - m);
  else for (let c = 0; c < C; c++, i += step) s += fastExp(a[i]! - m);
  return s;
}

/** o[j] = exp(a[i] - shift)·k - b for C classes, from a[i] by `step` and o[j] by `outStep`. */
function expAffine(a: TypedArray, i: number, step: number, o: TypedArray, j: number, outStep: number, C: number, shift: number, k: number, b: number): void {
  if (o instanceof Float64Array) for (let c = 0; c < C; c++, i += step, j += outStep) o[j] = Math.exp(a[i]! - shift) * k - b;
  else for (let c = 0; c < C; c++, i += step, j += outStep) o[j] = fastExp(a[i]! - shift) * k - b;
}

/** Σ_c w[c], the smoothing term's total weight (C without a weight). */
function weightSum(w: View | undefined, C: number): number {
  if (!w) return C;
  let s = 0;
  for (let c = 0; c < C; c++) s += w.handle[w.offset + c * w.strides[0]!]!;
  return s;
}

function crossEntropyForward([x, t, w]: readonly View[], [out, stats, total]: readonly View[], attrs: ClassLossAttrs): void {
  const { C, step, rows } = classRows(x!);
  const targets = viewOffsets(t!);
  const { reduction, ignoreIndex, labelSmoothing: eps } = attrs;
  const a = x!.handle;
  const ty = t!.handle;
  const st = stats!.handle;
  const wv = w ? w.handle : undefined;
  const wOff = w ? w.offset : 0;
  const ws = w ? w.strides[0]! : 0;
  const sumW = weightSum(w, C);
  const per = reduction === 'none' ? out!.handle : undefined;
  let acc = 0;
  let W = 0;
  for (let p = 0; p < rows.length; p++) {
    const y = ty[targets[p]!]!;
    if (y === ignoreIndex) {
      if (per) per[p] = 0;
      st[2 * p] = 0;
      st[2 * p + 1] = 0;
      continue;
    }
    if (y < 0 || y >= C) targetOutOfRange('crossEntropy', y, C, p, t!.shape, ignoreIndex);
    const base = rows[p]!;
    const m = rowMax(a, base, step, C);
    const s = sumExp(a, base, step, C, m);
    let sx = 0; // Σ w[c]·(x[c] - ref), for the smoothing term; ref removes a common offset
    const ref = a[base]!;
    if (eps > 0) for (let c = 0, i = base; c < C; c++, i += step) sx += (wv ? wv[wOff + c * ws]! : 1) * (a[i]! - ref);
    const logS = Math.log(s);
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
}

// d loss / d x[c] = (softmax[c]·((1-ε)·w[y] + (ε/C)·Σw) - (1-ε)·w[y]·[c = y] - (ε/C)·w[c]) · scale,
// scale = upstream / totalWeight ('mean'), upstream ('sum') or upstream[p] ('none'); softmax
// recomputed from the saved max and log-sum. Ignored positions get 0.
// Inputs [input, target, stats, totalWeight, upstream, weight?]; output [gradInput] (contiguous).
function crossEntropyBackward([x, t, stats, total, g, w]: readonly View[], [gx]: readonly View[], attrs: ClassLossAttrs): void {
  const { C, step, rows } = classRows(x!);
  const { rows: outRows, step: outStep } = classRows(gx!);
  const targets = viewOffsets(t!);
  const { reduction, ignoreIndex, labelSmoothing: eps } = attrs;
  const a = x!.handle;
  const ty = t!.handle;
  const st = stats!.handle;
  const o = gx!.handle;
  const up = upstreamOffsets(g!, rows.length);
  const W = reduction === 'mean' ? total!.handle[total!.offset]! : 1;
  const wv = w ? w.handle : undefined;
  const wOff = w ? w.offset : 0;
  const ws = w ? w.strides[0]! : 0;
  const sumW = weightSum(w, C);
  const u = eps / C;
  for (let p = 0; p < rows.length; p++) {
    const y = ty[targets[p]!]!;
    if (y === ignoreIndex) continue; // the output starts zero-filled
    if (y < 0 || y >= C) targetOutOfRange('crossEntropy', y, C, p, t!.shape, ignoreIndex);
    const scale = g!.handle[up[p]!]! / W;
    const shift = st[2 * p]! + st[2 * p + 1]!;
    const wy = wv ? wv[wOff + y * ws]! : 1;
    const k = ((1 - eps) * wy + u * sumW) * scale;
    const base = rows[p]!;
    const ob = outRows[p]!;
    expAffine(a, base, step, o, ob, outStep, C, shift, k, wv ? 0 : u * scale);
    if (wv) for (let c = 0; c < C; c++) o[ob + c * outStep]! -= u * wv[wOff + c * ws]! * scale;
    o[ob + y * outStep]! -= (1 - eps) * wy * scale;
  }
}

registerKernel('crossEntropy', 'cpu', crossEntropyForward);
registerKernel('crossEntropyBackward', 'cpu', crossEntropyBackward);
