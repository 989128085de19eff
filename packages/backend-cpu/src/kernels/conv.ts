import { allocArray, registerKernel, type Shape, type TypedArray, type Conv2dAttrs } from '@tapegrad/tensor';
import { dense, type CpuKernel } from '../strided.js';
import { gemm } from './matmul.js';
import { wasmGemm } from '../wasm/runtime.js';

// conv2d and its two backward kernels, all as im2col + gemm (the op definitions and the
// gradient rule are in @tapegrad/nn's ops/conv.ts; ops are matched by name). Per sample and
// group, the receptive fields are unrolled into a K×L matrix (K = Cin/groups·kh·kw, L = OH·OW):
//   forward       out[Cout_g × L]  = W_g[Cout_g × K] · col[K × L]
//   weight grad   dW_g[Cout_g × K] += G[Cout_g × L] · colᵀ[L × K]
//   input grad    dcol[K × L]      = W_gᵀ[K × Cout_g] · G[Cout_g × L], then col2im adds it back
// so every multiply is one gemm call, and a faster gemm speeds up convolution too.


interface Geometry {
  cin: number; h: number; w: number; // one group's input channels and the input's size
  kh: number; kw: number;
  oh: number; ow: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
}

/**
 * Unroll one sample-group's receptive fields: element (row, l) of the K×L matrix goes to
 * dst[row·rs + l·cs], so cs = 1 gives col and rs = 1, cs = K gives colᵀ. Padding reads zero.
 */
function im2col(x: TypedArray, xOff: number, g: Geometry, dst: TypedArray, rs: number, cs: number): void {
  const { cin, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw } = g;
  for (let c = 0; c < cin; c++) {
    const plane = xOff + c * h * w;
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const row = (c * kh + ki) * kw + kj;
        // the output columns whose input column ix = xo·sw − pw + kj·dw falls inside [0, w),
        // so the copy loop needs no bounds checks
        const shift = kj * dw - pw;
        const x0 = Math.min(ow, Math.max(0, Math.ceil(-shift / sw)));
        const x1 = Math.max(x0, Math.min(ow, Math.floor((w - 1 - shift) / sw) + 1));
        for (let y = 0; y < oh; y++) {
          const iy = y * sh - ph + ki * dh;
          const at = row * rs + y * ow * cs;
          if (iy < 0 || iy >= h) {
            for (let xo = 0; xo < ow; xo++) dst[at + xo * cs] = 0;
            continue;
          }
          const src = plane + iy * w + shift;
          for (let xo = 0; xo < x0; xo++) dst[at + xo * cs] = 0;
          for (let xo = x0; xo < x1; xo++) dst[at + xo * cs] = x[src + xo * sw]!;
          for (let xo = x1; xo < ow; xo++) dst[at + xo * cs] = 0;
        }
      }
    }
  }
}

/** The inverse scatter of im2col (cs = 1 layout): dx[plane] += every column entry that read it. */
function col2im(col: TypedArray, g: Geometry, dx: TypedArray, dxOff: number): void {
  const { cin, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw } = g;
  const L = oh * ow;
  for (let c = 0; c < cin; c++) {
    const plane = dxOff + c * h * w;
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const rowOff = ((c * kh + ki) * kw + kj) * L;
        let l = 0;
        for (let y = 0; y < oh; y++) {
          const iy = y * sh - ph + ki * dh;
          if (iy < 0 || iy >= h) {
            l += ow;
            continue;
          }
          const rowBase = plane + iy * w;
          for (let xo = 0; xo < ow; xo++, l++) {
            const ix = xo * sw - pw + kj * dw;
            if (ix >= 0 && ix < w) dx[rowBase + ix] += col[rowOff + l]!;
          }
        }
      }
    }
  }
}

function geometry(xShape: Shape, wShape: Shape, outShape: Shape, a: Conv2dAttrs): Geometry {
  return {
    cin: xShape[1]! / a.groups, h: xShape[2]!, w: xShape[3]!,
    kh: wShape[2]!, kw: wShape[3]!,
    oh: outShape[2]!, ow: outShape[3]!,
    sh: a.stride[0], sw: a.stride[1], ph: a.padding[0], pw: a.padding[1], dh: a.dilation[0], dw: a.dilation[1],
  };
}

/** Samples unrolled at once: enough to make each product batch large, bounded memory for big batches. */
const CHUNK = 32;

/**
 * c[cOff..] = a·b (overwriting) for each item, all m×n = (m×k)·(k×n) with a and b packed
 * row-major. The one place conv meets the matrix product.
 */
function products(items: readonly { a: TypedArray; b: TypedArray; cOff: number }[], c: TypedArray, m: number, n: number, k: number): void {
  // float32 goes to the WebAssembly SIMD kernel (threads for big batches), which stages a
  // repeated operand (the weight) once per call
  if (c instanceof Float32Array && items.every((it) => it.a instanceof Float32Array && it.b instanceof Float32Array)) {
    const batch = items.map(({ a, b, cOff }) => ({ a: { data: a as Float32Array, offset: 0, rs: k, cs: 1 }, b: { data: b as Float32Array, offset: 0, rs: n, cs: 1 }, cOff }));
    if (wasmGemm(batch, c, m, n, k)) return;
  }
  for (const { a, b, cOff } of items) {
    c.fill(0, cOff, cOff + m * n);
    gemm(a, b, c, cOff, m, n, k);
  }
}

