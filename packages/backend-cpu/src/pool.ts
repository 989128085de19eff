import { allocArray, poisonArray, poisonMode, type DType, type TypedArray } from '@tapegrad/tensor';
import { wasmAlloc, wasmFree, wasmPooledBytes } from './wasm/runtime.js';

// Freed storage is kept for reuse, keyed by dtype and length: a training step allocates the same
// sizes every step, and a fresh large typed array costs far more than refilling an old one
// (new Float32Array(100_000) ≈ 100 µs of calloc, page faults and GC bookkeeping; fill(0) ≈ 5 µs).
// Arrays of at most MIN_BYTES live on V8's heap, where allocation is cheap: those are not kept.
// float32 and bool storage live in the WebAssembly kernels' shared memory where there is one (wasmAlloc,
// with its own free lists), so matmul reads and writes it in place; this pool takes the rest.

const MIN_BYTES = 256;
let capBytes = 256 * 2 ** 20;
let pooledBytes = 0;
const free = new Map<string, TypedArray[]>();

/**
 * Storage, reusing a freed array of the same dtype and length when there is one: zero-filled
 * unless `zero` is false (then, in poison mode, filled with the poison pattern).
 */
export function poolAlloc(dtype: DType, length: number, zero = true): TypedArray {
  if (dtype === 'float32' || dtype === 'bool') {
    const w = wasmAlloc(dtype, length, zero);
    if (w) return w;
  }
  const reused = free.get(dtype + length)?.pop();
  if (reused) pooledBytes -= reused.byteLength;
  const a = reused ?? allocArray(dtype, length);
  // a fresh array is zero-filled already; in poison mode, what the caller must overwrite is poison
  if (zero && reused) a.fill(0);
  else if (!zero && poisonMode()) poisonArray(a);
  return a;
}

/** Take back storage nothing references any more (the tensor core calls free once, on the last release). */
export function poolFree(a: TypedArray, dtype: DType, length: number): void {
  // a view that outlived its storage (a use after free) then reads poison, not its old values
  if (poisonMode()) poisonArray(a);
  if (wasmFree(a)) return;
  if (a.byteLength <= MIN_BYTES || a.byteLength !== length * a.BYTES_PER_ELEMENT) return;
  if (pooledBytes + a.byteLength > capBytes) return; // the garbage collector takes it
  const key = dtype + length;
  let list = free.get(key);
  if (!list) free.set(key, (list = []));
  list.push(a);
  pooledBytes += a.byteLength;
}

/** Bytes held for reuse. */
export function poolBytes(): number {
  return pooledBytes + wasmPooledBytes();
}

/**
 * Drop every pooled typed array and set the most bytes that pool may hold (0 turns it off;
 * default 256 MB). Freed storage inside the WebAssembly memory is always kept for reuse, since
 * a WebAssembly memory cannot shrink.
 */
export function setPoolCap(bytes: number): void {
  free.clear();
  pooledBytes = 0;
  capBytes = bytes;
}
