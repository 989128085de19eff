import { getBackend } from './backend.js';
import { DeviceError, TapegradError } from './errors.js';
import { getKernel, getOp, type ViewSpec } from './registry.js';
import { autogradHooks, Storage, Tensor } from './tensor.js';
import { contiguousStrides, fmt, numel } from './shape.js';
import { trace } from './compile/hooks.js';
import { autocastDispatch } from './autocast-region.js';

/**
 * The one path every op takes: validate and infer (or compute the view), check devices, pick
 * the kernel of the inputs' backend, allocate the outputs, run, and let autograd record.
 * `attrs` may be a function returning them: the op calls it once, and each replay of a compiled
 * function that traced this op calls it again (values that change between calls without changing
 * the graph, as an optimizer's learning rate and step count; `compile`).
 */
export function dispatch(name: string, inputs: readonly Tensor[], attrs: unknown = {}): Tensor[] {
  const op = getOp(name);
  // under autocast (issue 18) an op on its lists runs on cast inputs, once, with autocast suspended
  const cast = autocastDispatch(name, inputs, attrs, dispatch);
  if (cast) return cast;
  let live: (() => unknown) | undefined;
  if (typeof attrs === 'function') attrs = (live = attrs as () => unknown)();
  for (const t of inputs) t.assertLive(name);
  const device = inputs[0]?.device;
  for (const t of inputs) {
    if (t.device !== device) {
      throw new DeviceError(`${name}: expected all inputs on one device, but got inputs on '${device}' and '${t.device}'`);
    }
  }
  let outputs: Tensor[];
  if (op.view) {
    const input = inputs[0]!;
    const v = op.view(input, attrs);
    if (trace) {
      trace.see(input);
      trace.view();
    }
    input.storage.viewed = true;
    outputs = (Array.isArray(v) ? v : [v as ViewSpec]).map((s) => new Tensor(input.storage.retain(), s.shape, s.strides, s.offset, input.dtype));
  } else {
    const specs = op.infer!(inputs, attrs);
    if (device === undefined) throw new TapegradError(`${name}: an op needs at least one tensor input`);
    const backend = getBackend(device);
    const kernel = getKernel(name, device);
    // ops over a list of tensors (an optimizer's step of many parameters) say which they write per call
    const mutates = typeof op.mutates === 'function' ? op.mutates(inputs.length, attrs) : op.mutates;
    if (mutates) for (const i of mutates) if (inputs[i]) checkWritable(name, inputs[i]!);
    // a kernel that writes all of its outputs gets them unfilled: zero-filling costs a pass over memory
    const zero = !backend.fillsOutputs?.(kernel);
    outputs = specs.map((s) => new Tensor(Storage.alloc(device, s.dtype, numel(s.shape), zero, name), s.shape, contiguousStrides(s.shape), 0, s.dtype));
    const inViews = inputs.map((t) => t.kernelView());
    const outViews = outputs.map((t) => t.kernelView());
    try {
      backend.run(kernel, inViews, outViews, attrs, name);
    } catch (e) {
      for (const o of outputs) o.dispose();
      throw e;
    }
    trace?.kernel(name, backend, kernel, inputs, inViews, outputs, outViews, attrs, live, mutates);
    if (mutates) for (const i of mutates) if (inputs[i]) inputs[i]!.storage.version++;
  }
  const hooks = autogradHooks();
  if (hooks && op.differentiable !== false && hooks.isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    hooks.record(name, inputs, outputs, attrs);
  }
  return outputs;
}

/**
 * Refuse an in-place write that would corrupt the graph: a leaf that requires grad, written while
 * grad mode is on (it is where gradients accumulate; torch raises the same). Optimizers and
 * initialisers write under noGrad.
 */
export function checkWritable(op: string, t: Tensor): void {
  t.assertLive(op);
  if (t.requiresGrad && t.isLeaf && autogradHooks()?.isGradEnabled()) {
    throw new TapegradError(`${op}: a leaf tensor that requires grad (shape ${fmt(t.shape)}) cannot be modified in place while grad mode is on; do it under noGrad(), or on a clone`);
  }
}

/** dispatch for single-output ops. */
export function run(name: string, inputs: readonly Tensor[], attrs: unknown = {}): Tensor {
  return dispatch(name, inputs, attrs)[0]!;
}
