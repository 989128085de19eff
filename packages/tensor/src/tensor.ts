import { getBackend, type Backend, type Device, type TensorView } from './backend.js';
import { bytesPerElement, DTYPES, isFloating, isHalf, type DType, type TypedArray } from './dtype.js';
import { widenHalf } from './half.js';
import { DeviceError, DTypeError, TapegradError, ValueError } from './errors.js';
import { countBytes, countTensor, memory, track } from './memory.js';
import { contiguousStrides, fmt, numel, shapesEqual, type Shape } from './shape.js';
import * as ops from './ops/index.js';
import { formatTensor, inspectCustom } from './format.js';
import { trace } from './compile/hooks.js';

/** A reference-counted block of backend memory; views share one. */
export class Storage {
  private refs = 1;
  /**
   * Bumped by every in-place write (torch's version counter, which views share): a tensor saved
   * for backward remembers it, and backward refuses a saved tensor written since.
   */
  version = 0;
  /** Whether a view op (reshape, transpose, slice, ...) has made a second tensor over this storage. */
  viewed = false;
  constructor(
    readonly backend: Backend,
    readonly handle: unknown,
    readonly dtype: DType,
    readonly length: number,
  ) {
    countBytes(backend.name, length * bytesPerElement(dtype));
  }
  /**
   * Allocate storage on `device`: zero-filled unless `zero` is false (the caller writes every
   * element). A dtype the device cannot hold is a DTypeError naming `op`.
   */
  static alloc(device: Device, dtype: DType, length: number, zero = true, op = 'alloc'): Storage {
    const backend = getBackend(device);
    const why = backend.unsupportedDTypes?.[dtype];
    if (why) throw new DTypeError(`${op}: a ${dtype} tensor cannot live on '${device}': ${why}`);
    const s = new Storage(backend, backend.alloc(dtype, length, zero), dtype, length);
    trace?.alloc(s, zero);
    return s;
  }
  /** How many tensors share this storage. */
  get refCount(): number {
    return this.refs;
  }
  /** Add a reference (a new tensor sharing this storage). */
  retain(): this {
    // a reference to freed storage would share the block with its next owner: wrong values, silently
    if (this.refs <= 0) throw new TapegradError('internal error: a tensor took a reference to storage that was already freed (use after free); please report this');
    this.refs++;
    return this;
  }
  /** Drop a reference; the last one frees the memory. */
  release(): void {
    if (this.refs <= 0) throw new TapegradError('internal error: storage released more times than it was referenced (double free); please report this');
    if (--this.refs === 0) {
      countBytes(this.backend.name, -this.length * bytesPerElement(this.dtype));
      this.backend.free(this.handle, this.dtype, this.length);
    }
  }
}

/** The node that produced a tensor, as @tapegrad/autograd records it (opaque here). */
export interface GradFn {
  readonly op: string;
}
/** Installed by @tapegrad/autograd; the tensor core works without it (no gradients). */
export interface AutogradHooks {
  /** Whether ops are being recorded. */
  isGradEnabled(): boolean;
  /** Record an op that ran on inputs that require grad. */
  record(op: string, inputs: readonly Tensor[], outputs: readonly Tensor[], attrs: unknown): void;
  /** Run backward from `t`. */
  backward(t: Tensor, grad: Tensor | undefined, options: BackwardOptions): void;
}
/** Options of Tensor.backward. */
export interface BackwardOptions {
  /** Keep the graph's saved tensors so backward can run through it again. */
  retainGraph?: boolean;
}
let autograd: AutogradHooks | undefined;
/** Called by @tapegrad/autograd when it loads, to hook recording and backward into the tensor core. */
export function installAutograd(hooks: AutogradHooks): void {
  autograd = hooks;
}
/** The installed autograd hooks (undefined when autograd is not loaded). */
export function autogradHooks(): AutogradHooks | undefined {
  return autograd;
}

