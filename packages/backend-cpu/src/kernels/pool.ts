import { poisonArray, poisonMode, registerKernel, type Shape, type TypedArray, type Pool2dAttrs } from '@tapegrad/tensor';
import { dense, type CpuKernel } from '../strided.js';
import { wasmAddress, wasmAlloc, wasmKernelsFor } from '../wasm/runtime.js';
import { pool as poolModules } from '../wasm/kernels.generated.js';

// maxPool2d / avgPool2d and their backward kernels over [N, C, H, W] (op definitions and
// gradient rules: @tapegrad/nn's ops/pool.ts). Every (n, c) plane is pooled independently.
// Max-pooling over 2x2 windows at stride 2 and its backward run as wasm/pool.wat's kernels where
// the float32 arrays live in the WebAssembly memory, with the same results.

interface PoolExports {
  max_pool_2x2(x: number, o: number, ix: number, planes: number, h: number, w: number, oh: number, ow: number): void;
  max_pool_backward(g: number, ix: number, dx: number, planes: number, hw: number, ohw: number): void;
}
/** wasm/pool.wat's kernels when every array lives in the WebAssembly memory, else undefined. */
const wasmPool = (...arrays: TypedArray[]) => wasmKernelsFor<PoolExports>(poolModules, arrays);
// int32 tensors (the indices) live on the JavaScript heap: the kernels read and write them
// through this scratch array in the memory, kept between calls (kernels run synchronously)
let indexScratch: Int32Array | undefined;
function wasmIndices(n: number): Int32Array | undefined {
  if (!indexScratch || indexScratch.length < n || wasmAddress(indexScratch) < 0) {
    const f = wasmAlloc('float32', Math.max(n, 1 << 14));
    if (!f) return undefined;
    indexScratch = new Int32Array(f.buffer, f.byteOffset, f.length);
  }
  const at = indexScratch.subarray(0, n);
  if (poisonMode()) poisonArray(at); // what a kernel reads before writing it, or from an earlier call, shows
  return at;
}


// outputs: the maxima and, as int32, each one's flat index h·W + w in its input plane (as torch).
// NaN propagates the way torch's CPU kernel takes it (`v > max || isnan(v)`): the window's last
// NaN in scan order is the maximum.
registerKernel('maxPool2d', 'cpu', (([xv], [out, idx], a) => {
  const x = dense(xv!);
  const [n, c, h, w] = xv!.shape as [number, number, number, number];
  const [oh, ow] = out!.shape.slice(2) as [number, number];
  const [kh, kw] = a.kernelSize;
  const [sh, sw] = a.stride;
  const [ph, pw] = a.padding;
  const [dh, dw] = a.dilation;
  const o = out!.handle;
  const ix = idx!.handle;
  // (ceil mode adds windows past the edge, which only the general loop clips)
  if (kh === 2 && kw === 2 && sh === 2 && sw === 2 && ph === 0 && pw === 0 && dh === 1 && dw === 1 && 2 * oh <= h && 2 * ow <= w) {
    const k = wasmPool(x, o);
    const at = k && wasmIndices(n * c * oh * ow);
    if (!k || !at) return maxPool2x2(x, o, ix, n * c, h, w, oh, ow);
    k.max_pool_2x2(wasmAddress(x), wasmAddress(o), wasmAddress(at), n * c, h, w, oh, ow);
    ix.set(at);
    return;
  }
  let k = 0;
  for (let p = 0; p < n * c; p++) {
    const base = p * h * w;
    for (let y = 0; y < oh; y++) {
      for (let xo = 0; xo < ow; xo++, k++) {
        let best = -Infinity;
        let at = -1;
        for (let i = 0; i < kh; i++) {
          const iy = y * sh - ph + i * dh;
          if (iy < 0 || iy >= h) continue;
          for (let j = 0; j < kw; j++) {
            const jx = xo * sw - pw + j * dw;
            if (jx < 0 || jx >= w) continue;
            const v = x[base + iy * w + jx]!;
            if (v > best || v !== v || at < 0) {
              best = v;
              at = iy * w + jx;
            }
          }
        }
        o[k] = best;
        ix[k] = at;
      }
    }
  }
}) as CpuKernel<Pool2dAttrs>);

/**
 * The common case (2x2 windows, stride 2, no padding): four loads and three comparisons per
 * output, and one sum that is NaN exactly when a NaN (or +inf with -inf) is in the window,
 * which then takes the general rule.
 */
