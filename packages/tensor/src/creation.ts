import { getBackend, getDefaultDevice, type Device } from './backend.js';
import { allocArray, checkDType, dtypeOfArray, isFloating, type DType, type TypedArray } from './dtype.js';
import { DTypeError, ShapeError, ValueError } from './errors.js';
import { checkShape, fmt, numel, type Shape } from './shape.js';
import { defaultGenerator, type Generator } from './random.js';
import { Tensor, type NestedArray } from './tensor.js';

/** Options of the creation functions. */
export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}
/** Options of the random creation functions. */
export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

/** @internal wrap a host array as a new tensor on `device`. */
export function fromArray(data: TypedArray, shape: Shape, dtype: DType, options: CreateOptions = {}): Tensor {
  const device = options.device ?? getDefaultDevice();
  const t = Tensor.empty(device, shape, dtype);
  getBackend(device).write(t.storage.handle, data);
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

function dtypeOption(op: string, options: CreateOptions, fallback: DType): DType {
  return options.dtype === undefined ? fallback : checkDType(op, 'dtype', options.dtype);
}

function inferNested(op: string, data: NestedArray, shape: number[] = [], depth = 0): number[] {
  if (Array.isArray(data)) {
    if (depth === shape.length) shape.push(data.length);
    else if (shape[depth] !== data.length) throw new ShapeError(`${op}: ragged nested array: expected length ${shape[depth]} at depth ${depth}, got ${data.length}`);
    for (const d of data) inferNested(op, d, shape, depth + 1);
  } else if (depth !== shape.length) {
    throw new ShapeError(`${op}: ragged nested array: a number at depth ${depth} where arrays of length ${shape[depth]} were expected`);
  }
  return shape;
}

/**
 * A tensor from nested arrays, a typed array, a number or a boolean. Unless `dtype` is given,
 * booleans give bool, a typed array keeps its type, and numbers give float32: JavaScript cannot
 * tell `1` from `1.0`, so unlike torch.tensor integer-valued lists are not int (pass
 * `dtype: 'int32'`). BigInt64Array input (int64) is converted to int32 with a range check.
 */
export function tensor(data: NestedArray | TypedArray | BigInt64Array | readonly number[], options: CreateOptions & { shape?: Shape } = {}): Tensor {
  if (data instanceof BigInt64Array) return fromBigInt(data, options);
  let flat: ArrayLike<number | boolean>;
  let shape: number[];
  let dtype: DType;
  if (ArrayBuffer.isView(data)) {
    flat = data as TypedArray;
    shape = options.shape ? checkShape('tensor', options.shape) : [flat.length];
    dtype = options.dtype ?? dtypeOfArray(flat) ?? 'float32';
  } else {
    shape = inferNested('tensor', data as NestedArray);
    flat = Array.isArray(data) ? ((data as unknown[]).flat(Infinity) as (number | boolean)[]) : [data as number];
    const allBool = flat.length > 0 && Array.prototype.every.call(flat, (v: unknown) => typeof v === 'boolean');
    dtype = options.dtype ?? (allBool ? 'bool' : 'float32');
    if (options.shape) shape = checkShape('tensor', options.shape);
  }
  checkDType('tensor', 'dtype', dtype);
  if (numel(shape) !== flat.length) throw new ShapeError(`tensor: shape ${fmt(shape)} needs ${numel(shape)} elements; got ${flat.length}`);
  const arr = allocArray(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = Number(flat[i]);
    arr[i] = dtype === 'bool' ? (v !== 0 ? 1 : 0) : v;
  }
  return fromArray(arr, shape, dtype, options);
}

function fromBigInt(data: BigInt64Array, options: CreateOptions & { shape?: Shape }): Tensor {
  const dtype = options.dtype ?? 'int32';
  const arr = allocArray(dtype, data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (dtype === 'int32' && (v > 2147483647n || v < -2147483648n)) {
      throw new ValueError(`tensor: int64 value ${v} at index ${i} does not fit in int32`);
    }
    arr[i] = Number(v);
  }
  return fromArray(arr, options.shape ? checkShape('tensor', options.shape) : [data.length], dtype, options);
}

/** A tensor of `shape` filled with `value` (float32 unless `dtype`, or bool for a boolean). */
export function full(shape: Shape, value: number | boolean, options: CreateOptions = {}): Tensor {
  shape = checkShape('full', shape);
  const dtype = dtypeOption('full', options, typeof value === 'boolean' ? 'bool' : 'float32');
  const arr = allocArray(dtype, numel(shape));
  if (value !== 0 && value !== false) arr.fill(dtype === 'bool' ? 1 : Number(value));
  return fromArray(arr, shape, dtype, options);
}
/** A tensor of `shape` filled with 0. */
export function zeros(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 0, options);
}
/** A tensor of `shape` filled with 1. */
export function ones(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}
function likeOptions(t: Tensor, options: CreateOptions): CreateOptions {
  return { dtype: t.dtype, device: t.device, ...options };
}
/** Zeros with `t`'s shape, dtype and device (unless overridden). */
export function zerosLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return zeros(t.shape, likeOptions(t, options));
}
/** Ones with `t`'s shape, dtype and device (unless overridden). */
export function onesLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return ones(t.shape, likeOptions(t, options));
}
/** `value` everywhere, with `t`'s shape, dtype and device (unless overridden). */
export function fullLike(t: Tensor, value: number, options: CreateOptions = {}): Tensor {
  return full(t.shape, value, likeOptions(t, options));
}

