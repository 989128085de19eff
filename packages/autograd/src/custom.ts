import {
  allocArray, autogradHooks, bytesPerElement, checkDType, checkShape, defineOp, DeviceError, dispatch, fmt, hasKernel, isTensor,
  listOps, registerKernel, ShapeError, shapesEqual, TapegradError, tidy, ValueError,
  type Device, type DType, type OutputSpec, type Shape, type Tensor, type TensorView, type TypedArray,
} from '@tapegrad/tensor';
import { hasGradient, isGradEnabled, noGrad, registerGradient, type GradContext } from './tape.js';

// Users extend tapegrad here, through the same registry the core ops use: a composite op is a
// forward and a backward written with tensor ops, recorded on the tape as one node; a kernel op
// is a real op (defineOp + a kernel per backend + a gradient rule) that `dispatch` runs.

/** The gradients a backward returns: one per forward argument, null where there is none. */
export type Gradients = Tensor | readonly (Tensor | null | undefined)[];

function claimName(api: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '') throw new ValueError(`${api}: name must be a non-empty string; got ${String(name)}`);
  if (listOps().includes(name) || hasGradient(name)) {
    throw new TapegradError(`${api}: an op named '${name}' is already registered; give each custom op a unique name (e.g. 'myproject.${name}')`);
  }
}

/**
 * Check what a backward returned against its op's inputs and keep the gradients autograd
 * needs: a clear error for a wrong count, a wrong shape, or a gradient where none can flow.
 */
function checkGradients(op: string, returned: Gradients, inputs: readonly { shape?: Shape; isTensor: boolean }[], needs: readonly boolean[]): (Tensor | null)[] {
  const list = isTensor(returned) ? [returned] : returned;
  if (!Array.isArray(list)) {
    throw new TapegradError(`${op}: backward must return a Tensor or an array of gradients (one per forward argument); got ${typeof returned}`);
  }
  // entries past the arguments given may only be empty: they stand for omitted optional arguments
  if (list.length < inputs.length || list.slice(inputs.length).some((g) => g !== null && g !== undefined)) {
    throw new TapegradError(`${op}: backward returned ${list.length} gradient(s) but forward took ${inputs.length} argument(s); return one per argument (null where there is none)`);
  }
  return list.slice(0, inputs.length).map((g: unknown, i) => {
    if (g === null || g === undefined) return null;
    if (!isTensor(g)) throw new TapegradError(`${op}: backward returned a ${typeof g} as the gradient of argument ${i}; expected a Tensor, null or undefined`);
    const input = inputs[i]!;
    if (!input.isTensor) throw new TapegradError(`${op}: backward returned a gradient for argument ${i}, which is not a tensor; return null there`);
    if (!shapesEqual(g.shape, input.shape!)) {
      throw new ShapeError(`${op}: backward returned a gradient of shape ${fmt(g.shape)} for argument ${i} of shape ${fmt(input.shape!)}`);
    }
    return needs[i] ? g : null;
  });
}

// ---- composite ops ---------------------------------------------------------------------------

/**
 * The context a composite op's forward and backward share, as `ctx` in torch.autograd.Function.
 */
export class FunctionCtx {
  /** Whether each forward argument needs a gradient (false for non-tensor arguments). */
  readonly needsInputGrad: readonly boolean[];
  /** Non-tensor values forward hands to backward (dims, flags, scalars). */
  readonly state: Record<string, any>;
  private saved: readonly Tensor[] = [];
  /** @internal outputs marked by markNonDifferentiable */
  readonly nonDifferentiable = new Set<Tensor>();

  /** @internal */
  constructor(needsInputGrad: readonly boolean[], state: Record<string, any> = {}, saved: readonly Tensor[] = []) {
    this.needsInputGrad = needsInputGrad;
    this.state = state;
    this.saved = saved;
  }
  /** Keep tensors for backward (inputs, outputs or intermediates); they outlive `tidy`. */
  saveForBackward(...tensors: Tensor[]): void {
    for (const [i, t] of tensors.entries()) {
      if (!isTensor(t)) throw new TapegradError(`saveForBackward: argument ${i} is not a Tensor (keep other values in ctx.state)`);
      t.assertLive('saveForBackward');
    }
    this.saved = tensors;
  }
  /** The tensors given to saveForBackward, in order. */
  get savedTensors(): readonly Tensor[] {
    return this.saved;
  }
  /** Declare outputs that carry no gradient (indices, masks): they never require grad. */
  markNonDifferentiable(...outputs: Tensor[]): void {
    for (const o of outputs) this.nonDifferentiable.add(o);
  }
}

