// float16 and bfloat16 are stored as their 16-bit patterns (a Uint16Array) and computed in
// float32: these conversions are the only arithmetic that touches the patterns. They work on bit
// patterns with integer operations, so a NaN's payload survives widening and no engine's NaN
// canonicalisation is involved. Narrowing rounds to nearest, ties to even, as c10::Half and
// c10::BFloat16 do, including their NaNs: float16 keeps the sign (0x7e00 | sign), bfloat16 gives
// 0x7fc0 whatever the sign, as c10's scalar conversion does (PyTorch's vectorised cast gives 0xffff:
// a NaN either way).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 bit pattern of a float16 bit pattern (exact: every float16 is a float32; a signalling NaN comes out quiet). */
export function float16BitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) {
    // an infinity, or a NaN with its payload, made quiet as F16C's vcvtph2ps (and so PyTorch) makes it
    return (sign | 0x7f800000 | (mant ? 0x400000 | (mant << 13) : 0)) >>> 0;
  }
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // 112 = 127 - 15
  if (mant === 0) return sign >>> 0;
  // a subnormal m·2^-24: shift the leading 1 up to the implicit bit, one exponent step per shift
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/** The float16 bit pattern nearest a float32 bit pattern (ties to even; past 65520 an infinity). */
export function float32BitsToFloat16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00; // NaN
  if (abs >= 0x477ff000) return sign | 0x7c00; // 65520 and up round to infinity (65504 is odd, the tie goes up)
  if (abs >= 0x38800000) {
    // a normal float16: drop 13 mantissa bits, rounding; a carry moves into the exponent by itself
    return sign | (((abs + 0xfff + ((abs >> 13) & 1)) >> 13) - (112 << 10));
  }
  if (abs <= 0x33000000) return sign; // up to 2^-25, the halfway point to the least subnormal: zero
  // a subnormal: the 24-bit significand in units of 2^-24, rounded to nearest even
  const shift = 126 - (abs >> 23);
  const m = (abs & 0x7fffff) | 0x800000;
  let q = m >> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && q & 1)) q++; // q = 0x400 is the least normal, encoded as such
  return sign | q;
}

/** The float32 bit pattern of a bfloat16 bit pattern: bfloat16 is a float32's upper half. */
export function bfloat16BitsToFloat32Bits(h: number): number {
  return (h << 16) >>> 0;
}

/** The bfloat16 bit pattern nearest a float32 bit pattern (ties to even; NaN is 0x7fc0). */
export function float32BitsToBfloat16Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return ((x >>> 0) + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** The float16 bit pattern nearest `v` (a number is rounded to float32 first, as c10::Half's constructor does). */
export function toFloat16Bits(v: number): number {
  f32[0] = v;
  return float32BitsToFloat16Bits(u32[0]!);
}
/** The value of a float16 bit pattern. */
export function fromFloat16Bits(h: number): number {
  u32[0] = float16BitsToFloat32Bits(h);
  return f32[0]!;
}
/** The bfloat16 bit pattern nearest `v` (a number is rounded to float32 first, as c10::BFloat16's constructor does). */
export function toBfloat16Bits(v: number): number {
  f32[0] = v;
  return float32BitsToBfloat16Bits(u32[0]!);
}
/** The value of a bfloat16 bit pattern. */
export function fromBfloat16Bits(h: number): number {
  u32[0] = bfloat16BitsToFloat32Bits(h);
  return f32[0]!;
}

/** The 16-bit floating dtypes, stored as bit patterns and computed in float32. */
export type HalfDType = 'float16' | 'bfloat16';

const words = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
// float16's float32 patterns, all 65,536 (256 kB, made at the first widening): a load per element
// instead of the branches, about twice as fast over large arrays
let F16_WORDS: Uint32Array | undefined;
function f16Words(): Uint32Array {
  if (!F16_WORDS) {
    F16_WORDS = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) F16_WORDS[h] = float16BitsToFloat32Bits(h);
  }
  return F16_WORDS;
}

/**
 * Widen `bits` (float16 or bfloat16 patterns) into `out` (float32, the same length; a new array
 * unless given). Exact.
 */
export function widenHalf<T extends Float32Array = Float32Array>(dtype: HalfDType, bits: Uint16Array, out?: T): T {
  out ??= new Float32Array(bits.length) as T;
  const w = words(out);
  const n = bits.length;
  if (dtype === 'bfloat16') for (let i = 0; i < n; i++) w[i] = bits[i]! << 16;
  else {
    const table = f16Words();
    for (let i = 0; i < n; i++) w[i] = table[bits[i]!]!;
  }
  return out;
}

/**
 * Round `values` (float32; numbers of another array are rounded to float32 first) to `dtype`'s
 * bit patterns, into `out` (a new array unless given), ties to even.
 */
export function narrowHalf<T extends Uint16Array = Uint16Array>(dtype: HalfDType, values: ArrayLike<number>, out?: T): T {
  out ??= new Uint16Array(values.length) as T;
  const v = values instanceof Float32Array ? values : Float32Array.from(values);
  const w = words(v);
  const n = v.length;
  if (dtype === 'bfloat16') for (let i = 0; i < n; i++) out[i] = float32BitsToBfloat16Bits(w[i]!);
  else for (let i = 0; i < n; i++) out[i] = float32BitsToFloat16Bits(w[i]!);
  return out;
}
