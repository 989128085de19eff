import { allocArray, getKernel, registerKernel, type TypedArray } from '@tapegrad/tensor';
import { broadcastStrides, fills, lineBases, type CpuKernel } from '../strided.js';
import { wasmGemm, type StridedF32 } from '../wasm/runtime.js';

// Batched C = A·B for strided operands. float32 goes to the WebAssembly SIMD kernels
// (wasm/gemm.wat, threads above a size threshold) when the engine has them. The portable path
// (other dtypes, engines without SIMD, or simd: 'off') packs A and B into contiguous row-major
// blocks (transposed views, broadcast batches and offsets all become plain rows), then runs an
// i-k-j loop over 4 rows of A at a time so every loaded row of B feeds four accumulating rows
// of C.

function pack(src: TypedArray, base: number, rs: number, cs: number, rows: number, cols: number, dst: TypedArray): TypedArray {
  if (cs === 1 && rs === cols && src.constructor === dst.constructor) return src.subarray(base, base + rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) dst[i * cols + j] = src[base + i * rs + j * cs]!;
  return dst;
}

/** C[m×n] (row-major, at cOff) = A[m×k] · B[k×n], both packed row-major. */
export function gemm(a: TypedArray, b: TypedArray, c: TypedArray, cOff: number, m: number, n: number, k: number): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const c0 = cOff + i * n, c1 = c0 + n, c2 = c1 + n, c3 = c2 + n;
    for (let p = 0; p < k; p++) {
      const a0 = a[i * k + p]!, a1 = a[(i + 1) * k + p]!, a2 = a[(i + 2) * k + p]!, a3 = a[(i + 3) * k + p]!;
      const bo = p * n;
      for (let j = 0; j < n; j++) {
        const bv = b[bo + j]!;
        c[c0 + j] += a0 * bv;
        c[c1 + j] += a1 * bv;
        c[c2 + j] += a2 * bv;
        c[c3 + j] += a3 * bv;
      }
    }
  }
  for (; i < m; i++) {
    const c0 = cOff + i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!;
      const bo = p * n;
      for (let j = 0; j < n; j++) c[c0 + j] += av * b[bo + j]!;
    }
  }
}

/**
 * gemm for int32: products and sums wrap modulo 2^32 (Math.imul), as PyTorch's int32 matmul
 * does; in a double a product past 2^53 would lose its low bits before the store wrapped it.
 */
function gemmInt32(a: TypedArray, b: TypedArray, c: TypedArray, cOff: number, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++) {
    const c0 = cOff + i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p]!, bo = p * n;
      for (let j = 0; j < n; j++) c[c0 + j] = c[c0 + j]! + Math.imul(av, b[bo + j]!);
    }
  }
}

const matmulKernel: CpuKernel = ([x, y], [out]) => {
  const o = out!;
  const r = o.shape.length, xr = x!.shape.length, yr = y!.shape.length;
  const m = o.shape[r - 2]!, n = o.shape[r - 1]!, k = x!.shape[xr - 1]!;
  const ars = x!.strides[xr - 2]!, acs = x!.strides[xr - 1]!, brs = y!.strides[yr - 2]!, bcs = y!.strides[yr - 1]!;
  // Each batch entry's first element in x and y; a plain 2-D product (most calls: the small
  // products of a training step pay this per call) skips the broadcast bookkeeping.
  let aBatch: ArrayLike<number> = [x!.offset], bBatch: ArrayLike<number> = [y!.offset];
  if (r > 2) {
    const batchShape = o.shape.slice(0, -2);
    aBatch = lineBases(batchShape, broadcastStrides({ shape: x!.shape.slice(0, -2), strides: x!.strides.slice(0, -2) }, batchShape), x!.offset);
    bBatch = lineBases(batchShape, broadcastStrides({ shape: y!.shape.slice(0, -2), strides: y!.strides.slice(0, -2) }, batchShape), y!.offset);
  }
  if (o.dtype === 'float32' && x!.dtype === 'float32' && y!.dtype === 'float32') {
    const batch = [];
    for (let bi = 0; bi < aBatch.length; bi++) {
      batch.push({
        a: { data: x!.handle as Float32Array, offset: aBatch[bi]!, rs: ars, cs: acs },
        b: { data: y!.handle as Float32Array, offset: bBatch[bi]!, rs: brs, cs: bcs },
        cOff: bi * m * n,
      });
    }
    if (wasmGemm(batch, o.handle as Float32Array, m, n, k)) return;
  }
  o.handle.fill(0); // the portable gemm accumulates
  const aBuf = allocArray(o.dtype, m * k);
  const bBuf = allocArray(o.dtype, k * n);
  for (let bi = 0; bi < aBatch.length; bi++) {
    // operands of another dtype are packed into the output's, so the product accumulates there
    const a = pack(x!.handle, aBatch[bi]!, ars, acs, m, k, aBuf);
    const b = pack(y!.handle, bBatch[bi]!, brs, bcs, k, n, bBuf);
    (o.dtype === 'int32' ? gemmInt32 : gemm)(a, b, o.handle, bi * m * n, m, n, k);
  }
};
registerKernel('matmul', 'cpu', fills(matmulKernel));

