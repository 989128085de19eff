import { getBackend, getDefaultDevice, type Device } from './backend.js';
import { checkDType, dtypeOfArray, int32Value, isFloating, isHalf, storageArray, valueArray, type DType, type TypedArray } from './dtype.js';
import { DTypeError, ShapeError, ValueError } from './errors.js';
import { checkShape, fmt, numel, unravelIndex, type Shape } from './shape.js';
import { defaultGenerator, type Generator } from './random.js';
import { Tensor, type NestedArray } from './tensor.js';
import { trace } from './compile/hooks.js';

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

/**
 * @internal wrap a host array as a new tensor on `device`: the storage's own kind of array, or
 * for float16 and bfloat16 either their bit patterns (a Uint16Array) or values to round (any
 * other array). `op` names the caller in errors.
 */
export function fromArray(data: TypedArray, shape: Shape, dtype: DType, options: CreateOptions = {}, op = 'fromArray'): Tensor {
  const device = options.device ?? getDefaultDevice();
  const t = Tensor.empty(device, shape, dtype, op);
  data = storageArray(dtype, data);
  getBackend(device).write(t.storage.handle, data);
  trace?.write(t.storage, data.slice());
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}
/**
 * @internal fromArray for data drawn from a generator: a compiled function's replay calls
 * `draw` again (the same generator, at the same point), so it gets the numbers eager would.
 */
export function fromDraw(draw: () => TypedArray, shape: Shape, dtype: DType, options: CreateOptions = {}, op = 'fromDraw'): Tensor {
  const device = options.device ?? getDefaultDevice();
  const t = Tensor.empty(device, shape, dtype, op);
  const drawn = () => storageArray(dtype, draw());
  getBackend(device).write(t.storage.handle, drawn());
  trace?.write(t.storage, drawn);
  if (options.requiresGrad) t.requiresGrad_(true);
  return t;
}

function dtypeOption(op: string, options: CreateOptions, fallback: DType): DType {
  return options.dtype === undefined ? fallback : checkDType(op, 'dtype', options.dtype);
}

/** Typed arrays tensor() reads: the storage arrays, other integer arrays, and int64 as BigInt64Array. */
export type HostArray = TypedArray | Int8Array | Int16Array | Uint16Array | Uint32Array | Uint8ClampedArray | BigInt64Array | BigUint64Array;

const isSequence = (v: unknown): v is ArrayLike<unknown> => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
const at = (path: readonly number[]) => (path.length ? ` at index [${path.join(', ')}]` : '');
function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'bigint') return `the bigint ${v}n (pass int64 data as a BigInt64Array)`;
  if ((v as { __isTensor?: boolean }).__isTensor) return 'a Tensor (combine tensors with stack or cat)';
  if (isSequence(v)) return `a sequence of length ${v.length}`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * The elements of nested arrays (typed arrays may be nested too), in row-major order, checked
 * on the way as torch.tensor checks them: the shape is read off the first element at each depth,
 * and every other sequence must match it; every leaf must be a number or a boolean. Holes,
 * undefined, null, strings or objects would otherwise become NaN or 0 without a word.
 */
function flattenNested(op: string, data: unknown): { shape: number[]; values: (number | boolean)[] } {
  const shape: number[] = [];
  for (let d = data; isSequence(d); d = d[0]) {
    shape.push(d.length);
    if (d.length === 0) break;
  }
  const values: (number | boolean)[] = [];
  const path: number[] = [];
  const visit = (v: unknown, depth: number): void => {
    if (depth < shape.length) {
      if (!isSequence(v) || v.length !== shape[depth]) {
        const got = isSequence(v) ? `length ${v.length}` : describe(v);
        throw new ShapeError(`${op}: ragged nested array: expected a sequence of length ${shape[depth]}${at(path)} (the first elements give shape ${fmt(shape)}), got ${got}`);
      }
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        visit(v[i], depth + 1);
        path.pop();
      }
    } else if (typeof v === 'number' || typeof v === 'boolean') {
      values.push(v);
    } else if (isSequence(v)) {
      throw new ShapeError(`${op}: ragged nested array: expected a number${at(path)} (the first elements give shape ${fmt(shape)}), got ${describe(v)}`);
    } else {
      throw new DTypeError(`${op}: element${at(path)} is ${describe(v)}; expected a number or a boolean`);
    }
  };
  visit(data, 0);
  return { shape, values };
}

// What a typed array holds unless a dtype is given: its own storage dtype, int32 for the other
// integer arrays (integers stay integers, as in torch.from_numpy), float32 otherwise.
function hostDType(a: HostArray): DType {
  const own = dtypeOfArray(a);
  if (own) return own;
  return a instanceof Int8Array || a instanceof Int16Array || a instanceof Uint16Array || a instanceof Uint32Array || a instanceof Uint8ClampedArray || a instanceof BigInt64Array || a instanceof BigUint64Array
    ? 'int32'
    : 'float32';
}

