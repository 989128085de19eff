import type { DType, TypedArray } from './dtype.js';
import type { Shape } from './shape.js';
import { DeviceError } from './errors.js';
import type { ReplayProgram, Replayer } from './compile/replay.js';
import type { BackendFusion } from './compile/fuse.js';
import { trace } from './compile/hooks.js';
import type { Tensor } from './tensor.js';

/** A device name: 'cpu', 'webgpu', or the name of another registered backend. */
export type Device = 'cpu' | 'webgpu' | (string & {});

/** What a kernel sees of a tensor: its storage handle and how to index it. */
export interface TensorView<H = unknown> {
  readonly handle: H;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

/**
 * A backend owns memory and runs kernels. Kernels are plain data registered per (op, backend)
 * in the op registry; the backend only knows how to run the kind of kernel it accepts.
 */
export interface Backend<H = unknown, K = unknown> {
  readonly name: Device;
  /**
   * Storage for `length` elements: zero-filled, or left as it is when `zero` is false (the caller
   * writes every element before anything reads one).
   */
  alloc(dtype: DType, length: number, zero?: boolean): H;
  /**
   * The dtypes this backend cannot hold, each with the reason and what to do instead (WebGPU:
   * float64, float16, bfloat16). Allocating one is a DTypeError naming the op, before alloc runs.
   */
  readonly unsupportedDTypes?: Partial<Record<DType, string>>;
  /** Release storage that alloc returned. */
  free(handle: H, dtype: DType, length: number): void;
  /** Copy host data into storage. */
  write(handle: H, data: TypedArray): void;
  /** Copy `length` elements of storage out, resolving when the device has finished the work that writes them. */
  read(handle: H, dtype: DType, length: number): Promise<TypedArray>;
  /** Synchronous read, for backends that can (the CPU). */
  readSync?(handle: H, dtype: DType, length: number): TypedArray;
  /** Run one kernel: read the input views, write the (fresh, contiguous) output views. `op` names the op for error messages. */
  run(kernel: K, inputs: readonly TensorView<H>[], outputs: readonly TensorView<H>[], attrs: unknown, op: string): void;
  /**
   * Whether `kernel` writes every element of its outputs, so that dispatch need not zero-fill
   * them first (absent: every kernel's outputs are zero-filled; a kernel may rely on it).
   */
  fillsOutputs?(kernel: K): boolean;
  /**
   * Whether run() may be given, for an elementwise op, an output view identical to one input's
   * (add_, sub_, mul_, div_ then write in place through input 0, maskedFill_ through where's
   * input 2, with no temporary): true where kernels read each element before writing that same
   * element.
   */
  readonly elementwiseInPlace?: boolean;
  /** Bytes this backend holds in reserve (a buffer pool), for memory(). */
  pooledBytes?(): number;
  /**
   * Throw the error a kernel found in its input (an index out of range) if any of these handles
   * holds values computed from that kernel's output. For backends whose kernels report bad input
   * after run() returns (WebGPU); such a backend also starts checking work not yet checked, so
   * that a later call can throw. Optimizers call it, through `checkDeviceErrors`, before a step.
   */
  checkErrors?(handles: readonly H[]): void;
  /**
   * Prepare a compiled function's graph (`compile`) to run once per call, when every step runs on
   * this backend. Absent, the compiler's generic replayer calls {@link Backend.run} per kernel. A
   * backend that queues its work would build here what eager builds per dispatch (WebGPU: bind
   * groups, metadata) and encode each call as one batch. docs/compiler.md describes the program.
   */
  replayer?(program: ReplayProgram): Replayer;
  /**
   * Fusion of a compiled function's kernels (compile/fuse.ts): which ops this backend can merge,
   * and the kernel it makes of a group (one `run` call, its intermediates never stored). Absent,
   * nothing is fused on this backend.
   */
  readonly fusion?: BackendFusion;
}

/**
 * Throw the error a device found while computing any of these tensors (a GPU kernel that met an
 * index out of range finds it after the op has returned; the CPU throws at the op), and start
 * checking what the device has not checked yet. Optimizers call it before each step, so that a
 * step never applies gradients already known to be bad.
 */
export function checkDeviceErrors(tensors: readonly { readonly storage: { readonly backend: Backend; readonly handle: unknown }; readonly isDisposed: boolean }[]): void {
  const byBackend = new Map<Backend, unknown[]>();
  for (const t of tensors) {
    const b = t.storage.backend;
    if (!b.checkErrors || t.isDisposed) continue;
    let handles = byBackend.get(b);
    if (!handles) byBackend.set(b, (handles = []));
    handles.push(t.storage.handle);
  }
  for (const [b, handles] of byBackend) b.checkErrors!(handles);
  // a compiled step checks again at each replay, at the same point
  if (trace && byBackend.size) trace.check(tensors.filter((t) => t.storage.backend.checkErrors && !t.isDisposed) as unknown as readonly Tensor[]);
}

const backends = new Map<string, Backend>();
let defaultDevice: Device = 'cpu';

/** Make a backend available as a device (replacing one of the same name). */
export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}
/** Whether a backend of this name is registered. */
export function hasBackend(name: Device): boolean {
  return backends.has(name);
}
/** The backend of a device, or a DeviceError saying how to make it available. */
export function getBackend(name: Device): Backend {
  const b = backends.get(name);
  if (!b) {
    const hint = name === 'webgpu' ? ' (call `await initWebGPU()` first)' : name === 'cpu' ? " (import 'tapegrad' or '@tapegrad/backend-cpu')" : '';
    throw new DeviceError(`device '${name}' is not available${hint}; registered devices: ${[...backends.keys()].join(', ') || 'none'}`);
  }
  return b;
}
/** Names of the registered backends. */
export function listBackends(): Device[] {
  return [...backends.keys()];
}
/** Set the device creation functions use when no `device` is given. */
export function setDefaultDevice(name: Device): void {
  getBackend(name);
  defaultDevice = name;
}
/** The device creation functions use when no `device` is given ('cpu' unless set). */
export function getDefaultDevice(): Device {
  return defaultDevice;
}
