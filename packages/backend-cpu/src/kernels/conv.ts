import { allocArray, getKernel, poisonArray, poisonMode, registerKernel, type DType, type Shape, type TypedArray, type Conv2dAttrs } from '@tapegrad/tensor';
import { dense, type CpuKernel } from '../strided.js';
import { gemm, matmulF32 } from './matmul.js';
import { wasmAddress, wasmAlloc, wasmKernelsFor, type StridedF32 } from '../wasm/runtime.js';
import { conv as convModules } from '../wasm/kernels.generated.js';

// conv2d and its two backward kernels, all as im2col + gemm (the op definitions and the
// gradient rule are in @tapegrad/nn's ops/conv.ts; ops are matched by name). For a chunk of S
// samples and one group, the receptive fields are unrolled into col[K × S·L] (row r = one
// kernel tap (c, ki, kj) of K = Cin/groups·kh·kw; columns = (sample, output y, output x),
// L = OH·OW), so each pass is ONE matrix product over the whole chunk:
//   forward       Y[Cout_g × S·L]  = W_g[Cout_g × K] · col, then scattered into [N, Cout, OH, OW] with the bias
//   input grad    dcol[K × S·L]    = W_gᵀ · G[Cout_g × S·L], then col2im adds it back into dx
//   weight grad   dW_gᵀ[K × Cout_g] += col · Gᵀ
// float32 products run on the WebAssembly SIMD gemm (worker threads when big enough); one wide
// product per pass instead of one small product per sample is what keeps that kernel busy.
// Where every array lives in the WebAssembly memory, the passes around the products (im2col,
// col2im, the re-layouts) run as wasm/conv.wat's kernels, one call per kernel tap or output
// channel; the TypeScript functions below are the portable path and give the same bits.

interface Geometry {
  n: number; groups: number;
  cin: number; h: number; w: number; // one group's input channels and the input's size
  kh: number; kw: number;
  oh: number; ow: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  K: number; L: number;
  cout: number; coutG: number; // output channels, and per group
  /** Samples per pass: as many as fit one scratch matrix, at least one. */
  chunk: number;
}

function geometry(xShape: Shape, wShape: Shape, outShape: Shape, a: Conv2dAttrs): Geometry {
  const g = {
    n: xShape[0]!, groups: a.groups,
    cin: xShape[1]! / a.groups, h: xShape[2]!, w: xShape[3]!,
    kh: wShape[2]!, kw: wShape[3]!,
    oh: outShape[2]!, ow: outShape[3]!,
    sh: a.stride[0], sw: a.stride[1], ph: a.padding[0], pw: a.padding[1], dh: a.dilation[0], dw: a.dilation[1],
  };
  const K = g.cin * g.kh * g.kw, L = g.oh * g.ow;
  const cout = outShape[1]!, coutG = cout / a.groups;
  return { ...g, K, L, cout, coutG, chunk: Math.max(1, Math.min(g.n, Math.floor(CHUNK_ELEMENTS / (Math.max(K, coutG) * L)))) };
}

/**
 * Where kernel tap (ki, kj) reads: output element (y, xo) reads input row y·sh + dy, column
 * xo·sw + dx, which lies inside the input for output rows [y0, y1) and columns [x0, x1).
 */
interface Tap { dy: number; dx: number; y0: number; y1: number; x0: number; x1: number }
function tapOf(g: Geometry, ki: number, kj: number): Tap {
  const inside = (off: number, stride: number, size: number, out: number): [number, number] => {
    const lo = Math.min(out, Math.max(0, Math.ceil(-off / stride)));
    return [lo, Math.max(lo, Math.min(out, Math.floor((size - 1 - off) / stride) + 1))];
  };
  const dy = ki * g.dh - g.ph, dx = kj * g.dw - g.pw;
  const [y0, y1] = inside(dy, g.sh, g.h, g.oh);
  const [x0, x1] = inside(dx, g.sw, g.w, g.ow);
  return { dy, dx, y0, y1, x0, x1 };
}

/**
 * Whether an output row of col is as long as the step between the input rows it reads (stride 1
 * across and OW = sh·W, as with 'same' padding): then a tap's rows [y0, y1) of one sample are
 * one contiguous run in col and in x, moved as a block, and only the few entries that fell
 * outside the input's columns need fixing.
 */