function maxPool2x2(x: ArrayLike<number>, o: TypedArray, ix: TypedArray, planes: number, h: number, w: number, oh: number, ow: number): void {
  let k = 0;
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < oh; y++) {
      const r = 2 * y * w; // the window's top row in its plane
      const top = p * h * w + r;
      const bottom = top + w;
      for (let i = 0; i < 2 * ow; i += 2, k++) {
        const v0 = x[top + i]!, v1 = x[top + i + 1]!, v2 = x[bottom + i]!, v3 = x[bottom + i + 1]!;
        let best = v0, at = 0;
        const sum = v0 + v1 + v2 + v3;
        if (sum === sum) {
          if (v1 > best) (best = v1), (at = 1);
          if (v2 > best) (best = v2), (at = w);
          if (v3 > best) (best = v3), (at = w + 1);
        } else {
          if (v1 > best || v1 !== v1) (best = v1), (at = 1);
          if (v2 > best || v2 !== v2) (best = v2), (at = w);
          if (v3 > best || v3 !== v3) (best = v3), (at = w + 1);
        }
        o[k] = best;
        ix[k] = r + i + at;
      }
    }
  }
}

// inputs: grad of the output, the indices maxPool2d returned; each gradient goes to its argmax
registerKernel('maxPool2dBackward', 'cpu', (([gv, iv], [out]) => {
  const g = dense(gv!);
  const ix = dense(iv!);
  const [h, w] = out!.shape.slice(2) as [number, number];
  const [oh, ow] = gv!.shape.slice(2) as [number, number];
  const planes = out!.shape[0]! * out!.shape[1]!;
  const dx = out!.handle;
  const k = wasmPool(g, dx);
  const at = k && wasmIndices(planes * oh * ow);
  if (k && at) {
    at.set(ix.subarray(0, planes * oh * ow));
    k.max_pool_backward(wasmAddress(g), wasmAddress(at), wasmAddress(dx), planes, h * w, oh * ow);
    return;
  }
  for (let p = 0; p < planes; p++) {
    const ob = p * oh * ow;
    const ib = p * h * w;
    for (let k = 0; k < oh * ow; k++) dx[ib + ix[ob + k]!] += g[ob + k]!;
  }
}) as CpuKernel<Pool2dAttrs>);

/** avgPool2d's window of output (y, x): clipped bounds and its divisor, as PyTorch computes them. */
function avgWindows(a: Pool2dAttrs, h: number, w: number, oh: number, ow: number) {
  const [kh, kw] = a.kernelSize;
  const [sh, sw] = a.stride;
  const [ph, pw] = a.padding;
  const win = new Int32Array(oh * ow * 4);
  const div = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let y0 = y * sh - ph, x0 = x * sw - pw;
      let y1 = Math.min(y0 + kh, h + ph), x1 = Math.min(x0 + kw, w + pw);
      const padded = (y1 - y0) * (x1 - x0);
      y0 = Math.max(y0, 0);
      x0 = Math.max(x0, 0);
      y1 = Math.min(y1, h);
      x1 = Math.min(x1, w);
      const k = y * ow + x;
      win.set([y0, y1, x0, x1], k * 4);
      div[k] = a.divisorOverride ?? (a.countIncludePad ? padded : (y1 - y0) * (x1 - x0));
    }
  }
  return { win, div };
}

registerKernel('avgPool2d', 'cpu', (([xv], [out], a) => {
  const x = dense(xv!);
  const [n, c, h, w] = xv!.shape as [number, number, number, number];
  const [oh, ow] = out!.shape.slice(2) as [number, number];
  const { win, div } = avgWindows(a, h, w, oh, ow);
  const o = out!.handle;
  for (let p = 0; p < n * c; p++) {
    const base = p * h * w;
    for (let k = 0; k < oh * ow; k++) {
      const [y0, y1, x0, x1] = [win[k * 4]!, win[k * 4 + 1]!, win[k * 4 + 2]!, win[k * 4 + 3]!];
      let s = 0;
      for (let iy = y0; iy < y1; iy++) for (let jx = x0; jx < x1; jx++) s += x[base + iy * w + jx]!;
      o[p * oh * ow + k] = s / div[k]!;
    }
  }
}) as CpuKernel<Pool2dAttrs>);

registerKernel('avgPool2dBackward', 'cpu', (([gv], [out], a) => {
  const g = dense(gv!);
  const [n, c, h, w] = out!.shape as [number, number, number, number];
  const [oh, ow] = gv!.shape.slice(2) as [number, number];
  const { win, div } = avgWindows(a, h, w, oh, ow);
  const dx = out!.handle;
  for (let p = 0; p < n * c; p++) {
    const base = p * h * w;
    for (let k = 0; k < oh * ow; k++) {
      const [y0, y1, x0, x1] = [win[k * 4]!, win[k * 4 + 1]!, win[k * 4 + 2]!, win[k * 4 + 3]!];
      const v = g[p * oh * ow + k]! / div[k]!;
      for (let iy = y0; iy < y1; iy++) for (let jx = x0; jx < x1; jx++) dx[base + iy * w + jx] += v;
    }
  }
}) as CpuKernel<Pool2dAttrs>);

export type { Pool2dAttrs };