// A safety net for tensors that become unreachable without dispose(): their storage reference
// is released when they are collected. dispose()/tidy are the real mechanism. A tensor joins it
// only once no scope holds it (made outside every scope, kept, or returned from the outermost):
// a scope's strong reference means it cannot be collected before the scope disposes it, and
// registering each of a training step's temporaries cost about 6% of an MNIST epoch.
// Each registration holds the storage of one tensor (views register their own), so a collection
// uncounts exactly one tensor and drops exactly one storage reference, as dispose() does.
const finalizer = new FinalizationRegistry<Storage>((s) => {
  countTensor(s.backend.name, -1);
  s.release();
});
// Tensors registered with the finalizer and not disposed, alive or collected since: what was left
// to the collector. A loop that never disposes adds to it every step, and the collector frees late:
// it sees the small JS objects, not the storage, and runs finalizers only in a task of their own.
let leftToCollector = 0;
const WARN_AT = 10_000;
let warned = false;
// A read on the CPU resolves as a microtask, so a loop that awaits nothing else never lets the
// event loop run the finalizers of what the collector found: after each TURN_EVERY more tensors
// left to the collector, a read gives the event loop one turn (about a millisecond in Node).
const TURN_EVERY = 1000;
let turnMark = 0;
function finalizerTurn(): Promise<void> | undefined {
  turnMark = Math.min(turnMark, leftToCollector);
  if (leftToCollector < turnMark + TURN_EVERY) return undefined;
  turnMark = leftToCollector;
  return new Promise((r) => setTimeout(r, 0));
}

/** Nested arrays of numbers or booleans, as tensor() takes and toArray() returns. */
export type NestedArray = number | boolean | NestedArray[];

/**
 * An n-dimensional array on a device. Views (reshape, transpose, slice...) share storage;
 * `dispose()` releases this tensor's reference to it.
 */
export class Tensor implements Disposable {
  /** @internal marks tensors for scope collection without an instanceof across copies */
  readonly __isTensor = true;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  /** @internal */
  storage: Storage;
  /** Whether autograd records ops on this tensor. Set with requiresGrad_(). */
  requiresGrad = false;
  private gradValue: Tensor | null = null;
  /** The recorded op that produced this tensor (null for leaves). */
  gradFn: GradFn | null = null;
  /** @internal which output of gradFn this is */
  outputIndex = 0;
  private disposedFlag = false;
  private guarded = false;

  /** @internal use the creation functions (tensor, zeros, ...) or ops. */
  constructor(storage: Storage, shape: Shape, strides: readonly number[], offset: number, dtype: DType, tracked = true) {
    this.storage = storage;
    // a frozen array (another tensor's shape, as most ops' outputs reuse) can be shared as it is
    this.shape = Object.isFrozen(shape) ? shape : Object.freeze(shape.slice());
    this.strides = Object.isFrozen(strides) ? strides : Object.freeze(strides.slice());
    this.offset = offset;
    this.dtype = dtype;
    countTensor(storage.backend.name, 1);
    if (!(tracked && track(this))) this.guard();
    trace?.created(this, tracked);
  }

  /** The gradient accumulated by backward(), for tensors that require grad. */
  get grad(): Tensor | null {
    trace?.grad(this, this.gradValue);
    return this.gradValue;
  }
  set grad(g: Tensor | null) {
    trace?.grad(this, this.gradValue);
    this.gradValue = g;
  }

  /** @internal no scope holds this tensor any longer: release its storage if it is collected undisposed. */
  guard(): void {
    if (this.guarded || this.disposedFlag) return;
    this.guarded = true;
    finalizer.register(this, this.storage, this);
    if (++leftToCollector >= WARN_AT && !warned) {
      warned = true;
      console.warn(
        `tapegrad: ${leftToCollector} tensors were left to the garbage collector: made outside every tidy() and scope, or saved ` +
          `by autograd for a backward() that never ran, and never disposed (${memory().tensors} tensors are alive now, says ` +
          'memory().tensors). The collector frees them late, after their memory piles up; GPU memory, or a loop that never ' +
          'yields to the event loop, may run out first. Run each step in tidy(() => ...) or `await withScope(async () => ...)` ' +
          '(or open `using s = scope()` in the loop body), dispose() the tensors you are done with, and compute what needs no ' +
          'gradient under noGrad(). (This warning is shown once.)',
      );
    }
  }

