import { DTypeError, ValueError } from './errors.js';
import { narrowHalf, type HalfDType } from './half.js';

/**
 * Element types. `float64` exists for gradcheck and is CPU-only; `float16` and `bfloat16` are
 * CPU-only storage (16-bit patterns) whose ops compute in float32 and round once.
 */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int32' | 'bool';
/**
 * The typed array that holds each dtype: Float32Array, Float64Array, Int32Array, Uint8Array
 * (bool), Uint16Array (the bit patterns of float16 and bfloat16).
 */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array;

const ARRAYS = { float32: Float32Array, float64: Float64Array, float16: Uint16Array, bfloat16: Uint16Array, int32: Int32Array, bool: Uint8Array } as const;
/** Every dtype, narrowest first (the order type promotion climbs; float16 and bfloat16 meet at float32). */
export const DTYPES: readonly DType[] = ['bool', 'int32', 'float16', 'bfloat16', 'float32', 'float64'];

/** A zero-filled typed array of `length` elements for `dtype`. */
export function allocArray(dtype: DType, length: number): TypedArray {
  return new ARRAYS[dtype](length);
}
/** Bytes one element of `dtype` takes. */
export function bytesPerElement(dtype: DType): number {
  return ARRAYS[dtype].BYTES_PER_ELEMENT;
}
/** Whether `dtype` is a floating-point dtype (the dtypes that can carry gradients). */
export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}
/** Whether `dtype` is float16 or bfloat16: stored as 16-bit patterns, read as float32 values. */
export function isHalf(dtype: DType): dtype is HalfDType {
  return dtype === 'float16' || dtype === 'bfloat16';
}
/**
 * A host array for `length` values of `dtype`: its storage array, or for float16 and bfloat16 a
 * Float32Array of values, which {@link storageArray} rounds to bit patterns.
 */
export function valueArray(dtype: DType, length: number): TypedArray {
  return isHalf(dtype) ? new Float32Array(length) : allocArray(dtype, length);
}
/**
 * `values` as `dtype`'s storage holds them: a float16 or bfloat16 tensor's values (any array but
 * a Uint16Array, which is taken as bit patterns already) rounded to nearest even; other dtypes'
 * arrays as they are.
 */
export function storageArray(dtype: DType, values: TypedArray): TypedArray {
  return isHalf(dtype) && !(values instanceof Uint16Array) ? narrowHalf(dtype, values) : values;
}
/** The dtype a typed array holds, or undefined for other arrays (a Uint16Array holds float16 or bfloat16: it does not say which). */
export function dtypeOfArray(a: ArrayLike<unknown>): DType | undefined {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'bool';
  return undefined;
}
/** Whether `v` lies in int32's range (NaN does not), the check PyTorch makes before storing a value in an int32 tensor. */
export function fitsInt32(v: number): boolean {
  return v >= -2147483648 && v <= 2147483647;
}
/**
 * `v`, checked for storage in an int32 tensor (the store truncates a fraction toward zero, as
 * PyTorch does). A value outside int32's range, NaN or an infinity is a ValueError naming `op`
 * and where the value was (`at`): PyTorch's "value cannot be converted to type int32 without
 * overflow", where a typed array would silently wrap it.
 */
export function int32Value(op: string, v: number | bigint, at = ''): number {
  const n = Number(v);
  if (typeof v === 'bigint' ? v < -2147483648n || v > 2147483647n : !fitsInt32(n)) {
    throw new ValueError(`${op}: value ${v}${at} cannot be converted to int32 without overflow (int32 holds -2147483648 to 2147483647; tapegrad has no int64: float64 holds integers exactly up to 2^53)`);
  }
  return n;
}
/** Return `dtype` if it is a dtype; otherwise throw a DTypeError naming `op` and `arg`. */
export function checkDType(op: string, arg: string, dtype: unknown): DType {
  if (typeof dtype === 'string' && (DTYPES as readonly string[]).includes(dtype)) return dtype as DType;
  throw new DTypeError(`${op}: ${arg} must be one of ${DTYPES.join(', ')}; got ${String(dtype)}`);
}

// bool < int < float: PyTorch's type categories.
const CATEGORY = { bool: 0, int32: 1, float16: 2, bfloat16: 2, float32: 2, float64: 2 } as const;
const RANK = { bool: 0, int32: 1, float16: 2, bfloat16: 2, float32: 3, float64: 4 } as const;

/**
 * The wider of two dtypes (torch.promote_types). float16 and bfloat16 hold different ranges and
 * precisions, so neither holds the other: together they promote to float32, as in PyTorch.
 */
export function promoteTypes(a: DType, b: DType): DType {
  if (a !== b && RANK[a] === RANK[b]) return 'float32';
  return RANK[a] >= RANK[b] ? a : b;
}

/**
 * PyTorch's result_type for an op's operands: dimensioned tensors decide the dtype, and a
 * 0-d tensor or a number only lifts it into a higher category, to its own dtype (int tensor +
 * 0.5 is float32, int tensor + float16 0-d tensor float16, float32 tensor + float64 0-d tensor
 * stays float32, float16 tensor + float32 0-d tensor stays float16).
 */
export function resultType(operands: readonly { dtype: DType; zeroDim: boolean }[]): DType {
  let dim: DType | undefined;
  let zero: DType | undefined;
  for (const o of operands) {
    if (o.zeroDim) zero = zero === undefined ? o.dtype : promoteTypes(zero, o.dtype);
    else dim = dim === undefined ? o.dtype : promoteTypes(dim, o.dtype);
  }
  if (dim === undefined) return zero!;
  // a number is a 0-d tensor of its scalarDType already (float32 next to an int tensor)
  return zero === undefined || CATEGORY[zero] <= CATEGORY[dim] ? dim : zero;
}

/** The dtype a plain JS number takes next to a tensor of `like` dtype. */
export function scalarDType(value: number | boolean, like: DType): DType {
  if (typeof value === 'boolean') return like;
  if (!Number.isInteger(value)) return isFloating(like) ? like : 'float32';
  return like === 'bool' ? 'int32' : like;
}