/**
 * A tensor from nested arrays, a typed array, a number or a boolean. Unless `dtype` is given,
 * booleans give bool, numbers give float32 (JavaScript cannot tell `1` from `1.0`, so unlike
 * torch.tensor integer-valued lists are not int: pass `dtype: 'int32'`), and a typed array keeps
 * its dtype: Float32Array, Float64Array and Int32Array their own, Uint8Array bool (0 or 1 only),
 * the other integer arrays (Int8Array to Uint32Array, BigInt64Array for int64) int32.
 *
 * Every element is checked, as torch.tensor checks it: an element that is not a number or a
 * boolean (undefined, null, a string, an object, a hole) is a DTypeError, a ragged nesting a
 * ShapeError, and a value that int32 cannot hold (out of range, NaN, an infinity) a ValueError,
 * each naming the element's index. A fraction stored as int32 truncates toward zero.
 */
export function tensor(data: NestedArray | HostArray | readonly number[], options: CreateOptions & { shape?: Shape } = {}): Tensor {
  let values: ArrayLike<number | boolean | bigint>;
  let shape: number[];
  let dtype: DType;
  if (ArrayBuffer.isView(data)) {
    values = data as HostArray;
    shape = [values.length];
    dtype = options.dtype ?? hostDType(data as HostArray);
  } else {
    ({ shape, values } = flattenNested('tensor', data));
    dtype = options.dtype ?? (values.length > 0 && (values as unknown[]).every((v) => typeof v === 'boolean') ? 'bool' : 'float32');
  }
  const dataShape = shape;
  const where = (i: number) => at(dataShape.length ? unravelIndex(i, dataShape) : []);
  if (options.shape) shape = checkShape('tensor', options.shape);
  checkDType('tensor', 'dtype', dtype);
  if (numel(shape) !== values.length) throw new ShapeError(`tensor: shape ${fmt(shape)} needs ${numel(shape)} elements; got ${values.length}`);
  const arr = valueArray(dtype, values.length);
  // a Uint8Array read as bool must hold bools: 128 or 255 are bytes (pixels), and would become true
  const bytesAsBool = data instanceof Uint8Array && options.dtype === undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (dtype === 'bool') {
      if (bytesAsBool && v !== 0 && v !== 1) {
        throw new ValueError(`tensor: a Uint8Array is read as bool (0 or 1), but element${where(i)} is ${v}; pass dtype: 'int32' or 'float32' for byte data`);
      }
      arr[i] = Number(v) !== 0 ? 1 : 0; // NaN is true, as in torch
    } else if (dtype === 'int32') {
      arr[i] = int32Value('tensor', typeof v === 'boolean' ? +v : v, where(i));
    } else {
      arr[i] = Number(v);
    }
  }
  return fromArray(arr, shape, dtype, options, 'tensor');
}

/**
 * A tensor of `shape` filled with `value` (float32 unless `dtype`, or bool for a boolean). An
 * int32 fill outside int32's range (or NaN) is a ValueError, as in PyTorch.
 */