/** A composite op: forward and backward written with tensor ops. */
export interface CompositeOpDef<Args extends unknown[], Out extends Tensor | readonly Tensor[]> {
  /** Unique op name, used in errors and on the tape. */
  readonly name: string;
  /** Compute the outputs (runs without recording: the op is one node on the tape). */
  forward(ctx: FunctionCtx, ...args: Args): Out;
  /**
   * Given the gradient of each output (zeros where an output was unused), return the gradient
   * of each forward argument: a Tensor of that argument's shape, or null where there is none
   * (non-tensor arguments, inputs whose `ctx.needsInputGrad` is false).
   */
  backward(ctx: FunctionCtx, ...grads: Tensor[]): Gradients;
}

// What a recorded composite node keeps for backward (not the forward's ctx: it holds outputs).
interface CompositeAttrs {
  needsInputGrad: readonly boolean[];
  state: Record<string, any>;
  args: readonly { shape?: Shape; isTensor: boolean }[];
  /** inputs recorded on the tape: the tensor arguments, then the saved tensors */
  tensorArgs: readonly number[];
}

/**
 * Define an op from a forward and a backward written with tensor ops, like
 * `torch.autograd.Function`. Returns the function to call; arguments may mix tensors and other
 * values, and forward may return one tensor or several.
 *
 * @example
 * ```ts
 * const cube = customOp({
 *   name: 'cube',
 *   forward(ctx, x: Tensor) { ctx.saveForBackward(x); return x.mul(x).mul(x); },
 *   backward(ctx, g) { const [x] = ctx.savedTensors; return [g.mul(x!.square()).mul(3)]; },
 * });
 * ```
 */
export function customOp<Args extends unknown[], Out extends Tensor | readonly Tensor[]>(def: CompositeOpDef<Args, Out>): (...args: Args) => Out {
  const { name } = def;
  claimName('customOp', name);
  if (typeof def.forward !== 'function' || typeof def.backward !== 'function') {
    throw new ValueError(`customOp: op '${name}' needs forward and backward functions`);
  }
  registerGradient<CompositeAttrs>(name, {
    saveInputs: ({ tensorArgs }, inputs) => inputs.map((_, i) => i).slice(tensorArgs.length),
    backward(c: GradContext<CompositeAttrs>, grads) {
      const { needsInputGrad, state, args, tensorArgs } = c.attrs;
      const saved = c.inputs.slice(tensorArgs.length) as Tensor[];
      const returned = def.backward(new FunctionCtx(needsInputGrad, state, saved), ...grads);
      const perArg = checkGradients(name, returned, args, needsInputGrad);
      return [...tensorArgs.map((a) => perArg[a]), ...saved.map(() => null)];
    },
  });
  return (...args: Args): Out =>
    tidy(() => {
      const tensorArgs = args.flatMap((a, i) => (isTensor(a) ? [i] : []));
      const tensors = tensorArgs.map((i) => args[i] as Tensor);
      for (const t of tensors) t.assertLive(name);
      const record = isGradEnabled() && tensors.some((t) => t.requiresGrad);
      const ctx = new FunctionCtx(args.map((a) => isTensor(a) && a.requiresGrad && record));
      const result = noGrad(() => def.forward(ctx, ...args));
      const single = isTensor(result);
      if (!single && !Array.isArray(result)) throw new TapegradError(`${name}: forward must return a Tensor or an array of Tensors; got ${typeof result}`);
      const seen = new Set<Tensor>(tensors);
      const returned = single ? [result] : [...(result as readonly Tensor[])];
      const outputs = returned.map((o, k) => {
        if (!isTensor(o)) throw new TapegradError(`${name}: forward must return a Tensor or an array of Tensors; output ${k} is ${typeof o}`);
        // an input (or an output twice) becomes a new tensor, so recording never rewrites another's gradFn
        const out = seen.has(o) ? o.detach() : o;
        seen.add(o);
        return out;
      });
      if (record) {
        const attrs: CompositeAttrs = {
          needsInputGrad: ctx.needsInputGrad,
          state: ctx.state,
          args: args.map((a) => (isTensor(a) ? { shape: a.shape, isTensor: true } : { isTensor: false })),
          tensorArgs,
        };
        // saved tensors ride along as extra inputs that need no gradient; the tape keeps and frees them
        autogradHooks()!.record(name, [...tensors, ...ctx.savedTensors.map((t) => t.detach())], outputs, attrs);
        outputs.forEach((o, k) => {
          if (ctx.nonDifferentiable.has(returned[k]!)) {
            o.requiresGrad = false;
            o.gradFn = null;
          }
        });
      }
      return (single ? outputs[0] : outputs) as Out;
    });
}