// linear, y = x·Wᵀ + b (definition and gradient: @tapegrad/nn's ops/linear.ts): the product reads
// W through a transposed view, then the add kernel adds the bias to each row in place. These are
// the kernels and roundings of the composite matmul(x, Wᵀ) + b, so the results are the same bits.
registerKernel('linear', 'cpu', fills((([x, w, b], [out], _attrs, op) => {
  matmulKernel([x!, { ...w!, shape: [w!.shape[1]!, w!.shape[0]!], strides: [w!.strides[1]!, w!.strides[0]!] }], [out!], {}, op);
  if (b) (getKernel('add', 'cpu') as CpuKernel)([out!, b], [out!], {}, 'add');
}) as CpuKernel));

/**
 * C[m×n] = A·B written row-major at c[cOff ...] for strided float32 matrices: the entry point for
 * other kernels built on matrix products (conv2d via im2col). Uses WebAssembly SIMD and worker
 * threads when enabled, else the portable TypeScript path.
 */
export function matmulF32(a: StridedF32, b: StridedF32, c: Float32Array, cOff: number, m: number, n: number, k: number): void {
  if (wasmGemm([{ a, b, cOff }], c, m, n, k)) return;
  c.fill(0, cOff, cOff + m * n);
  const ap = pack(a.data, a.offset, a.rs, a.cs, m, k, new Float32Array(m * k));
  const bp = pack(b.data, b.offset, b.rs, b.cs, k, n, new Float32Array(k * n));
  gemm(ap, bp, c, cOff, m, n, k);
}

/** A strided matrix of any dtype: element (i, j) at data[offset + i·rs + j·cs]. */
export interface StridedMatrix {
  data: TypedArray;
  offset: number;
  rs: number;
  cs: number;
}
/**
 * C[m×n] = A·B written row-major at c[cOff ...], for kernels whose products run over views of
 * any floating dtype (linearCrossEntropy's chunks, in float32 and in float64 for gradcheck):
 * float32 takes {@link matmulF32}, the others the portable path.
 */
export function matmulInto(a: StridedMatrix, b: StridedMatrix, c: TypedArray, cOff: number, m: number, n: number, k: number): void {
  if (c instanceof Float32Array && a.data instanceof Float32Array && b.data instanceof Float32Array) {
    return matmulF32(a as StridedF32, b as StridedF32, c, cOff, m, n, k);
  }
  c.fill(0, cOff, cOff + m * n);
  const Arr = c.constructor as new (n: number) => TypedArray;
  gemm(pack(a.data, a.offset, a.rs, a.cs, m, k, new Arr(m * k)), pack(b.data, b.offset, b.rs, b.cs, k, n, new Arr(k * n)), c, cOff, m, n, k);
}