export function full(shape: Shape, value: number | boolean, options: CreateOptions = {}): Tensor {
  shape = checkShape('full', shape);
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new DTypeError(`full: value must be a number or a boolean; got ${describe(value)}`);
  const dtype = dtypeOption('full', options, typeof value === 'boolean' ? 'bool' : 'float32');
  if (dtype === 'int32') int32Value('full', +value);
  const arr = valueArray(dtype, numel(shape));
  if (value !== 0 && value !== false) arr.fill(dtype === 'bool' ? 1 : Number(value));
  return fromArray(arr, shape, dtype, options, 'full');
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

/**
 * Values from start to end (exclusive) by step; int32 when all are integers, as torch.arange
 * (whose int64 tapegrad lacks: a value beyond int32's range is a ValueError, not a wrapped one).
 */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new ValueError(`arange: step must be a finite non-zero number; got ${step}`);
  if ((end - start) / step < 0) throw new ValueError(`arange: the range [${start}, ${end}) cannot be walked with step ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = dtypeOption('arange', options, [start, end, step].every(Number.isInteger) ? 'int32' : 'float32');
  // the values are monotonic: the ends are the extremes
  if (dtype === 'int32' && n > 0) for (const v of [start, start + (n - 1) * step]) int32Value('arange', v);
  const arr = valueArray(dtype, n);
  for (let i = 0; i < n; i++) arr[i] = start + i * step;
  return fromArray(arr, [n], dtype, options, 'arange');
}

/** The n x m identity matrix. */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  checkShape('eye', [n, m]);
  const dtype = dtypeOption('eye', options, 'float32');
  const arr = valueArray(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) arr[i * m + i] = 1;
  return fromArray(arr, [n, m], dtype, options, 'eye');
}

function random(op: string, shape: Shape, options: RandomOptions, sample: (g: Generator) => number): Tensor {
  shape = checkShape(op, shape);
  const dtype = dtypeOption(op, options, 'float32');
  if (!isFloating(dtype)) throw new DTypeError(`${op}: dtype must be floating point; got ${dtype}`);
  const g = options.generator ?? defaultGenerator;
  const n = numel(shape);
  return fromDraw(() => {
    const arr = valueArray(dtype, n);
    for (let i = 0; i < n; i++) arr[i] = sample(g);
    return arr;
  }, shape, dtype, options, op);
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
  if (dtype === 'int32') for (const v of [low, high - 1]) int32Value('randint', v);
  const g = options.generator ?? defaultGenerator;
  const n = numel(shape);
  return fromDraw(() => {
    const arr = valueArray(dtype, n);
    for (let i = 0; i < n; i++) arr[i] = g.int(low, high);
    return arr;
  }, shape, dtype, options, 'randint');
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

// ---- linspace, logspace, randperm (issue 16) ------------------------------------------------

/**
 * `steps` numbers from start to end, evenly spaced, computed as torch's kernel computes them: in
 * the dtype's precision (int32: ends truncated, a float64 step), the first half counted up from
 * start and the second half down from end, so both ends are exact.
 */
function evenly(op: string, start: number, end: number, steps: number, dtype: DType): number[] {
  if (!Number.isInteger(steps) || steps < 0) throw new ValueError(`${op}: steps must be a non-negative integer; got ${steps}`);
  // float16 and bfloat16 compute in float32, as their kernels do, and round when stored
  const f = dtype === 'float32' || isHalf(dtype) ? Math.fround : dtype === 'int32' ? Math.trunc : (v: number) => v;
  const [s, e] = [f(start), f(end)];
  if (steps === 1) return [s];
  const step = dtype === 'int32' ? (e - s) / (steps - 1) : f(f(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  const fs = dtype === 'int32' ? (v: number) => v : f;
  return Array.from({ length: steps }, (_, i) => (i < half ? fs(s + fs(step * i)) : fs(e - fs(step * (steps - 1 - i)))));
}
function spacedDType(op: string, options: CreateOptions): DType {
  const dtype = dtypeOption(op, options, 'float32');
  if (dtype === 'bool') throw new DTypeError(`${op}: dtype must be a number type; got bool`);
  return dtype;
}
/** `steps` values evenly spaced from start to end inclusive (torch.linspace); float32 unless a dtype is given (int32 truncates). */
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  const dtype = spacedDType('linspace', options);
  const values = evenly('linspace', start, end, steps, dtype);
  const arr = valueArray(dtype, steps);
  values.forEach((v, i) => (arr[i] = dtype === 'int32' ? int32Value('linspace', Math.trunc(v)) : v));
  return fromArray(arr, [steps], dtype, options, 'linspace');
}
/**
 * `steps` values from base^start to base^end, their exponents evenly spaced (torch.logspace);
 * base 10 by default, float32 unless a dtype is given.
 */
export function logspace(start: number, end: number, steps: number, base = 10, options: CreateOptions = {}): Tensor {
  const dtype = spacedDType('logspace', options);
  const exponents = evenly('logspace', start, end, steps, dtype);
  const arr = valueArray(dtype, steps);
  exponents.forEach((x, i) => (arr[i] = dtype === 'int32' ? int32Value('logspace', Math.trunc(base ** x)) : base ** x));
  return fromArray(arr, [steps], dtype, options, 'logspace');
}
/**
 * A random order of 0 … n-1, int32 unless a dtype is given (torch.randperm), drawn from the
 * generator's `permutation`, the shuffle the DataLoader uses.
 */
export function randperm(n: number, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new ValueError(`randperm: n must be a non-negative integer; got ${n}`);
  const dtype = dtypeOption('randperm', options, 'int32');
  if (dtype === 'bool') throw new DTypeError('randperm: dtype must be a number type; got bool');
  if (dtype === 'float32' && n > 2 ** 24) throw new ValueError(`randperm: n = ${n} is past 2^24, the last integer float32 holds exactly; use int32 or float64`);
  const g = options.generator ?? defaultGenerator;
  return fromDraw(() => {
    const order = g.permutation(n);
    return dtype === 'int32' ? order : valueArray(dtype, n).map((_, i) => order[i]!);
  }, [n], dtype, options, 'randperm');
}