const rowsContiguous = (g: Geometry) => g.sw === 1 && g.sh * g.w === g.ow;

interface ConvExports {
  im2col_tap(x: number, col: number, S: number, xs: number, L: number, ow: number, y0: number, y1: number, x0: number, x1: number, rowStep: number, sw: number): void;
  col2im_tap(x: number, col: number, S: number, xs: number, L: number, ow: number, y0: number, y1: number, x0: number, x1: number, rowStep: number, sw: number): void;
  rows(src: number, dst: number, n: number, count: number, srcStep: number, dstStep: number, add: number): void;
  gemm_samples(a: number, ars: number, acs: number, b: number, bss: number, brs: number, c: number, css: number, crs: number,
    m: number, k: number, S: number, L: number, bias: number): void;
}
/** wasm/conv.wat's kernels when every array lives in the WebAssembly memory, else undefined. */
const wasmConv = (...arrays: TypedArray[]) => wasmKernelsFor<ConvExports>(convModules, arrays);

/**
 * im2col (unroll = true) or col2im (false) through the WebAssembly kernels: one call per tap
 * covers the chunk's samples. Byte addresses; x is the input (or dx), col the scratch matrix.
 */
function tapsWasm(k: ConvExports, unroll: boolean, x: TypedArray, g: Geometry, gi: number, s0: number, S: number, col: TypedArray): void {
  const { cin, h, w, kh, kw, ow, sh, sw, L } = g;
  const fn = unroll ? k.im2col_tap : k.col2im_tap;
  const xBase = wasmAddress(x), colBase = wasmAddress(col);
  for (let ki = 0; ki < kh; ki++) {
    for (let kj = 0; kj < kw; kj++) {
      const { dy, dx, y0, y1, x0, x1 } = tapOf(g, ki, kj);
      for (let c = 0; c < cin; c++) {
        const plane = (((s0 * g.groups + gi) * cin + c) * h * w + dy * w + dx) * 4;
        const row = ((c * kh + ki) * kw + kj) * S * L * 4;
        fn(xBase + plane, colBase + row, S, g.groups * cin * h * w * 4, L, ow, y0, y1, x0, x1, sh * w * 4, sw);
      }
    }
  }
}

/** col[K × S·L] for samples s0 .. s0+S−1 of group gi; padding reads zero. */
function im2col(x: TypedArray, g: Geometry, gi: number, s0: number, S: number, col: TypedArray): void {
  const { cin, h, w, kh, kw, ow, sh, sw, L } = g;
  const blocks = rowsContiguous(g);
  for (let c = 0; c < cin; c++) {
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const { dy, dx, y0, y1, x0, x1 } = tapOf(g, ki, kj);
        const row = ((c * kh + ki) * kw + kj) * S * L;
        for (let s = 0; s < S; s++) {
          const at = row + s * L;
          const plane = (((s0 + s) * g.groups + gi) * cin + c) * h * w + dy * w + dx;
          col.fill(0, at, at + y0 * ow);
          col.fill(0, at + y1 * ow, at + L);
          if (y0 >= y1) continue;
          if (blocks) {
            const from = plane + y0 * sh * w + x0;
            col.set(x.subarray(from, from + (y1 - 1 - y0) * ow + x1 - x0), at + y0 * ow + x0);
            if (x0 > 0 || x1 < ow) {
              // (a loop, not fill: fill's call costs more than these few stores)
              for (let y = y0, r = at + y0 * ow; y < y1; y++, r += ow) {
                for (let xo = 0; xo < x0; xo++) col[r + xo] = 0;
                for (let xo = x1; xo < ow; xo++) col[r + xo] = 0;
              }
            }
            continue;
          }
          for (let y = y0; y < y1; y++) {
            const to = at + y * ow;
            const src = plane + y * sh * w;
            for (let xo = 0; xo < x0; xo++) col[to + xo] = 0;
            for (let xo = x0; xo < x1; xo++) col[to + xo] = x[src + xo * sw]!;
            for (let xo = x1; xo < ow; xo++) col[to + xo] = 0;
          }
        }
      }
    }
  }
}

/**
 * The inverse scatter of im2col: dx += every entry of col[K × S·L] at the input element it read.
 * Entries that read padding are zeroed first, so contiguous rows can be added as one block.
 */