// ---- kernel ops ------------------------------------------------------------------------------

/** What a CPU kernel sees of a tensor: a typed array and how to index it. */
export type CpuTensorView = TensorView<TypedArray>;
/**
 * A CPU kernel, the same shape backend-cpu's kernels have: read the inputs, write the outputs.
 * Inputs are contiguous (element i of `x` is `x.handle[x.offset + i]`); outputs are contiguous,
 * zero-filled and start at offset 0. Index by shape, never by `handle.length`.
 */
export type CustomCpuKernel<A = any> = (inputs: readonly CpuTensorView[], outputs: readonly CpuTensorView[], attrs: A) => void;

/**
 * A WebGPU kernel as plain data. `kernelOp` turns it into the program `@tapegrad/backend-webgpu`
 * runs: one dispatch of `ceil(workItems / workgroupSize)` workgroups, which the backend folds into
 * a 2-D grid (at most 65535 along x), so work item `i` is
 * `(wg.x + wg.y * nwg.x) * workgroupSize + lid` (`workgroup_id`, `num_workgroups`,
 * `local_invocation_index`).
 *
 * The shader's bindings, all in `@group(0)`, in order: each input as
 * `var<storage, read> array<T>`, each output as `var<storage, read_write> array<T>` (T is f32 for
 * float32, i32 for int32, u32 for bool; WebGPU has no float64), then `md`, a
 * `var<storage, read> array<u32>`: `md[0]` is the number of work items, `md[1]` belongs to the
 * backend, and the `params` follow from `md[2]` (an f32 or i32 as its bits: `bitcast<f32>(md[2])`).
 * The entry point is `main`. Outputs are not zero-filled on WebGPU: write every element.
 */
export interface WgslKernel<A = any> {
  /** WGSL source; a function of the call when it depends on it (each distinct source compiles once). */
  readonly wgsl: string | ((inputs: readonly TensorView[], outputs: readonly TensorView[], attrs: A) => string);
  /** Threads per workgroup: the `@workgroup_size` in the source. */
  readonly workgroupSize: number;
  /** How many work items (threads) the call needs, e.g. the output's element count. */
  readonly workItems: (inputs: readonly TensorView[], outputs: readonly TensorView[], attrs: A) => number;
  /** Values the shader reads from `md[2]` on: sizes, input offsets, scalars. */
  readonly params?: (inputs: readonly TensorView[], outputs: readonly TensorView[], attrs: A) => readonly WgslParam[];
}
/** One value of a WGSL kernel's `md` words. */
export interface WgslParam {
  readonly type: 'u32' | 'i32' | 'f32';
  readonly value: number;
}
/** One compute dispatch, in the form `@tapegrad/backend-webgpu` encodes (its `Program`). */
export interface WgslProgram {
  /** Pipeline cache key. */
  readonly key: string;
  /** The shader source (called only when the pipeline cache misses). */
  readonly wgsl: () => string;
  /** The input buffers, bound first. */
  readonly inputs: readonly unknown[];
  /** The output buffers, bound after the inputs. */
  readonly outputs: readonly unknown[];
  /** The `md` words. */
  readonly meta: number[];
  /** How many workgroups to run (the backend folds them into a 2-D grid). */
  readonly workgroups: number;
}

const f32Word = new Float32Array(1);
const wordOf = ({ type, value }: WgslParam): number => {
  if (type === 'f32') {
    f32Word[0] = value;
    return new Uint32Array(f32Word.buffer)[0]!;
  }
  return value >>> 0;
};

