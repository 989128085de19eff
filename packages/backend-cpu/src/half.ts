import { findOp, float32BitsToBfloat16Bits, float32BitsToFloat16Bits, isHalf, narrowHalf, widenHalf, type HalfDType } from '@tapegrad/tensor';
import { isContiguous, lineBases, type CpuKernel, type CpuView } from './strided.js';
import { poolAlloc, poolFree } from './pool.js';

// float16 and bfloat16 storage is 16-bit patterns; no kernel reads them. A kernel with such an
// operand runs on float32 copies (every kernel has a float32 path) and what it writes is rounded
// back, to nearest even, into the 16-bit storage: float32 arithmetic and one rounding per op, as
// PyTorch's CPU half ops compute in float (their opmath type). Views of one storage share one copy, so
// an in-place op (its output the same view as an input) reads and writes one array, as in float32.

const isHalfView = (v: CpuView) => isHalf(v.dtype);

/** Whether `run` must go through {@link runWidened}: an operand is float16 or bfloat16. */
export function hasHalf(inputs: readonly CpuView[], outputs: readonly CpuView[]): boolean {
  return inputs.some(isHalfView) || outputs.some(isHalfView);
}

/**
 * Run `kernel` with every float16/bfloat16 operand widened to float32, then round into their
 * storage the elements of the outputs, and of the inputs the op writes in place (`mutates`, as
 * the optimizer steps), that the kernel wrote.
 */
export function runWidened(kernel: CpuKernel, inputs: readonly CpuView[], outputs: readonly CpuView[], attrs: unknown, op: string): void {
  const copies = new Map<CpuView['handle'], Float32Array>();
  const widen = (v: CpuView): CpuView => {
    if (!isHalf(v.dtype)) return v;
    let w = copies.get(v.handle);
    if (!w) {
      w = poolAlloc('float32', v.handle.length, false) as Float32Array;
      widenHalf(v.dtype, v.handle as Uint16Array, w);
      copies.set(v.handle, w);
    }
    return { ...v, handle: w, dtype: 'float32' };
  };
  try {
    const wideIn = inputs.map(widen);
    const wideOut = outputs.map(widen);
    kernel(wideIn, wideOut, attrs, op);
    const written = [...outputs, ...(findOp(op)?.mutates ?? []).map((i) => inputs[i]).filter((v) => v !== undefined)];
    for (const v of written) if (isHalf(v.dtype)) narrowView(v.dtype, v, copies.get(v.handle)!);
  } finally {
    for (const w of copies.values()) poolFree(w, 'float32', w.length);
  }
}

// Round the view's elements of `wide` into the view's 16-bit storage (the rest of the storage is not
// touched: a write into a slice leaves its neighbours' bits, NaN payloads included, as they were).
function narrowView(dtype: HalfDType, v: CpuView, wide: Float32Array): void {
  const bits = v.handle as Uint16Array;
  let n = 1;
  for (const d of v.shape) n *= d;
  if (isContiguous(v)) {
    narrowHalf(dtype, wide.subarray(v.offset, v.offset + n), bits.subarray(v.offset, v.offset + n));
    return;
  }
  const at = lineBases(v.shape, v.strides, v.offset);
  const words = new Uint32Array(wide.buffer, wide.byteOffset, wide.length);
  const round = dtype === 'bfloat16' ? float32BitsToBfloat16Bits : float32BitsToFloat16Bits;
  for (let i = 0; i < n; i++) bits[at[i]!] = round(words[at[i]!]!);
}