function col2im(col: TypedArray, g: Geometry, gi: number, s0: number, S: number, dx: TypedArray): void {
  const { cin, h, w, kh, kw, ow, sh, sw, L } = g;
  const blocks = rowsContiguous(g);
  for (let c = 0; c < cin; c++) {
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const { dy, dx: shift, y0, y1, x0, x1 } = tapOf(g, ki, kj);
        const row = ((c * kh + ki) * kw + kj) * S * L;
        for (let s = 0; s < S; s++) {
          const at = row + s * L;
          const plane = (((s0 + s) * g.groups + gi) * cin + c) * h * w + dy * w + shift;
          if (y0 >= y1) continue;
          if (blocks) {
            if (x0 > 0 || x1 < ow) {
              // (a loop, not fill: fill's call costs more than these few stores)
              for (let y = y0, r = at + y0 * ow; y < y1; y++, r += ow) {
                for (let xo = 0; xo < x0; xo++) col[r + xo] = 0;
                for (let xo = x1; xo < ow; xo++) col[r + xo] = 0;
              }
            }
            const src = at + y0 * ow + x0;
            const to = plane + y0 * sh * w + x0;
            const n = (y1 - 1 - y0) * ow + x1 - x0;
            for (let i = 0; i < n; i++) dx[to + i] += col[src + i]!;
            continue;
          }
          for (let y = y0; y < y1; y++) {
            const from = at + y * ow;
            const to = plane + y * sh * w;
            for (let xo = x0; xo < x1; xo++) dx[to + xo * sw] += col[from + xo]!;
          }
        }
      }
    }
  }
}

/**
 * Elements one scratch matrix may hold (4 MB of float32): at MNIST's batch of 64, each pass of
 * either layer is one chunk. With the TypeScript im2col, chunks of 2^18 (1 MB, kept in cache
 * between im2col and the product) had beaten one 8 MB chunk; with the WebAssembly passes, 2^20
 * beat 2^18 in 4 of 4 in-process A/B runs of the training step (15.7–21.2 vs 17.6–25.1 ms).
 */
const CHUNK_ELEMENTS = 1 << 20;

// Two scratch matrices per dtype, kept between calls: a training loop runs the same shapes
// every step, and reallocating megabytes per call costs more in garbage collection than the
// kernels' own copies. Kernels run synchronously, so no two calls share them at once. (A
// scratch array kept from an engine that setCpuKernelOptions has since replaced is merely
// staged by the products, like any array outside the memory.)
const scratch = new Map<string, TypedArray>();
function buffer(slot: 0 | 1, dtype: DType, length: number): TypedArray {
  if (length > CHUNK_ELEMENTS) return allocArray(dtype, length); // one huge sample: not kept
  const key = `${dtype}${slot}`;
  let b = scratch.get(key);
  const size = Math.max(length, 1 << 16);
  // float32 scratch lives in the WebAssembly memory where there is one, so the products and
  // wasm/conv.wat read and write it in place; scratch from before setCpuKernelOptions replaced
  // the engine is outside the new memory, and is replaced where the new one can hold it
  const inMemory = dtype === 'float32' && (!b || b.length < length || wasmAddress(b) < 0) ? wasmAlloc('float32', size) : undefined;
  if (inMemory || !b || b.length < length) scratch.set(key, (b = inMemory ?? allocArray(dtype, size)));
  const out = b.subarray(0, length);
  if (poisonMode()) poisonArray(out); // what a pass reads before writing it, or from an earlier call, shows
  return out;
}

/**
 * Below this many terms per dot product (K in the forward, Cout_g in the input gradient), a
 * product goes to wasm/conv.wat's gemm_samples, which reads and writes the tensors in place,
 * instead of the packed, threaded gemm. At the MNIST CNN's K = 9 it took 1 ms off the training
 * step (three in-process A/B runs); for its second layer (K = 72, Cout = 16) the two were even.
 */
const SHORT_REDUCTION = 16;

/** A strided matrix: element (i, j) is data[offset + i·rs + j·cs]. */
interface Mat { data: TypedArray; offset: number; rs: number; cs: number }