/** The WebGPU backend's kernel form for a WgslKernel: the views in, one program out. */
function wgslKernel<A>(name: string, spec: WgslKernel<A>) {
  if (!['string', 'function'].includes(typeof spec.wgsl) || typeof spec.workItems !== 'function' || !(Number.isInteger(spec.workgroupSize) && spec.workgroupSize > 0)) {
    throw new ValueError(`kernelOp: the webgpu kernel of '${name}' needs wgsl (source or a function returning it), workgroupSize (a positive integer) and workItems`);
  }
  if (typeof spec.wgsl === 'string' && !new RegExp(`@workgroup_size\\(\\s*${spec.workgroupSize}\\s*[,)]`).test(spec.wgsl)) {
    throw new ValueError(`kernelOp: the webgpu kernel of '${name}' says workgroupSize ${spec.workgroupSize}, but its WGSL has no @workgroup_size(${spec.workgroupSize})`);
  }
  return (inputs: readonly TensorView[], outputs: readonly TensorView[], attrs: A): WgslProgram[] => {
    const source = typeof spec.wgsl === 'string' ? spec.wgsl : spec.wgsl(inputs, outputs, attrs);
    const items = spec.workItems(inputs, outputs, attrs);
    return [
      {
        key: `${name}\n${source}`,
        wgsl: () => source,
        inputs: inputs.map((v) => v.handle),
        outputs: outputs.map((v) => v.handle),
        meta: [items, 0, ...(spec.params?.(inputs, outputs, attrs) ?? []).map(wordOf)],
        workgroups: Math.ceil(items / spec.workgroupSize),
      },
    ];
  };
}

/** The saved tensors and facts a kernel op's backward sees. */
export interface KernelGradCtx<A = any> {
  readonly attrs: A;
  /** The inputs listed in `save.inputs` (undefined elsewhere). */
  readonly inputs: readonly (Tensor | undefined)[];
  /** The outputs, when `save.outputs` is set. */
  readonly outputs: readonly Tensor[];
  /** Whether each input needs a gradient; compute only those. */
  readonly needsInputGrad: readonly boolean[];
}

/** An op with its own kernels: inference, a kernel per backend, and a gradient. */
export interface KernelOpDef<A> {
  /** Unique op name, used in errors, on the tape and as the kernel registry key. */
  readonly name: string;
  /** Validate the inputs and attrs (throw a TapegradError naming the problem) and return each output's shape and dtype. */
  readonly infer: (inputs: readonly Tensor[], attrs: A) => OutputSpec[];
  /** The CPU kernel. */
  readonly cpu?: CustomCpuKernel<A>;
  /** The WebGPU kernel (WGSL and how to size its dispatch). */
  readonly webgpu?: WgslKernel<A>;
  /** Kernels for other backends, in the form each backend runs, keyed by backend name. */
  readonly kernels?: Readonly<Record<string, unknown>>;
  /** What backward needs: the inputs (all, or their indices) and whether the outputs. */
  readonly save?: { inputs?: boolean | readonly number[]; outputs?: boolean };
  /**
   * The gradient of each input from the gradient of each output, written with tensor ops (which
   * may call another kernel op); null where none is needed. Without it the op still records,
   * and backward through it fails naming the op, unless `differentiable` is false.
   */
  readonly backward?: (ctx: KernelGradCtx<A>, ...grads: Tensor[]) => Gradients;
  /** False for ops whose outputs never carry gradient (default true). */
  readonly differentiable?: boolean;
}

/** Call a kernel op: its tensor inputs, then its attrs (when it takes any). */
export type KernelOp<A, Out extends Tensor | Tensor[] = Tensor> = ((...args: Tensor[] | [...Tensor[], A]) => Out) & { readonly opName: string };

// Bytes after a CPU kernel's outputs that a kernel writing out of bounds would hit.
const GUARD_ELEMENTS = 16;
const GUARD_BYTE = 0xa5;