/** Values from start to end (exclusive) by step; int32 when all are integers, as torch.arange. */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new ValueError(`arange: step must be a finite non-zero number; got ${step}`);
  if ((end - start) / step < 0) throw new ValueError(`arange: the range [${start}, ${end}) cannot be walked with step ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = dtypeOption('arange', options, [start, end, step].every(Number.isInteger) ? 'int32' : 'float32');
  const arr = allocArray(dtype, n);
  for (let i = 0; i < n; i++) arr[i] = start + i * step;
  return fromArray(arr, [n], dtype, options);
}

/** The n x m identity matrix. */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  checkShape('eye', [n, m]);
  const dtype = dtypeOption('eye', options, 'float32');
  const arr = allocArray(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) arr[i * m + i] = 1;
  return fromArray(arr, [n, m], dtype, options);
}

function random(op: string, shape: Shape, options: RandomOptions, sample: (g: Generator) => number): Tensor {
  shape = checkShape(op, shape);
  const dtype = dtypeOption(op, options, 'float32');
  if (!isFloating(dtype)) throw new DTypeError(`${op}: dtype must be floating point; got ${dtype}`);
  const g = options.generator ?? defaultGenerator;
  const arr = allocArray(dtype, numel(shape));
  for (let i = 0; i < arr.length; i++) arr[i] = sample(g);
  return fromArray(arr, shape, dtype, options);
}
/** Uniform on [0, 1). */
export function rand(shape: Shape, options: RandomOptions = {}): Tensor {
  return random('rand', shape, options, (g) => g.next());
}
/** Standard normal. */
export function randn(shape: Shape, options: RandomOptions = {}): Tensor {
  return random('randn', shape, options, (g) => g.normal());
}
/** Integers in [low, high), int32 unless a dtype is given. */
export function randint(low: number, high: number, shape: Shape, options: RandomOptions = {}): Tensor {
  shape = checkShape('randint', shape);
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new ValueError(`randint: expected integers low < high; got low=${low}, high=${high}`);
  }
  const dtype = dtypeOption('randint', options, 'int32');
  const g = options.generator ?? defaultGenerator;
  const arr = allocArray(dtype, numel(shape));
  for (let i = 0; i < arr.length; i++) arr[i] = g.int(low, high);
  return fromArray(arr, shape, dtype, options);
}
/** Uniform [0, 1) samples with `t`'s shape, dtype and device. */
export function randLike(t: Tensor, options: RandomOptions = {}): Tensor {
  return rand(t.shape, likeOptions(t, options));
}
/** Standard normal samples with `t`'s shape, dtype and device. */
export function randnLike(t: Tensor, options: RandomOptions = {}): Tensor {
  return randn(t.shape, likeOptions(t, options));
}
/** Integers uniform in [low, high) with `t`'s shape and device. */
export function randintLike(t: Tensor, low: number, high: number, options: RandomOptions = {}): Tensor {
  return randint(low, high, t.shape, { device: t.device, ...options });
}