  /** @internal a fresh contiguous tensor on `device`; `op` names the caller in errors. */
  static empty(device: Device, shape: Shape, dtype: DType, op?: string): Tensor {
    return new Tensor(Storage.alloc(device, dtype, numel(shape), true, op), shape, contiguousStrides(shape), 0, dtype);
  }

  get device(): Device {
    return this.storage.backend.name;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }
  /** Alias of size, as torch.numel. */
  numel(): number {
    return numel(this.shape);
  }
  /** How many in-place writes this tensor's storage has had (torch's `_version`; views share it). */
  get version(): number {
    return this.storage.version;
  }
  get isDisposed(): boolean {
    return this.disposedFlag;
  }
  /** A leaf is a tensor not produced by a recorded op. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }
  /** Whether the elements lie in row-major order without gaps (views often do not). */
  isContiguous(): boolean {
    let s = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      const d = this.shape[i]!;
      if (d !== 1 && this.strides[i] !== s) return false;
      s *= d;
    }
    return true;
  }
  /** @internal what a kernel sees */
  kernelView(): TensorView {
    this.assertLive('read');
    return { handle: this.storage.handle, dtype: this.dtype, shape: this.shape, strides: this.strides, offset: this.offset };
  }
  /** @internal */
  assertLive(op: string): void {
    if (this.disposedFlag) throw new TapegradError(`${op}: tensor of shape ${fmt(this.shape)} was disposed`);
  }

  /**
   * @internal Throw unless {@link Tensor.adoptStorage} can move this tensor: a live leaf that is
   * its storage's whole row-major layout (not a view into it). `what` names it for the message
   * ("Module.to: parameter 'fc.weight'").
   */
  assertMovable(what: string): void {
    const it = `${what} (shape ${fmt(this.shape)})`;
    if (this.disposedFlag) throw new TapegradError(`${it} was disposed`);
    if (this.gradFn) throw new TapegradError(`${it} is the output of '${this.gradFn.op}', not a leaf: only leaf tensors (parameters, buffers) move in place`);
    if (this.offset !== 0 || !this.isContiguous() || this.storage.length !== this.size) {
      throw new TapegradError(`${it} is a view (offset ${this.offset}, strides ${fmt(this.strides)} into ${this.storage.length} elements): only a tensor that spans its whole storage moves in place; give it its own storage with clone() first`);
    }
  }
  /**
   * @internal Move this tensor to another device, or convert it to another dtype, under the same
   * object, by taking the storage (and dtype) of `copy` (the same values there, as `to`/`toAsync`/`cast`
   * make it; disposed here) in place of its own.
   * Module.to moves parameters this way so that optimizers holding them keep working, as PyTorch
   * keeps parameter identity by swapping `param.data`. Tensors that shared the old storage
   * (views taken before, a recorded graph's saved tensors) keep it, and no longer alias this one.
   */
  adoptStorage(copy: Tensor): void {
    this.assertMovable('adoptStorage: tensor');
    if (copy.isDisposed || !shapesEqual(copy.shape, this.shape) || copy.offset !== 0 || !copy.isContiguous() || copy.storage.refCount !== 1) {
      throw new TapegradError('internal error: adoptStorage needs a live contiguous copy of the same shape that owns its storage');
    }
    const old = this.storage;
    this.storage = copy.storage.retain();
    // Module.to(dtype) converts in place too (issue 18), as PyTorch swaps param.data for a cast copy
    (this as { dtype: DType }).dtype = copy.dtype;
    copy.dispose();
    this.storage.version = old.version; // the same tensor, moved: torch keeps _version across .to()
    countTensor(old.backend.name, -1);
    countTensor(this.storage.backend.name, 1);
    if (this.guarded) {
      // the registration holds the storage to release: it must be the one this tensor now owns
      finalizer.unregister(this);
      finalizer.register(this, this.storage, this);
    }
    old.release();
  }

  /** Release this tensor's storage reference (idempotent). */
  dispose(): void {
    if (this.disposedFlag) return;
    trace?.disposed(this);
    this.disposedFlag = true;
    if (this.guarded) {
      finalizer.unregister(this);
      leftToCollector--;
    }
    countTensor(this.storage.backend.name, -1);
    this.storage.release();
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }
  /** Dispose at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- reading -------------------------------------------------------------------------
  /**
   * The elements in row-major order, as a new typed array: the storage's own kind of array, but
   * for float16 and bfloat16 a Float32Array of their exact values (as torch's `tolist()` gives
   * floats; `rawData` has the bit patterns).
   */
  async data(): Promise<TypedArray> {
    return values(this.dtype, await this.rawData());
  }
  /** The elements, synchronously: CPU only (float16 and bfloat16 as a Float32Array of their values, as {@link Tensor.data}). */
  dataSync(): TypedArray {
    return values(this.dtype, this.rawDataSync());
  }
  /**
   * The elements in row-major order as the storage holds them: for float16 and bfloat16 a
   * Uint16Array of bit patterns (what a checkpoint stores), else the same as {@link Tensor.data}.
   */
  async rawData(): Promise<TypedArray> {
    trace?.read('data()');
    const c = this.contiguousRaw();
    let out: TypedArray;
    try {
      out = await c.storage.backend.read(c.storage.handle, c.dtype, c.storage.length).then((a) => a.slice(c.offset, c.offset + this.size));
    } finally {
      if (c !== this) c.dispose();
    }
    const turn = finalizerTurn();
    if (turn) await turn;
    return out;
  }
  /** {@link Tensor.rawData}, synchronously: CPU only. */
  rawDataSync(): TypedArray {
    trace?.read('dataSync()');
    const backend = this.storage.backend;
    if (!backend.readSync) {
      throw new DeviceError(`dataSync: tensor is on '${this.device}', which cannot be read synchronously; use \`await t.data()\``);
    }
    const c = this.contiguousRaw();
    const all = backend.readSync(c.storage.handle, c.dtype, c.storage.length);
    const out = all.slice(c.offset, c.offset + this.size);
    if (c !== this) c.dispose();
    return out;
  }
  /** Nested arrays like the tensor's shape (a number for a 0-d tensor); bools as booleans (torch's `tolist()`). */
  async toArray(): Promise<NestedArray> {
    return nest(await this.data(), this.shape, this.dtype);
  }
  /** The nested-array form, synchronously: CPU only (torch's `tolist()`). */
  arraySync(): NestedArray {
    return nest(this.dataSync(), this.shape, this.dtype);
  }
  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new ValueError(`item: only one-element tensors can be converted to a number; got shape ${fmt(this.shape)}`);
    return (await this.data())[0]!;
  }
  /** The value of a one-element tensor, synchronously: CPU only (torch's `item()`). */
  itemSync(): number {
    if (this.size !== 1) throw new ValueError(`item: only one-element tensors can be converted to a number; got shape ${fmt(this.shape)}`);
    return this.dataSync()[0]!;
  }
  /** PyTorch-style printout (CPU tensors print their values). */
  toString(): string {
    if (this.disposedFlag) return `tensor(<disposed>, shape=${fmt(this.shape)})`;
    const values = this.storage.backend.readSync ? this.dataSync() : undefined;
    return formatTensor(this, values);
  }
  /** What console.log(t) and util.inspect(t) print in Node: the values, as {@link Tensor.toString}. */
  [inspectCustom](): string {
    return this.toString();
  }

  private contiguousRaw(): Tensor {
    this.assertLive('data');
    return this.isContiguous() ? this : autogradFree(() => ops.contiguous(this));
  }

  // ---- autograd ----------------------------------------------------------------------------
  /** Set whether autograd should record ops on this leaf tensor (returns this). */
  requiresGrad_(requiresGrad = true): this {
    if (requiresGrad && !isFloating(this.dtype)) {
      throw new DTypeError(`requiresGrad_: only floating-point tensors can require gradients; got ${this.dtype}`);
    }
    if (!requiresGrad && !this.isLeaf) {
      throw new TapegradError('requiresGrad_: cannot turn off gradients of a non-leaf tensor; use detach()');
    }
    this.requiresGrad = requiresGrad;
    return this;
  }
  /** Compute gradients of this tensor with respect to the leaves that require grad. */
  backward(grad?: Tensor, options: BackwardOptions = {}): void {
    if (!autograd) throw new TapegradError("backward: autograd is not loaded; import 'tapegrad' or '@tapegrad/autograd'");
    if (trace) {
      trace.backward();
      if (grad) trace.see(grad);
    }
    autograd.backward(this, grad, options);
  }
  /** A view of the same data that autograd does not track. */
  detach(): Tensor {
    this.assertLive('detach');
    trace?.see(this);
    return new Tensor(this.storage.retain(), this.shape, this.strides, this.offset, this.dtype);
  }
  /**
   * Copy to another device, or convert to another dtype (a dtype's name: 'float16',
   * 'float32', ...; recorded by autograd, as torch's `x.to(torch.float16)`); returns this tensor
   * if it is there already.
   */
  to(deviceOrDType: Device | DType): Tensor {
    return (DTYPES as readonly string[]).includes(deviceOrDType) ? ops.cast(this, deviceOrDType as DType) : ops.toDevice(this, deviceOrDType);
  }
  /** Copy to another device, reading asynchronously: works from every device (GPU to CPU too). */
  toAsync(device: Device): Promise<Tensor> {
    return ops.toAsync(this, device);
  }
  /** Cast to another dtype (returns this tensor if it has that dtype). */
  cast(dtype: DType): Tensor {
    return ops.cast(this, dtype);
  }
  /** A copy with its own storage (recorded by autograd). */
  clone(): Tensor {
    return ops.clone(this);
  }
  /** This tensor if contiguous, else a contiguous copy. */
  contiguous(): Tensor {
    return this.isContiguous() ? this : ops.contiguous(this);
  }

  // ---- chained ops (the functions in ops/ are the definitions) ------------------------------
  /** The method form of the function `add`. */
  add(other: ops.TensorLike): Tensor { return ops.add(this, other); }
  /** The method form of the function `sub`. */
  sub(other: ops.TensorLike): Tensor { return ops.sub(this, other); }
  /** The method form of the function `mul`. */
  mul(other: ops.TensorLike): Tensor { return ops.mul(this, other); }
  /** The method form of the function `div`. */
  div(other: ops.TensorLike): Tensor { return ops.div(this, other); }
  /** The method form of the function `pow`. */
  pow(exponent: ops.TensorLike): Tensor { return ops.pow(this, exponent); }
  /** The method form of the function `maximum`. */
  maximum(other: ops.TensorLike): Tensor { return ops.maximum(this, other); }
  /** The method form of the function `minimum`. */
  minimum(other: ops.TensorLike): Tensor { return ops.minimum(this, other); }
  /** The method form of the function `eq`. */
  eq(other: ops.TensorLike): Tensor { return ops.eq(this, other); }
  /** The method form of the function `ne`. */
  ne(other: ops.TensorLike): Tensor { return ops.ne(this, other); }
  /** The method form of the function `lt`. */
  lt(other: ops.TensorLike): Tensor { return ops.lt(this, other); }
  /** The method form of the function `le`. */
  le(other: ops.TensorLike): Tensor { return ops.le(this, other); }
  /** The method form of the function `gt`. */
  gt(other: ops.TensorLike): Tensor { return ops.gt(this, other); }
  /** The method form of the function `ge`. */
  ge(other: ops.TensorLike): Tensor { return ops.ge(this, other); }
  /** The method form of the function `neg`. */
  neg(): Tensor { return ops.neg(this); }
  /** The method form of the function `abs`. */
  abs(): Tensor { return ops.abs(this); }
  /** The method form of the function `exp`. */
  exp(): Tensor { return ops.exp(this); }
  /** The method form of the function `log`. */
  log(): Tensor { return ops.log(this); }
  /** The method form of the function `sqrt`. */
  sqrt(): Tensor { return ops.sqrt(this); }
  /** The method form of the function `tanh`. */
  tanh(): Tensor { return ops.tanh(this); }
  /** The method form of the function `sigmoid`. */
  sigmoid(): Tensor { return ops.sigmoid(this); }
  /** The method form of the function `relu`. */
  relu(): Tensor { return ops.relu(this); }
  /** The method form of the function `sign`. */
  sign(): Tensor { return ops.sign(this); }
  /** The method form of the function `square`. */
  square(): Tensor { return ops.square(this); }
  /** The method form of the function `clamp`. */
  clamp(min?: number, max?: number): Tensor { return ops.clamp(this, min, max); }
  /** This tensor where `condition` holds, else `other` (the function `where`). */
  where(condition: Tensor, other: ops.TensorLike): Tensor { return ops.where(condition, this, other); }
  // issue 16: math, rounding, tests, masking, triangles, any/all
  /** The method form of the function `sin`. */
  sin(): Tensor { return ops.sin(this); }
  /** The method form of the function `cos`. */
  cos(): Tensor { return ops.cos(this); }
  /** The method form of the function `erf`. */
  erf(): Tensor { return ops.erf(this); }
  /** The method form of the function `log1p`. */
  log1p(): Tensor { return ops.log1p(this); }
  /** The method form of the function `expm1`. */
  expm1(): Tensor { return ops.expm1(this); }
  /** The method form of the function `floor`. */
  floor(): Tensor { return ops.floor(this); }
  /** The method form of the function `ceil`. */
  ceil(): Tensor { return ops.ceil(this); }
  /** The method form of the function `round`. */
  round(decimals = 0): Tensor { return ops.round(this, decimals); }
  /** The method form of the function `isnan`. */
  isnan(): Tensor { return ops.isnan(this); }
  /** The method form of the function `isfinite`. */
  isfinite(): Tensor { return ops.isfinite(this); }
  /** atan2(this, other): this is y, other is x (the function `atan2`). */
  atan2(other: ops.TensorLike): Tensor { return ops.atan2(this, other); }
  /** The method form of the function `maskedFill`. */
  maskedFill(mask: Tensor, value: ops.TensorLike): Tensor { return ops.maskedFill(this, mask, value); }
  /** Write `value` where `mask` is true, in place (the mask broadcasts to this tensor's shape). */
  maskedFill_(mask: Tensor, value: ops.TensorLike): this { return ops.maskedFillInPlace(this, mask, value); }
  /** The method form of the function `tril`. */
  tril(diagonal = 0): Tensor { return ops.tril(this, diagonal); }
  /** The method form of the function `triu`. */
  triu(diagonal = 0): Tensor { return ops.triu(this, diagonal); }
  /** The method form of the function `any`. */
  any(dim?: number | number[], keepdim = false): Tensor { return ops.any(this, dim, keepdim); }
  /** The method form of the function `all`. */
  all(dim?: number | number[], keepdim = false): Tensor { return ops.all(this, dim, keepdim); }
  /** The method form of the function `sum`. */
  sum(dim?: number | number[], keepdim = false): Tensor { return ops.sum(this, dim, keepdim); }
  /** The method form of the function `mean`. */
  mean(dim?: number | number[], keepdim = false): Tensor { return ops.mean(this, dim, keepdim); }
  /** The method form of the function `max`. */
  max(dim?: number | number[], keepdim = false): Tensor { return ops.max(this, dim, keepdim); }
  /** The method form of the function `min`. */
  min(dim?: number | number[], keepdim = false): Tensor { return ops.min(this, dim, keepdim); }
  /** The method form of the function `argmax`. */
  argmax(dim?: number, keepdim = false): Tensor { return ops.argmax(this, dim, keepdim); }
  /** The method form of the function `argmin`. */
  argmin(dim?: number, keepdim = false): Tensor { return ops.argmin(this, dim, keepdim); }
  /** The method form of the function `logsumexp`. */
  logsumexp(dim: number | number[], keepdim = false): Tensor { return ops.logsumexp(this, dim, keepdim); }
  /** The method form of the function `softmax`. */
  softmax(dim: number): Tensor { return ops.softmax(this, dim); }
  /** The method form of the function `logSoftmax`. */
  logSoftmax(dim: number): Tensor { return ops.logSoftmax(this, dim); }
  /** The method form of the function `matmul`. */
  matmul(other: Tensor): Tensor { return ops.matmul(this, other); }
  /** The method form of the function `gather`. */
  gather(dim: number, index: Tensor): Tensor { return ops.gather(this, dim, index); }
  /** The method form of the function `scatterAdd`. */
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor { return ops.scatterAdd(this, dim, index, src); }
  /** The method form of the function `indexSelect`. */
  indexSelect(dim: number, index: Tensor): Tensor { return ops.indexSelect(this, dim, index); }
  /** The method form of the function `reshape`; the shape may be given as arguments or one array. */
  reshape(...shape: number[] | [number[]]): Tensor { return ops.reshape(this, flatArgs(shape)); }
  /** The method form of the function `view`; the shape may be given as arguments or one array. */
  view(...shape: number[] | [number[]]): Tensor { return ops.view(this, flatArgs(shape)); }
  /** The method form of the function `transpose`. */
  transpose(dim0: number, dim1: number): Tensor { return ops.transpose(this, dim0, dim1); }
  /** The 2-D transpose (a view), as torch's `.T` on matrices. */
  get T(): Tensor { return ops.transpose(this, 0, 1); }
  /** The method form of the function `permute`. */
  permute(...dims: number[] | [number[]]): Tensor { return ops.permute(this, flatArgs(dims)); }
  /** The method form of the function `expand`. */
  expand(...shape: number[] | [number[]]): Tensor { return ops.expand(this, flatArgs(shape)); }
  /** The method form of the function `narrow`. */
  narrow(dim: number, start: number, length: number): Tensor { return ops.narrow(this, dim, start, length); }
  /** The method form of the function `slice`. */
  slice(dim: number, start?: number, end?: number, step?: number): Tensor { return ops.slice(this, dim, start, end, step); }
  /** The method form of the function `squeeze`. */
  squeeze(dim?: number | number[]): Tensor { return ops.squeeze(this, dim); }
  /** The method form of the function `unsqueeze`. */
  unsqueeze(dim: number): Tensor { return ops.unsqueeze(this, dim); }
  /** The method form of the function `flatten`. */
  flatten(startDim = 0, endDim = -1): Tensor { return ops.flatten(this, startDim, endDim); }
  // issue 16, shape ops: indexing views, masked selection, copies that rearrange, sampling
  /** The method form of the function `select`: `x.select(0, i)` is torch's `x[i]` (a view). */
  select(dim: number, index: number): Tensor { return ops.select(this, dim, index); }
  /** The method form of the function `index`: `x.index(i, j)` is torch's `x[i, j]` (a view). */
  index(...indices: number[]): Tensor { return ops.index(this, ...indices); }
  /** The method form of the function `split`. */
  split(splitSize: number | readonly number[], dim = 0): Tensor[] { return ops.split(this, splitSize, dim); }
  /** The method form of the function `chunk`. */
  chunk(chunks: number, dim = 0): Tensor[] { return ops.chunk(this, chunks, dim); }
  /** The method form of the function `unbind`. */
  unbind(dim = 0): Tensor[] { return ops.unbind(this, dim); }
  /** The method form of the function `maskedSelect` (CPU; `maskedSelectAsync` works on every device). */
  maskedSelect(mask: Tensor): Tensor { return ops.maskedSelect(this, mask); }
  /** The method form of the function `repeat`; the repeats may be given as arguments or one array. */
  repeat(...repeats: number[] | [number[]]): Tensor { return ops.repeat(this, flatArgs(repeats)); }
  /** The method form of the function `tile`; the reps may be given as arguments or one array. */
  tile(...reps: number[] | [number[]]): Tensor { return ops.tile(this, flatArgs(reps)); }
  /** The method form of the function `flip`; the dims may be given as arguments or one array. */
  flip(...dims: number[] | [number[]]): Tensor { return ops.flip(this, flatArgs(dims)); }
  /** The method form of the function `roll`. */
  roll(shifts: number | readonly number[], dims?: number | readonly number[]): Tensor { return ops.roll(this, shifts, dims); }
  /** The method form of the function `multinomial`. */
  multinomial(numSamples: number, options?: ops.MultinomialOptions): Tensor { return ops.multinomial(this, numSamples, options); }
  // issue 16: scans, products, statistics, sorting, batched products (definitions in ops/)
  /** The method form of the function `cumsum`. */
  cumsum(dim: number): Tensor { return ops.cumsum(this, dim); }
  /** The method form of the function `cumprod`. */
  cumprod(dim: number): Tensor { return ops.cumprod(this, dim); }
  /** The method form of the function `prod`. */
  prod(dim?: number, keepdim = false): Tensor { return ops.prod(this, dim, keepdim); }
  /** The method form of the function `var` (torch's `x.var(dim, correction=..., keepdim=...)`). */
  var(dim?: number | number[], options?: ops.VarOptions): Tensor { return ops.var(this, dim, options); }
  /** The method form of the function `std`. */
  std(dim?: number | number[], options?: ops.VarOptions): Tensor { return ops.std(this, dim, options); }
  /** The method form of the function `norm`. */
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor { return ops.norm(this, p, dim, keepdim); }
  /** The method form of the function `maxWithIndices` (torch's `x.max(dim)`). */
  maxWithIndices(dim: number, keepdim = false): ops.ValuesIndices { return ops.maxWithIndices(this, dim, keepdim); }
  /** The method form of the function `minWithIndices` (torch's `x.min(dim)`). */
  minWithIndices(dim: number, keepdim = false): ops.ValuesIndices { return ops.minWithIndices(this, dim, keepdim); }
  /** The method form of the function `sort`. */
  sort(dim = -1, descending = false): ops.ValuesIndices { return ops.sort(this, dim, descending); }
  /** The method form of the function `argsort`. */
  argsort(dim = -1, descending = false): Tensor { return ops.argsort(this, dim, descending); }
  /** The method form of the function `topk`. */
  topk(k: number, dim = -1, largest = true, sorted = true): ops.ValuesIndices { return ops.topk(this, k, dim, largest, sorted); }
  /** The method form of the function `bmm`. */
  bmm(other: Tensor): Tensor { return ops.bmm(this, other); }
  /** The method form of the function `baddbmm` (this tensor is `input`). */
  baddbmm(batch1: Tensor, batch2: Tensor, options?: ops.BaddbmmOptions): Tensor { return ops.baddbmm(this, batch1, batch2, options); }
  /** The method form of the function `outer`. */
  outer(other: Tensor): Tensor { return ops.outer(this, other); }
  /** The method form of the function `diagonal`. */
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor { return ops.diagonal(this, offset, dim1, dim2); }
  // in place (for optimizers and initialisers; not recorded by autograd)
  /** Copy `src` (broadcast, converted) into this tensor, in place. */
  copy_(src: ops.TensorLike): this { return ops.copyInto(this, src); }
  /** Fill with 0, in place. */
  zero_(): this { return ops.copyInto(this, 0, 'zero_'); }
  /** Fill with `value`, in place. */
  fill_(value: number): this { return ops.copyInto(this, value, 'fill_'); }
  /** this = this + other, in place. */
  add_(other: ops.TensorLike): this { return ops.binaryInPlace(this, 'add', other); }
  /** this = this - other, in place. */
  sub_(other: ops.TensorLike): this { return ops.binaryInPlace(this, 'sub', other); }
  /** this = this * other, in place. */
  mul_(other: ops.TensorLike): this { return ops.binaryInPlace(this, 'mul', other); }
  /** this = this / other, in place. */
  div_(other: ops.TensorLike): this { return ops.binaryInPlace(this, 'div', other); }
}

function flatArgs(args: number[] | [number[]]): number[] {
  return Array.isArray(args[0]) ? (args[0] as number[]) : (args as number[]);
}

function autogradFree<T>(fn: () => T): T {
  const hooks = autograd;
  if (!hooks) return fn();
  autograd = undefined;
  try {
    return fn();
  } finally {
    autograd = hooks;
  }
}

// a float16/bfloat16 tensor's values are its bit patterns widened to float32 (exactly)
function values(dtype: DType, raw: TypedArray): TypedArray {
  return isHalf(dtype) ? widenHalf(dtype, raw as Uint16Array) : raw;
}

function nest(data: TypedArray, shape: Shape, dtype: DType): NestedArray {
  const conv = dtype === 'bool' ? (v: number) => v !== 0 : (v: number) => v;
  if (shape.length === 0) return conv(data[0]!);
  let i = 0;
  const build = (d: number): NestedArray[] => {
    const out: NestedArray[] = [];
    for (let j = 0; j < shape[d]!; j++) out.push(d === shape.length - 1 ? conv(data[i++]!) : build(d + 1));
    return out;
  };
  return build(0);
}