/** Run the user's kernel on guarded copies of the outputs, so a write past the end is an error, not lost data. */
function guardedCpuKernel<A>(name: string, kernel: CustomCpuKernel<A>) {
  return (inputs: readonly CpuTensorView[], outputs: readonly CpuTensorView[], attrs: A): void => {
    const scratch = outputs.map((o) => allocArray(o.dtype, o.handle.length + GUARD_ELEMENTS));
    const guards = scratch.map((s, k) => new Uint8Array(s.buffer, outputs[k]!.handle.length * bytesPerElement(outputs[k]!.dtype)).fill(GUARD_BYTE));
    kernel(inputs, outputs.map((o, k) => ({ ...o, handle: scratch[k]! })), attrs);
    outputs.forEach((o, k) => {
      if (guards[k]!.some((b) => b !== GUARD_BYTE)) {
        throw new ShapeError(
          `${name}: the cpu kernel wrote past the end of output ${k} (shape ${fmt(o.shape)}, ${o.handle.length} elements): ` +
            "its loop bounds disagree with the output shape that infer returned (loop over the view's shape, not handle.length)",
        );
      }
      o.handle.set(scratch[k]!.subarray(0, o.handle.length));
    });
  };
}

/**
 * Define an op with its own kernels. The returned function makes its inputs contiguous and
 * calls `dispatch`, which runs the kernel of the backend the inputs are on. It returns the
 * output, or the array of outputs when `infer` gives several.
 */
export function kernelOp<A = undefined, Out extends Tensor | Tensor[] = Tensor>(def: KernelOpDef<A>): KernelOp<A, Out> {
  const { name } = def;
  claimName('kernelOp', name);
  if (typeof def.infer !== 'function') throw new ValueError(`kernelOp: op '${name}' needs an infer function (output shapes and dtypes)`);
  const kernels: Record<string, unknown> = { ...def.kernels };
  if (def.cpu) kernels.cpu = guardedCpuKernel(name, def.cpu);
  if (def.webgpu) kernels.webgpu = wgslKernel(name, def.webgpu);
  if (Object.keys(kernels).length === 0) throw new ValueError(`kernelOp: op '${name}' needs at least one kernel (cpu, webgpu or kernels)`);

  defineOp<A>({
    name,
    differentiable: def.differentiable,
    infer: (inputs, attrs) => {
      const specs = def.infer(inputs, attrs);
      if (!Array.isArray(specs) || specs.length === 0) throw new ValueError(`${name}: infer must return a non-empty array of { shape, dtype }`);
      return specs.map((s, k) => ({ shape: checkShape(`${name} (infer, output ${k})`, s?.shape), dtype: checkDType(name, `infer output ${k} dtype`, s?.dtype) }));
    },
  });
  for (const [device, kernel] of Object.entries(kernels)) registerKernel(name, device as Device, kernel);
  const { backward } = def;
  if (backward) {
    const saveInputs = def.save?.inputs ?? false;
    registerGradient<A>(name, {
      saveInputs,
      saveOutputs: def.save?.outputs ?? false,
      backward: (c, grads) => {
        const ctx: KernelGradCtx<A> = { attrs: c.attrs, inputs: c.inputs, outputs: c.outputs, needsInputGrad: c.needsGrad };
        return checkGradients(name, backward(ctx, ...grads), c.inputShapes.map((shape) => ({ shape, isTensor: true })), c.needsGrad);
      },
    });
  }

  const op = (...args: unknown[]): Out => {
    const last = args[args.length - 1];
    const attrs = (args.length > 0 && !isTensor(last) ? args.pop() : undefined) as A;
    args.forEach((a, i) => {
      if (!isTensor(a)) throw new TapegradError(`${name}: argument ${i} is ${a === null ? 'null' : typeof a}; expected a Tensor (only the last argument may be attrs)`);
    });
    const inputs = args as Tensor[];
    const device = inputs[0]?.device;
    if (device !== undefined && inputs.every((t) => t.device === device) && !hasKernel(name, device)) {
      throw new DeviceError(`${name}: no kernel for backend '${device}'; this op has kernels for: ${Object.keys(kernels).join(', ')}`);
    }
    return tidy(() => {
      const outs = dispatch(name, inputs.map((t) => t.contiguous()), attrs);
      return (outs.length === 1 ? outs[0] : outs) as Out;
    });
  };
  return Object.assign(op, { opName: name }) as KernelOp<A, Out>;
}