/** c[0 .. m·n) = a·b, row-major, overwritten; a is m×k, b is k×n. */
function product(a: Mat, b: Mat, c: TypedArray, m: number, n: number, k: number): void {
  if (c instanceof Float32Array && a.data instanceof Float32Array && b.data instanceof Float32Array) {
    matmulF32(a as StridedF32, b as StridedF32, c, 0, m, n, k);
    return;
  }
  const packed = (v: Mat, rows: number, cols: number) => {
    if (v.cs === 1 && v.rs === cols) return v.data.subarray(v.offset, v.offset + rows * cols);
    const out = allocArray(dtypeOf(c), rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = v.data[v.offset + i * v.rs + j * v.cs]!;
    return out;
  };
  c.fill(0, 0, m * n);
  gemm(packed(a, m, k), packed(b, k, n), c, 0, m, n, k);
}
const dtypeOf = (a: TypedArray): DType => (a instanceof Float32Array ? 'float32' : 'float64');

/** G[Cout_g × S·L]: group gi's channels of samples s0 .. s0+S−1 of grad [N, Cout, L], side by side. */
function gradColumns(k: ConvExports | undefined, gr: TypedArray, g: Geometry, cout: number, coutG: number, gi: number, s0: number, S: number, dst: TypedArray): void {
  const L = g.L;
  for (let co = 0; co < coutG; co++) {
    if (k) {
      k.rows(wasmAddress(gr, (s0 * cout + gi * coutG + co) * L), wasmAddress(dst, co * S * L), L, S, cout * L * 4, L * 4, -0);
      continue;
    }
    for (let s = 0; s < S; s++) {
      const from = ((s0 + s) * cout + gi * coutG + co) * L;
      dst.set(gr.subarray(from, from + L), (co * S + s) * L);
    }
  }
}

// inputs: x [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw], optional bias [Cout]
registerKernel('conv2d', 'cpu', ((inputs, [out], attrs) => {
  const [xv, wv, bv] = inputs;
  const o = out!.handle;
  const x = dense(xv!);
  const wt = dense(wv!);
  const bias = bv ? dense(bv) : undefined;
  const g = geometry(xv!.shape, wv!.shape, out!.shape, attrs);
  const { K, L, cout, coutG, chunk } = g;
  for (let gi = 0; gi < g.groups; gi++) {
    for (let s0 = 0; s0 < g.n; s0 += chunk) {
      const S = Math.min(chunk, g.n - s0);
      const col = buffer(0, out!.dtype, K * S * L);
      const k = wasmConv(x, wt, col, o, ...(bias ? [bias] : []));
      if (k && K < SHORT_REDUCTION) {
        tapsWasm(k, true, x, g, gi, s0, S, col);
        // Y(s) = W_g · col(s), written into each sample's output channels with the bias
        k.gemm_samples(wasmAddress(wt, gi * coutG * K), K * 4, 4, wasmAddress(col), L * 4, S * L * 4,
          wasmAddress(o, (s0 * cout + gi * coutG) * L), cout * L * 4, L * 4, coutG, K, S, L, bias ? wasmAddress(bias, gi * coutG) : 0);
        continue;
      }
      const y = buffer(1, out!.dtype, coutG * S * L);
      if (k) tapsWasm(k, true, x, g, gi, s0, S, col);
      else im2col(x, g, gi, s0, S, col);
      product({ data: wt, offset: gi * coutG * K, rs: K, cs: 1 }, { data: col, offset: 0, rs: S * L, cs: 1 }, y, coutG, S * L, K);
      if (k) {
        for (let co = 0; co < coutG; co++) {
          const to = wasmAddress(o, (s0 * cout + gi * coutG + co) * L);
          k.rows(wasmAddress(y, co * S * L), to, L, S, L * 4, cout * L * 4, bias ? bias[gi * coutG + co]! : 0);
        }
        continue;
      }
      for (let co = 0; co < coutG; co++) {
        const b = bias ? bias[gi * coutG + co]! : 0;
        for (let s = 0; s < S; s++) {
          const from = (co * S + s) * L;
          const to = ((s0 + s) * cout + gi * coutG + co) * L;
          for (let l = 0; l < L; l++) o[to + l] = y[from + l]! + b;
        }
      }
    }
  }
}) as CpuKernel<Conv2dAttrs>);

// inputs: grad of the output [N, Cout, OH, OW], weight; attrs.shape: the input's shape
registerKernel('conv2dInputGrad', 'cpu', (([gv, wv], [out], attrs) => {
  const gr = dense(gv!);
  const wt = dense(wv!);
  const g = geometry(out!.shape, wv!.shape, gv!.shape, attrs);
  const { K, L, cout, coutG, chunk } = g;
  for (let gi = 0; gi < g.groups; gi++) {
    for (let s0 = 0; s0 < g.n; s0 += chunk) {
      const S = Math.min(chunk, g.n - s0);
      const dcol = buffer(1, out!.dtype, K * S * L);
      const k = wasmConv(gr, wt, dcol, out!.handle);
      if (k && coutG < SHORT_REDUCTION) {
        // dcol(s) = W_gᵀ · G(s), the output gradient read in place
        k.gemm_samples(wasmAddress(wt, gi * coutG * K), 4, K * 4, wasmAddress(gr, (s0 * cout + gi * coutG) * L), cout * L * 4, L * 4,
          wasmAddress(dcol), L * 4, S * L * 4, K, coutG, S, L, 0);
        tapsWasm(k, false, out!.handle, g, gi, s0, S, dcol);
        continue;
      }
      const G = buffer(0, out!.dtype, coutG * S * L);
      gradColumns(k, gr, g, cout, coutG, gi, s0, S, G);
      // W_gᵀ read in place: element (r, co) is weight[gi·Cout_g + co, r]
      product({ data: wt, offset: gi * coutG * K, rs: 1, cs: K }, { data: G, offset: 0, rs: S * L, cs: 1 }, dcol, K, S * L, coutG);
      if (k) tapsWasm(k, false, out!.handle, g, gi, s0, S, dcol);
      else col2im(dcol, g, gi, s0, S, out!.handle);
    }
  }
}) as CpuKernel<Conv2dAttrs>);

// inputs: x, grad of the output; attrs.shape: the weight's shape. dW_gᵀ = col · Gᵀ, summed over
// chunks; computed transposed because K ≥ Cout_g is the usual case, and the gemm prefers the
// longer side as rows.
registerKernel('conv2dWeightGrad', 'cpu', (([xv, gv], [out], attrs) => {
  const x = dense(xv!);
  const gr = dense(gv!);
  const dw = out!.handle;
  const g = geometry(xv!.shape, out!.shape, gv!.shape, attrs);
  const { K, L, cout, coutG, chunk } = g;
  let dwT: TypedArray | undefined;
  for (let gi = 0; gi < g.groups; gi++) {
    for (let s0 = 0; s0 < g.n; s0 += chunk) {
      const S = Math.min(chunk, g.n - s0);
      const col = buffer(0, out!.dtype, K * S * L);
      const G = buffer(1, out!.dtype, coutG * S * L);
      const k = wasmConv(x, gr, col, G);
      if (k) tapsWasm(k, true, x, g, gi, s0, S, col);
      else im2col(x, g, gi, s0, S, col);
      gradColumns(k, gr, g, cout, coutG, gi, s0, S, G);
      // Gᵀ read in place: element ((s, l), co) is G[co, (s, l)]
      dwT ??= allocArray(out!.dtype, K * coutG);
      product({ data: col, offset: 0, rs: S * L, cs: 1 }, { data: G, offset: 0, rs: 1, cs: S * L }, dwT, K, coutG, S * L);
      for (let co = 0; co < coutG; co++) for (let r = 0; r < K; r++) dw[(gi * coutG + co) * K + r] += dwT[r * coutG + co]!;
    }
  }
}) as CpuKernel<Conv2dAttrs>);

export type { Conv2dAttrs };

// convTranspose2d (issue 16; definition and gradient: @tapegrad/nn's ops/conv.ts) is conv2d's
// input gradient, x in the role of the output's gradient: the same kernel, whose attrs.shape is
// then the transposed convolution's output shape.
registerKernel('convTranspose2d', 'cpu', ((inputs, outputs, attrs, op) =>
  (getKernel('conv2dInputGrad', 'cpu') as CpuKernel<Conv2dAttrs>)(inputs, outputs, attrs, op)) as CpuKernel<Conv2dAttrs>);
