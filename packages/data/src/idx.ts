import { allocArray, tensor, type CreateOptions, type DType, type Tensor } from '@tapegrad/tensor';
import { FormatError } from './errors.js';

// The IDX format (LeCun's MNIST files): two zero bytes, a type code, the number of dims, then
// each dim as a big-endian u32, then the values, big-endian, row-major.

/** The element types of the IDX format, by the names of its spec (ubyte is code 0x08, double 0x0E). */
export type IdxDType = 'ubyte' | 'sbyte' | 'short' | 'int' | 'float' | 'double';
/** The typed array that holds an IDX file's values, one per {@link IdxDType}. */
export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

interface IdxType {
  code: number;
  bytes: number;
  Array: { new (length: number): IdxArray };
  get(view: DataView, at: number): number;
  set(view: DataView, at: number, value: number): void;
}
const TYPES: Record<IdxDType, IdxType> = {
  ubyte: { code: 0x08, bytes: 1, Array: Uint8Array, get: (v, i) => v.getUint8(i), set: (v, i, x) => v.setUint8(i, x) },
  sbyte: { code: 0x09, bytes: 1, Array: Int8Array, get: (v, i) => v.getInt8(i), set: (v, i, x) => v.setInt8(i, x) },
  short: { code: 0x0b, bytes: 2, Array: Int16Array, get: (v, i) => v.getInt16(i), set: (v, i, x) => v.setInt16(i, x) },
  int: { code: 0x0c, bytes: 4, Array: Int32Array, get: (v, i) => v.getInt32(i), set: (v, i, x) => v.setInt32(i, x) },
  float: { code: 0x0d, bytes: 4, Array: Float32Array, get: (v, i) => v.getFloat32(i), set: (v, i, x) => v.setFloat32(i, x) },
  double: { code: 0x0e, bytes: 8, Array: Float64Array, get: (v, i) => v.getFloat64(i), set: (v, i, x) => v.setFloat64(i, x) },
};
const BY_CODE = new Map(Object.entries(TYPES).map(([name, t]) => [t.code, name as IdxDType]));
const hex = (n: number) => `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;

/** An IDX array as {@link readIdx} returns it and {@link idxToTensor} takes it. */
export interface IdxData {
  /** The element type named in the file's header. */
  dtype: IdxDType;
  /** The dims from the file's header, outermost first. */
  shape: number[];
  /** The values in row-major order, in the platform's byte order. */
  data: IdxArray;
}

/** Parse an IDX file's bytes. Corrupted or truncated input throws a FormatError saying what is wrong. */
export function readIdx(bytes: Uint8Array, name = 'IDX data'): IdxData {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new FormatError(`readIdx: ${name} is ${bytes.length} bytes, too short for the 4-byte IDX magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new FormatError(`readIdx: ${name} has a bad magic number ${hex(bytes[0]!)} ${hex(bytes[1]!)} ${hex(bytes[2]!)} ${hex(bytes[3]!)}; an IDX file starts with two zero bytes, a type code and the number of dims`);
  }
  const dtype = BY_CODE.get(bytes[2]!);
  if (dtype === undefined) {
    throw new FormatError(`readIdx: ${name} has unknown type code ${hex(bytes[2]!)}; expected one of ${[...BY_CODE].map(([c, n]) => `${hex(c)} (${n})`).join(', ')}`);
  }
  const ndim = bytes[3]!;
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new FormatError(`readIdx: ${name} is truncated: its header declares ${ndim} dims, which needs ${headerBytes} bytes; got ${bytes.length}`);
  }
  const shape: number[] = [];
  for (let d = 0; d < ndim; d++) shape.push(view.getUint32(4 + 4 * d));
  const type = TYPES[dtype];
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.bytes;
  if (bytes.length !== expected) {
    throw new FormatError(
      `readIdx: ${name} has the wrong size: a ${dtype} array of shape [${shape.join(',')}] needs ${expected} bytes (${headerBytes} header + ${count * type.bytes} data); got ${bytes.length}` +
        (bytes.length < expected ? ' (truncated)' : ' (trailing bytes)'),
    );
  }
  let data: IdxArray;
  if (type.bytes === 1) {
    data = new type.Array(count);
    data.set(bytes.subarray(headerBytes) as Uint8Array & Int8Array);
  } else {
    data = new type.Array(count);
    for (let i = 0, at = headerBytes; i < count; i++, at += type.bytes) data[i] = type.get(view, at);
  }
  return { dtype, shape, data };
}

/** The bytes of an IDX file holding `data` of `shape` as `dtype` (the inverse of readIdx). */
export function writeIdx(dtype: IdxDType, shape: readonly number[], data: ArrayLike<number>): Uint8Array {
  const type = TYPES[dtype];
  if (!type) throw new FormatError(`writeIdx: unknown IDX dtype '${String(dtype)}'; expected one of ${Object.keys(TYPES).join(', ')}`);
  if (shape.length > 255) throw new FormatError(`writeIdx: IDX holds at most 255 dims; got ${shape.length}`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new FormatError(`writeIdx: shape [${shape.join(',')}] needs ${count} values; got ${data.length}`);
  const headerBytes = 4 + 4 * shape.length;
  const bytes = new Uint8Array(headerBytes + count * type.bytes);
  const view = new DataView(bytes.buffer);
  bytes[2] = type.code;
  bytes[3] = shape.length;
  shape.forEach((n, d) => view.setUint32(4 + 4 * d, n));
  for (let i = 0, at = headerBytes; i < count; i++, at += type.bytes) type.set(view, at, data[i]!);
  return bytes;
}

const TENSOR_DTYPE: Record<IdxDType, DType> = { ubyte: 'int32', sbyte: 'int32', short: 'int32', int: 'int32', float: 'float32', double: 'float64' };

/**
 * A tensor holding an IDX array: integer types become int32, float float32, double float64,
 * unless `options.dtype` says otherwise.
 */
export function idxToTensor(idx: IdxData, options: CreateOptions = {}): Tensor {
  const dtype = options.dtype ?? TENSOR_DTYPE[idx.dtype];
  const values = allocArray(dtype, idx.data.length);
  values.set(idx.data);
  return tensor(values, { ...options, dtype, shape: idx.shape });
}