// inputs: x [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw], optional bias [Cout]
registerKernel('conv2d', 'cpu', ((inputs, [out], attrs) => {
  const [xv, wv, bv] = inputs;
  const o = out!;
  const x = dense(xv!);
  const wt = dense(wv!);
  const [n, cout] = o.shape as [number, number];
  const g = geometry(xv!.shape, wv!.shape, o.shape, attrs);
  const groups = attrs.groups;
  const coutG = cout / groups;
  const K = g.cin * g.kh * g.kw;
  const L = g.oh * g.ow;
  const cols = allocArray(o.dtype, Math.min(n, CHUNK) * K * L);
  for (let gi = 0; gi < groups; gi++) {
    const w = wt.subarray(gi * coutG * K, (gi + 1) * coutG * K);
    for (let s0 = 0; s0 < n; s0 += CHUNK) {
      const items = [];
      for (let s = s0; s < Math.min(n, s0 + CHUNK); s++) {
        const col = cols.subarray((s - s0) * K * L, (s - s0 + 1) * K * L);
        im2col(x, (s * groups + gi) * g.cin * g.h * g.w, g, col, L, 1);
        items.push({ a: w, b: col, cOff: (s * cout + gi * coutG) * L });
      }
      products(items, o.handle, coutG, L, K);
    }
  }
  if (bv) {
    const b = dense(bv);
    for (let s = 0; s < n; s++) {
      for (let co = 0; co < cout; co++) {
        const bias = b[co]!;
        const base = (s * cout + co) * L;
        for (let l = 0; l < L; l++) o.handle[base + l] += bias;
      }
    }
  }
}) as CpuKernel<Conv2dAttrs>);

// inputs: grad of the output [N, Cout, OH, OW], weight; attrs.shape: the input's shape
registerKernel('conv2dInputGrad', 'cpu', (([gv, wv], [out], attrs) => {
  const dx = out!;
  const gr = dense(gv!);
  const wt = dense(wv!);
  const [n, cout] = gv!.shape as [number, number];
  const g = geometry(dx.shape, wv!.shape, gv!.shape, attrs);
  const groups = attrs.groups;
  const coutG = cout / groups;
  const K = g.cin * g.kh * g.kw;
  const L = g.oh * g.ow;
  const dcols = allocArray(dx.dtype, Math.min(n, CHUNK) * K * L);
  const wT = allocArray(dx.dtype, K * coutG);
  for (let gi = 0; gi < groups; gi++) {
    // W_gᵀ, packed
    for (let co = 0; co < coutG; co++) for (let r = 0; r < K; r++) wT[r * coutG + co] = wt[(gi * coutG + co) * K + r]!;
    for (let s0 = 0; s0 < n; s0 += CHUNK) {
      const s1 = Math.min(n, s0 + CHUNK);
      const items = [];
      for (let s = s0; s < s1; s++) {
        items.push({ a: wT, b: gr.subarray((s * cout + gi * coutG) * L, (s * cout + (gi + 1) * coutG) * L), cOff: (s - s0) * K * L });
      }
      products(items, dcols, K, L, coutG);
      for (let s = s0; s < s1; s++) col2im(dcols.subarray((s - s0) * K * L), g, dx.handle, (s * groups + gi) * g.cin * g.h * g.w);
    }
  }
}) as CpuKernel<Conv2dAttrs>);

// inputs: x, grad of the output; attrs.shape: the weight's shape. One product per group over
// the whole batch: dW_g = G_g[Cout_g × N·L] · colᵀ[N·L × K], columns of all samples side by side.
registerKernel('conv2dWeightGrad', 'cpu', (([xv, gv], [out], attrs) => {
  const dw = out!;
  const x = dense(xv!);
  const gr = dense(gv!);
  const [n, cout] = gv!.shape as [number, number];
  const g = geometry(xv!.shape, dw.shape, gv!.shape, attrs);
  const groups = attrs.groups;
  const coutG = cout / groups;
  const K = g.cin * g.kh * g.kw;
  const L = g.oh * g.ow;
  const colT = allocArray(dw.dtype, n * L * K);
  const gG = groups === 1 ? undefined : allocArray(dw.dtype, coutG * n * L);
  for (let gi = 0; gi < groups; gi++) {
    for (let s = 0; s < n; s++) im2col(x, (s * groups + gi) * g.cin * g.h * g.w, g, colT.subarray(s * L * K), 1, K);
    // G_g with the batch folded into the columns: [Cout_g × N·L]
    let a: TypedArray;
    if (gG) {
      for (let co = 0; co < coutG; co++) {
        for (let s = 0; s < n; s++) gG.set(gr.subarray((s * cout + gi * coutG + co) * L, (s * cout + gi * coutG + co + 1) * L), (co * n + s) * L);
      }
      a = gG;
    } else a = batchColumns(gr, n, cout, L, dw.dtype);
    products([{ a, b: colT, cOff: gi * coutG * K }], dw.handle, coutG, K, n * L);
  }
}) as CpuKernel<Conv2dAttrs>);

/** [N, C, L] rearranged to [C, N·L] (one channel's rows of every sample side by side). */
function batchColumns(src: TypedArray, n: number, c: number, L: number, dtype: Parameters<typeof allocArray>[0]): TypedArray {
  if (n === 1) return src;
  const out = allocArray(dtype, n * c * L);
  for (let s = 0; s < n; s++) for (let ch = 0; ch < c; ch++) out.set(src.subarray((s * c + ch) * L, (s * c + ch + 1) * L), (ch * n + s) * L);
  return out;
}

export type { Conv2dAttrs };
