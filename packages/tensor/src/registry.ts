import type { Device } from './backend.js';
import type { DType } from './dtype.js';
import type { Shape } from './shape.js';
import type { Tensor } from './tensor.js';
import { TapegradError } from './errors.js';

/** Shape and dtype of one output, as an op's `infer` returns them. */
export interface OutputSpec {
  shape: Shape;
  dtype: DType;
}
/** How a view op indexes its input's storage. */
export interface ViewSpec {
  shape: Shape;
  strides: readonly number[];
  offset: number;
}

/**
 * One op, one definition: a name, input validation with output inference (or, for a view,
 * the new indexing of the input's storage). Kernels are registered per backend with
 * `registerKernel`; gradient rules by `registerGradient` in @tapegrad/autograd.
 */
export interface OpDef<A = any> {
  readonly name: string;
  /** Validate inputs and attrs; return the outputs' shapes and dtypes. */
  readonly infer?: (inputs: readonly Tensor[], attrs: A) => OutputSpec[];
  /**
   * A view op shares its single input's storage and needs no kernel: one ViewSpec per output (an
   * array for ops with several outputs, as split and unbind).
   */
  readonly view?: (input: Tensor, attrs: A) => ViewSpec | readonly ViewSpec[];
  /** Whether outputs can carry gradient (default true; comparisons and argmax say false). */
  readonly differentiable?: boolean;
  /**
   * Inputs the kernel writes in place (an optimizer step writes its parameter and state), by
   * index: dispatch bumps their version and refuses a leaf that requires grad outside noGrad. An
   * op over a list of tensors gives a function of the number of inputs and the attrs.
   */
  readonly mutates?: readonly number[] | ((inputs: number, attrs: A) => readonly number[]);
}

const ops = new Map<string, OpDef>();
// per device, per op: looked up on every dispatch, so without building a key string
const kernels = new Map<Device, Map<string, unknown>>();

/** Register an op definition; a name may be defined once. */
export function defineOp<A = any>(def: OpDef<NoInfer<A>>): OpDef<A> {
  if (ops.has(def.name)) {
    throw new TapegradError(`defineOp: an op named '${def.name}' is already registered (a second copy of @tapegrad/tensor, or a name clash)`);
  }
  if (!def.infer === !def.view) throw new TapegradError(`defineOp: op '${def.name}' needs exactly one of infer or view`);
  ops.set(def.name, def);
  return def;
}
/** The definition of the op `name`, or an error if none is defined. */
export function getOp(name: string): OpDef {
  const op = ops.get(name);
  if (!op) throw new TapegradError(`no op named '${name}' is defined`);
  return op;
}
/** The definition of the op `name`, or undefined (a backend asking about a name it was given, which may be an in-place form such as 'add_'). */
export function findOp(name: string): OpDef | undefined {
  return ops.get(name);
}
/** Names of every defined op (for coverage: which ones a backend has kernels for). */
export function listOps(): string[] {
  return [...ops.keys()];
}

/** Register the kernel of `op` on `device`, in the form that device's backend runs. */
export function registerKernel(op: string, device: Device, kernel: unknown): void {
  let byOp = kernels.get(device);
  if (!byOp) kernels.set(device, (byOp = new Map()));
  byOp.set(op, kernel);
}
/** The kernel of `op` on `device`, or an error naming both. */
export function getKernel(op: string, device: Device): unknown {
  const k = kernels.get(device)?.get(op);
  if (k === undefined) throw new TapegradError(`${op}: no kernel for this op on backend '${device}'`);
  return k;
}
/** Whether `op` has a kernel on `device`. */
export function hasKernel(op: string, device: Device): boolean {
  return kernels.get(device)?.has(op) ?? false;
}
