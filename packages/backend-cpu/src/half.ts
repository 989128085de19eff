import { findOp, float32BitsToBfloat16Bits, float32BitsToFloat16Bits, isHalf, narrowHalf, widenHalf, type HalfDType } from '@tapegrad/tensor';
import { fillsOutputs, isContiguous, lineBases, type CpuKernel, type CpuView } from './strided.js';
import { poolAlloc, poolFree } from './pool.js';

// float16 and bfloat16 storage is 16-bit patterns; no kernel reads them. A kernel with such an
// operand runs on float32 copies (every kernel has a float32 path) and what it writes is rounded
// back, to nearest even, into the 16-bit storage: float32 arithmetic and one rounding per op, as
// PyTorch's CPU half ops compute in float (their opmath type). Views of one storage share one copy, so
// an in-place op (its output the same view as an input) reads and writes one array, as in float32.
// Empty views widen nothing: a kernel reads no element of them.

const isHalfView = (v: CpuView) => isHalf(v.dtype);

/** Whether `run` must go through {@link runWidened}: an operand is float16 or bfloat16. */
export function hasHalf(inputs: readonly CpuView[], outputs: readonly CpuView[]): boolean {
  return inputs.some(isHalfView) || outputs.some(isHalfView);
}

/**
 * Run `kernel` with every float16/bfloat16 operand widened to float32, then round into their
 * storage the elements of the outputs, and of the inputs the op writes in place (`mutates`, as
 * the optimizer steps), that the kernel wrote. Only the span of storage the views reach is
 * widened: a row of a large matrix costs a row.
 */
export function runWidened(kernel: CpuKernel, inputs: readonly CpuView[], outputs: readonly CpuView[], attrs: unknown, op: string): void {
  const spans = new Map<CpuView['handle'], { lo: number; hi: number; wide?: Float32Array }>();
  for (const v of [...inputs, ...outputs]) {
    if (!isHalf(v.dtype)) continue;
    const [lo, hi] = reach(v);
    const s = spans.get(v.handle);
    if (s) [s.lo, s.hi] = [Math.min(s.lo, lo), Math.max(s.hi, hi)];
    else spans.set(v.handle, { lo, hi });
  }
  // storage only outputs reach, of a kernel that writes all of its outputs, has nothing to read
  const read = new Set(inputs.map((v) => v.handle));
  const overwritten = fillsOutputs(kernel);
  const widen = (v: CpuView): CpuView => {
    if (!isHalf(v.dtype)) return v;
    const s = spans.get(v.handle)!;
    if (!s.wide) {
      s.wide = poolAlloc('float32', s.hi - s.lo, false) as Float32Array;
      if (read.has(v.handle) || !overwritten) widenHalf(v.dtype, (v.handle as Uint16Array).subarray(s.lo, s.hi), s.wide);
    }
    return { ...v, handle: s.wide, offset: v.offset - s.lo, dtype: 'float32' };
  };
  try {
    const wideIn = inputs.map(widen);
    const wideOut = outputs.map(widen);
    kernel(wideIn, wideOut, attrs, op);
    const mutates = findOp(op)?.mutates;
    const mutated = typeof mutates === 'function' ? mutates(inputs.length, attrs) : (mutates ?? []);
    const written = [...outputs, ...mutated.map((i) => inputs[i]).filter((v) => v !== undefined)];
    for (const v of written) if (isHalf(v.dtype)) narrowView(v.dtype, v, spans.get(v.handle)!);
  } finally {
    for (const s of spans.values()) if (s.wide) poolFree(s.wide, 'float32', s.wide.length);
  }
}

// [first, last + 1) of the storage elements a view reaches (nothing for an empty view)
function reach(v: CpuView): [number, number] {
  let lo = v.offset;
  let hi = v.offset + 1;
  for (let d = 0; d < v.shape.length; d++) {
    const n = v.shape[d]!;
    if (n === 0) return [v.offset, v.offset];
    const ext = (n - 1) * v.strides[d]!;
    if (ext < 0) lo += ext;
    else hi += ext;
  }
  return [lo, hi];
}

// Round the view's elements of `wide` into the view's 16-bit storage (the rest of the storage is not
// touched: a write into a slice leaves its neighbours' bits, NaN payloads included, as they were).
function narrowView(dtype: HalfDType, v: CpuView, { lo, wide }: { lo: number; wide?: Float32Array }): void {
  const bits = (v.handle as Uint16Array).subarray(lo);
  const offset = v.offset - lo;
  let n = 1;
  for (const d of v.shape) n *= d;
  if (isContiguous(v)) {
    narrowHalf(dtype, wide!.subarray(offset, offset + n), bits.subarray(offset, offset + n));
    return;
  }
  const at = lineBases(v.shape, v.strides, offset);
  const words = new Uint32Array(wide!.buffer, wide!.byteOffset, wide!.length);
  const round = dtype === 'bfloat16' ? float32BitsToBfloat16Bits : float32BitsToFloat16Bits;
  for (let i = 0; i < n; i++) bits[at[i]!] = round(words[at[i]!]!);
}
